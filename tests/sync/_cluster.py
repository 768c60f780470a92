"""Sync engines on the deterministic simulator, with an overlay the test controls (neighbours are
commands, as HyParView would give them) and replica states that survive a crash (the engine's
buffer and acks do not)."""

from __future__ import annotations

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
    ) -> None:
        self.names = names
        self.config = config
        self.states: dict[str, dict[str, Any]] = {n: {} for n in names}
        self.sim = Simulator(
            seed=seed,
            config=SimConfig(link=link or LinkModel.ideal(), trace=False, record_emits=False),
        )
        self.adj: dict[str, set[str]] = {n: set() for n in names}
        for n in names:
            self.sim.add_node(n, self._factory)
        for a, b in edges or []:
            self.link(a, b)

    def _factory(self, ctx: NodeContext) -> list[SyncEngine]:
        return [SyncEngine(ctx.addr, self.config, ctx.rng, state=self.states[ctx.addr])]

    def engine(self, n: str) -> SyncEngine:
        eng: SyncEngine = self.sim.core(n, "sync")
        return eng

    def _tell(self, n: str) -> None:
        if self.sim.is_alive(n):
            peers = sorted(self.adj[n])
            self.sim.call(n, "sync", lambda now: self.engine(n).set_neighbors(peers, now))

    def link(self, a: str, b: str) -> None:
        if a == b:
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
        if self.sim.is_alive(n):
            self.sim.crash(n)

    def restart(self, n: str) -> None:
        if not self.sim.is_alive(n):
            self.sim.restart(n)
            self._tell(n)

    def add(self, n: str, key: str, elem: Any) -> None:
        if self.sim.is_alive(n):
            self.sim.call(
                n,
                "sync",
                lambda now: [self.engine(n).update(key, lambda s: s.add(elem), create=crdts.GSet)][
                    :0
                ],
            )

    def incr(self, n: str, key: str) -> None:
        if self.sim.is_alive(n):
            self.sim.call(
                n,
                "sync",
                lambda now: [
                    self.engine(n).update(key, lambda c: c.increment(n), create=crdts.GCounter)
                ][:0],
            )

    def connect_all(self) -> None:
        """Make the overlay connected again (a ring over every node, plus what exists)."""
        for a, b in zip(self.names, self.names[1:] + self.names[:1], strict=True):
            if b not in self.adj[a]:
                self.link(a, b)

    def converged(self) -> bool:
        first = self.states[self.names[0]]
        return all(self.states[n] == first for n in self.names[1:])
