"""A tiny synchronous network for unit tests: engines exchange effects through a FIFO queue that a
test can inspect, drop from, duplicate or reorder by hand (scenarios needing time and loss models
use the simulator instead)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from gossip._events import Effect, Emit, SendPacket, SendStream, StreamReceived
from sync import SyncConfig, SyncEngine

Msg = tuple[str, str, bytes]  # (src, dst, data)


class Net:
    def __init__(self, names: Iterable[str], config: SyncConfig | None = None) -> None:
        self.config = config or SyncConfig()
        self.engines = {n: SyncEngine(n, self.config) for n in names}
        self.queue: deque[Msg] = deque()
        self.emitted: list[tuple[str, object]] = []
        self.now = 0.0
        self.delivered = 0

    def take(self, src: str, effects: Iterable[Effect]) -> None:
        for e in effects:
            if isinstance(e, SendStream | SendPacket):
                self.queue.append((src, e.dst, e.data))
            elif isinstance(e, Emit):
                self.emitted.append((src, e.event))

    def do(self, name: str, fn: Callable[[SyncEngine, float], list[Effect]]) -> None:
        self.take(name, fn(self.engines[name], self.now))

    def link(self, a: str, b: str) -> None:
        self.do(a, lambda e, now: e.neighbor_up(b, now))
        self.do(b, lambda e, now: e.neighbor_up(a, now))

    def unlink(self, a: str, b: str) -> None:
        self.do(a, lambda e, now: e.neighbor_down(b, now))
        self.do(b, lambda e, now: e.neighbor_down(a, now))

    def deliver(self, drop: Callable[[Msg], bool] | None = None, limit: int = 100_000) -> int:
        """Deliver queued messages (and the replies they cause) until the queue is empty."""
        n = 0
        while self.queue and n < limit:
            msg = self.queue.popleft()
            n += 1
            if drop is not None and drop(msg):
                continue
            src, dst, data = msg
            eng = self.engines.get(dst)
            if eng is not None:
                self.delivered += 1
                self.take(dst, eng.handle(StreamReceived(src, data), self.now))
        return n

    def round(self, drop: Callable[[Msg], bool] | None = None) -> None:
        """One sync round everywhere, then deliver everything."""
        self.now += self.config.sync_interval
        for name, eng in self.engines.items():
            self.take(name, eng.sync_now(self.now))
        self.deliver(drop)

    def settle(self, rounds: int = 10) -> None:
        for _ in range(rounds):
            self.round()
