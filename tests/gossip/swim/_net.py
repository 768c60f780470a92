"""A tiny deterministic driver for unit tests of the SWIM core: virtual time, one event heap.

Not the project simulator (``gossip.sim``): just enough to run a handful of cores against each
other in plain synchronous tests, with loss, partitions, crashes and slow members.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Hashable
from dataclasses import dataclass, field

from gossip import (
    CancelTimer,
    Effect,
    Emit,
    Event,
    PacketReceived,
    PeerUnreachable,
    SendPacket,
    SendStream,
    SetTimer,
    StreamReceived,
    TimerFired,
)
from gossip.swim import MemberState, SwimConfig, SwimCore


@dataclass
class Net:
    seed: int = 0
    latency: float = 0.002
    loss: float = 0.0
    now: float = 0.0
    cores: dict[str, SwimCore] = field(default_factory=dict)
    crashed: set[str] = field(default_factory=set)
    slow: dict[str, float] = field(default_factory=dict)  # addr -> extra handling delay (s)
    groups: dict[str, int] = field(default_factory=dict)  # partition: addr -> side
    emitted: list[tuple[float, str, object]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self._heap: list[tuple[float, int, str, Event, tuple[Hashable, int] | None]] = []
        self._n = 0
        self._timer_gen: dict[tuple[str, Hashable], int] = {}

    def add(
        self,
        addr: str,
        config: SwimConfig | None = None,
        seeds: tuple[str, ...] = (),
        known: tuple[str, ...] = (),
        incarnation: int = 0,
    ) -> SwimCore:
        core = SwimCore(
            addr,
            config or SwimConfig.lan(),
            random.Random(self.rng.random()),
            seeds=seeds,
            known=known,
            incarnation=incarnation,
        )
        self.cores[addr] = core
        self.crashed.discard(addr)
        self._apply(addr, core.start(self.now))
        return core

    def _push(
        self, at: float, addr: str, ev: Event, timer: tuple[Hashable, int] | None = None
    ) -> None:
        self._n += 1
        heapq.heappush(self._heap, (at, self._n, addr, ev, timer))

    def connected(self, a: str, b: str) -> bool:
        return self.groups.get(a, 0) == self.groups.get(b, 0)

    def _apply(self, addr: str, effects: list[Effect]) -> None:
        for e in effects:
            if isinstance(e, SendPacket):
                if self.rng.random() < self.loss or not self.connected(addr, e.dst):
                    continue
                self._push(self.now + self.latency, e.dst, PacketReceived(addr, e.data))
            elif isinstance(e, SendStream):
                if (
                    e.dst in self.crashed
                    or e.dst not in self.cores
                    or not self.connected(addr, e.dst)
                ):
                    self._push(self.now + self.latency, addr, PeerUnreachable(e.dst))
                else:
                    self._push(self.now + self.latency, e.dst, StreamReceived(addr, e.data))
            elif isinstance(e, SetTimer):
                k = (addr, e.key)
                gen = self._timer_gen.get(k, 0) + 1
                self._timer_gen[k] = gen
                self._push(max(e.at, self.now), addr, TimerFired(e.key), (e.key, gen))
            elif isinstance(e, CancelTimer):
                k = (addr, e.key)
                self._timer_gen[k] = self._timer_gen.get(k, 0) + 1
            elif isinstance(e, Emit):
                self.emitted.append((self.now, addr, e.event))

    def crash(self, addr: str) -> None:
        self.crashed.add(addr)

    def run_until(self, t: float) -> None:
        while self._heap and self._heap[0][0] <= t:
            at, _, addr, ev, timer = heapq.heappop(self._heap)
            self.now = at
            if addr in self.crashed or addr not in self.cores:
                continue
            if timer is not None and self._timer_gen.get((addr, timer[0])) != timer[1]:
                continue
            delay = self.slow.get(addr, 0.0)
            if delay and type(ev) is PacketReceived:
                # A slow member handles its messages late (Lifeguard's "slow message processing").
                self._push(at + delay, addr, _Delayed(ev.src, ev.data))
                continue
            if isinstance(ev, _Delayed):
                ev = PacketReceived(ev.src, ev.data)
            self._apply(addr, self.cores[addr].handle(ev, self.now))
        self.now = max(self.now, t)

    def run_for(self, dt: float) -> None:
        self.run_until(self.now + dt)

    def state_of(self, viewer: str, addr: str) -> MemberState | None:
        m = self.cores[viewer].member(addr)
        return None if m is None else m.state

    def events(self, kind: type, addr: str | None = None) -> list[tuple[float, str, object]]:
        return [
            (t, who, ev)
            for t, who, ev in self.emitted
            if isinstance(ev, kind) and (addr is None or getattr(ev, "addr", None) == addr)
        ]


class _Delayed(PacketReceived):
    __slots__ = ()
