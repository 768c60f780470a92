"""Sync engines on the deterministic simulator, with an overlay the test controls (neighbours are
commands, as HyParView would give them), nodes that may join late, and replica states that survive
a crash (the engine's buffer and acks do not)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import crdts
from gossip.sim import LinkModel, NodeContext, SimConfig, Simulator
from sync import SyncConfig, SyncEngine


class Cluster:
    def __init__(
        self,
        names: list[str],
        config: SyncConfig,
        *,
        seed: int = 1,
        link: LinkModel | None = None,
        edges: list[tuple[str, str]] | None = None,
        late: list[str] | None = None,
    ) -> None:
        """``names`` start now; ``late`` ones exist only once :meth:`join` adds them."""
        self.names = names + list(late or [])
        self.late = set(late or [])
        self.config = config
        self.states: dict[str, dict[str, Any]] = {n: {} for n in self.names}
        self.sim = Simulator(
            seed=seed,
            config=SimConfig(link=link or LinkModel.ideal(), trace=False, record_emits=False),
        )
        self.adj: dict[str, set[str]] = {n: set() for n in self.names}
        for n in names:
            self.sim.add_node(n, self._factory)
        for a, b in edges or []:
            self.link(a, b)

    def _factory(self, ctx: NodeContext) -> list[SyncEngine]:
        return [SyncEngine(ctx.addr, self.config, ctx.rng, state=self.states[ctx.addr])]

    def engine(self, n: str) -> SyncEngine:
        eng: SyncEngine = self.sim.core(n, "sync")
        return eng

    def alive(self, n: str) -> bool:
        return n not in self.late and self.sim.is_alive(n)

    def join(self, n: str) -> None:
        """Start a late node (with an empty keyspace); its links come with :meth:`link`."""
        if n in self.late:
            self.late.discard(n)
            self.sim.add_node(n, self._factory)
            self._tell(n)

    def _tell(self, n: str) -> None:
        if self.alive(n):
            peers = sorted(self.adj[n])
            self.sim.call(n, "sync", lambda now: self.engine(n).set_neighbors(peers, now))

    def link(self, a: str, b: str) -> None:
        if a == b or a in self.late or b in self.late:
            return
        self.adj[a].add(b)
        self.adj[b].add(a)
        self._tell(a)
        self._tell(b)

    def unlink(self, a: str, b: str) -> None:
        self.adj[a].discard(b)
        self.adj[b].discard(a)
        self._tell(a)
        self._tell(b)

    def crash(self, n: str) -> None:
        if self.alive(n):
            self.sim.crash(n)

    def restart(self, n: str) -> None:
        if n not in self.late and not self.sim.is_alive(n):
            self.sim.restart(n)
            self._tell(n)

    def mutate(
        self, n: str, key: str, mutator: Callable[[Any], Any], create: Callable[[], Any]
    ) -> bool:
        """Apply a delta-mutator at ``n`` now (through its engine); False if ``n`` is down."""
        if not self.alive(n):
            return False
        self.sim.call(
            n, "sync", lambda now: [self.engine(n).update(key, mutator, create=create)][:0]
        )
        return True

    def add(self, n: str, key: str, elem: Any) -> None:
        if self.alive(n):
            self.sim.call(
                n,
                "sync",
                lambda now: [self.engine(n).update(key, lambda s: s.add(elem), create=crdts.GSet)][
                    :0
                ],
            )

    def incr(self, n: str, key: str) -> None:
        if self.alive(n):
            self.sim.call(
                n,
                "sync",
                lambda now: [
                    self.engine(n).update(key, lambda c: c.increment(n), create=crdts.GCounter)
                ][:0],
            )

    def connect_all(self) -> None:
        """Make the overlay connected again (a ring over every node, plus what exists)."""
        for n in list(self.late):
            self.join(n)
        for a, b in zip(self.names, self.names[1:] + self.names[:1], strict=True):
            if b not in self.adj[a]:
                self.link(a, b)

    def converged(self) -> bool:
        first = self.states[self.names[0]]
        return all(self.states[n] == first for n in self.names[1:])
