"""The per-node state the simulator keeps: the context a node's cores are built with, and the
internal bookkeeping (cores, tag routing, timers, streams, the slow-node processing queue)."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gossip._errors import UsageError
from gossip._events import TAG_RANGES, ProtocolCore, TimerKey


@dataclass(frozen=True, slots=True)
class NodeContext:
    """What a node factory gets: build the node's cores from it.

    ``rng`` is the node's own generator, derived from the simulator seed, the address and the
    epoch, so it does not depend on the order nodes are added in and a restart gets a fresh
    stream. ``epoch`` is 0 at the first start and grows by one at each restart (the restart epoch
    the real host puts in its handshake and that HyParView puts in DISCONNECT).
    """

    addr: str
    epoch: int
    rng: random.Random
    seed: int | str


CoreFactory = Callable[[NodeContext], Sequence[ProtocolCore]]
"""Builds a node's cores. Called at ``add_node`` and again, with a new epoch, at each restart."""


class Conn:
    """One simulated TCP connection between ``a`` and ``b``, shared by both ends.

    ``last_ab``/``last_ba`` are the latest scheduled delivery times per direction: a frame is never
    delivered before the one sent ahead of it (FIFO per direction; equal times keep send order
    through the heap's sequence number). ``broken`` turns in-flight frames into drops.
    """

    __slots__ = ("a", "b", "broken", "last_ab", "last_ba")

    def __init__(self, a: str, b: str) -> None:
        self.a = a
        self.b = b
        self.broken = False
        self.last_ab = 0.0
        self.last_ba = 0.0


class SimNode:
    """One incarnation (epoch) of a node. A restart makes a new ``SimNode``, so heap entries that
    point at the old one (timers, in-flight messages) are recognised as dead by ``alive``."""

    __slots__ = (
        "addr",
        "alive",
        "backlog",
        "conns",
        "cores",
        "counters",
        "epoch",
        "pgen",
        "protocols",
        "route",
        "slow",
        "tgen",
        "timers",
    )

    def __init__(
        self, addr: str, epoch: int, cores: Sequence[ProtocolCore], counters: list[int]
    ) -> None:
        self.addr = addr
        self.epoch = epoch
        self.alive = True
        self.cores: list[ProtocolCore] = list(cores)
        self.protocols: list[str] = []
        self.route: list[int] = [-1] * 256  # first payload byte -> index of the owning core
        for i, core in enumerate(self.cores):
            proto = getattr(core, "protocol", None)
            if not isinstance(proto, str) or proto not in TAG_RANGES:
                raise UsageError(
                    f"node {addr!r}: core {core!r} has protocol {proto!r}, "
                    f"expected one of {sorted(TAG_RANGES)}"
                )
            if proto in self.protocols:
                raise UsageError(f"node {addr!r}: two cores claim protocol {proto!r}")
            self.protocols.append(proto)
            lo, hi = TAG_RANGES[proto]
            for tag in range(lo, hi):
                self.route[tag] = i
        # Per core: timer key -> (generation, deadline). A heap entry fires only if its generation
        # is still the current one: cancel and re-arm never search the heap.
        self.timers: list[dict[TimerKey, tuple[int, float]]] = [{} for _ in self.cores]
        self.tgen = 0
        self.conns: dict[str, Conn] = {}  # peer -> open connection, in opening order
        self.slow = 0.0  # s of extra handling per incoming message
        # A slow node's FIFO processing queue: (src, data, is_stream). One heap entry at a time
        # hands out its head; ``pgen`` names the current one, so a change of pace re-schedules
        # without searching the heap.
        self.backlog: deque[tuple[str, bytes, bool]] = deque()
        self.pgen = 0
        self.counters = counters  # per address, shared across restarts

    def core_index(self, core: ProtocolCore | str) -> int:
        if isinstance(core, str):
            try:
                return self.protocols.index(core)
            except ValueError:
                raise UsageError(f"node {self.addr!r} runs no {core!r} core") from None
        for i, c in enumerate(self.cores):
            if c is core:
                return i
        raise UsageError(
            f"node {self.addr!r} (epoch {self.epoch}) does not run {core!r} "
            "(a core object from before a restart?)"
        )
