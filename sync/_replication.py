"""Waiting for a consistency level: send a write directly to enough members, count their acks
(each one means "durably held there"), resend to the silent ones, give up at the timeout."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from functools import partial

import anyio

from gossip._events import Effect
from gossip.runtime import Host
from sync._consistency import Consistency, WriteAll, required
from sync._direct import DirectCore
from sync._errors import WriteTimeoutError

__all__ = ["Replication"]


class _Wait:
    __slots__ = ("acked", "event", "targets")

    def __init__(self) -> None:
        self.targets: set[str] = set()
        self.acked: set[str] = set()
        self.event = anyio.Event()


class Replication:
    """The writers waiting for replicas. ``alive()`` lists the other members alive now;
    ``neighbors()`` the active view (preferred targets: they get the delta anyway)."""

    def __init__(
        self,
        host: Host,
        core: DirectCore,
        *,
        self_addr: str,
        alive: Callable[[], Sequence[str]],
        neighbors: Callable[[], frozenset[str]],
        rng: random.Random,
        retry: float = 0.5,  # s between resends to targets that have not acked
    ) -> None:
        self._host = host
        self._core = core
        self._self = self_addr
        self._alive = alive
        self._neighbors = neighbors
        self._rng = rng
        self._retry = retry
        self._waits: dict[int, _Wait] = {}
        self._next = rng.getrandbits(32)
        self.sent = 0
        self.timeouts = 0

    def on_ack(self, src: str, req: int) -> None:
        w = self._waits.get(req)
        if w is not None and src in w.targets:
            w.acked.add(src)
            w.event.set()

    def _send(
        self, dst: str, req: int, objects: list[tuple[str, bytes]], _now: float
    ) -> list[Effect]:
        return self._core.write(dst, req, objects)

    def _others(self) -> list[str]:
        return [a for a in self._alive() if a != self._self]

    async def replicate(
        self, objects: list[tuple[str, bytes]], level: Consistency, timeout: float
    ) -> None:
        """Return once ``level`` holds for ``objects``; :class:`WriteTimeoutError` otherwise."""
        others = self._others()
        if required(level, len(others) + 1) <= 0:
            return
        self._next = (self._next + 1) & 0xFFFFFFFF
        req = self._next
        w = self._waits[req] = _Wait()
        try:
            with anyio.move_on_after(timeout):
                while True:
                    others = self._others()
                    alive = set(others)
                    if isinstance(level, WriteAll):
                        w.targets = alive
                        if alive <= w.acked:
                            return
                    else:
                        need = required(level, len(others) + 1)
                        if len(w.acked) >= need:
                            return
                        # keep the targets still alive, then add: neighbours first, then others
                        w.targets = {t for t in w.targets if t in alive} | w.acked
                        nbrs = [a for a in others if a in self._neighbors()]
                        rest = [a for a in others if a not in nbrs]
                        self._rng.shuffle(nbrs)
                        self._rng.shuffle(rest)
                        for a in nbrs + rest:
                            if len(w.targets - w.acked) >= need - len(w.acked):
                                break
                            w.targets.add(a)
                    for t in sorted(w.targets - w.acked):
                        self.sent += 1
                        await self._host.call(self._core, partial(self._send, t, req, objects))
                    with anyio.move_on_after(self._retry):
                        await w.event.wait()
                    w.event = anyio.Event()
            self.timeouts += 1
            confirmed = frozenset(w.acked | {self._self})
            raise WriteTimeoutError(
                f"{level!r} not reached in {timeout} s: held by {len(confirmed)} replica(s) "
                f"(this node included); the write stays and keeps replicating",
                confirmed=confirmed,
            )
        finally:
            del self._waits[req]
