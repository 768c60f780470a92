"""Reconnect backoff per peer (sans-I/O): exponential, jittered, capped.

A peer whose link failed (a connect refused or timed out, a send that broke) is not dialled again
until its wait is over: ``base`` after the first failure, doubling with each further failure up to
``cap``, each wait scaled by a random factor in ``[1 - jitter, 1 + jitter]`` (so peers that failed
together do not all retry in the same instant) and never above ``cap``. A success forgets the
peer; so does hearing a frame from it (a frame proves a working connection, which the transport
reuses for our sends), which also opens the gate at once.

Without it, every core that sends to a peer that is down (the sync engine every round, HyParView
on each repair, SWIM's push-pull) makes the host dial it again at once: 15 failed connects in
about 5 s were seen for one dead neighbour. gRPC's connection backoff and Akka's retry gate have
the same shape.
"""

from __future__ import annotations

import random
from collections.abc import Hashable

from gossip._errors import ConfigError

__all__ = ["Backoff"]


class Backoff:
    """Failure counts and next-attempt times per peer."""

    __slots__ = ("_failures", "_ready", "base", "cap", "jitter", "rng")

    def __init__(self, base: float, cap: float, jitter: float, rng: random.Random) -> None:
        if not 0 <= base <= cap:
            raise ConfigError(f"need 0 <= base <= cap, got base={base}, cap={cap}")
        if not 0 <= jitter < 1:
            raise ConfigError(f"jitter must be in [0, 1), got {jitter}")
        self.base = base  # s, the wait after the first failure
        self.cap = cap  # s, the longest wait
        self.jitter = jitter  # relative spread of each wait
        self.rng = rng
        self._failures: dict[Hashable, int] = {}
        self._ready: dict[Hashable, float] = {}

    def __len__(self) -> int:
        return len(self._ready)

    def failures(self, peer: Hashable) -> int:
        return self._failures.get(peer, 0)

    def ready_at(self, peer: Hashable) -> float:
        """When ``peer`` may be tried again (``0.0``: at once)."""
        return self._ready.get(peer, 0.0)

    def failed(self, peer: Hashable, now: float) -> float:
        """Record a failure at ``now``; returns the wait before the next attempt."""
        n = self._failures.get(peer, 0) + 1
        self._failures[peer] = n
        wait = min(self.cap, self.base * 2.0 ** min(n - 1, 62))
        if self.jitter:
            wait *= self.rng.uniform(1 - self.jitter, 1 + self.jitter)
        wait = min(self.cap, wait)
        self._ready[peer] = now + wait
        return wait

    def succeeded(self, peer: Hashable) -> None:
        """The peer works: forget its failures."""
        self._failures.pop(peer, None)
        self._ready.pop(peer, None)
