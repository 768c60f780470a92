"""The Node's cores in the deterministic simulator: per simulated node SWIM, HyParView and the
sync engine, wired by the Node's :class:`~sync._bridge.OverlayBridge` (membership events fed to
the overlay, and optionally its safety net checked once a second), as ``sync.Node`` does over
real sockets. Shared by the bridge scenarios and the hash-seed check."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from typing import Any

from gossip._events import Effect
from gossip.hyparview import HyParView, HyParViewConfig
from gossip.sim import EmitRecord, LinkModel, NodeContext, SimConfig, Simulator
from gossip.swim import SwimConfig, SwimCore
from sync import SyncConfig, SyncEngine
from sync._bridge import OverlayBridge


def _const(effects: list[Effect]) -> Callable[[float], list[Effect]]:
    return lambda _now: effects


class SimStack:
    """A simulator whose nodes run the Node's stack; ``seed_node`` is every other node's SWIM
    seed. ``bridges`` maps a node to its bridge (the scenario's handle on the safety net)."""

    def __init__(
        self,
        *,
        seed: int,
        link: LinkModel,
        seed_node: str,
        hv_config: HyParViewConfig | None = None,
        sync_interval: float = 0.2,
        digest: bool = False,
        record_emits: bool = True,
    ) -> None:
        self.bridges: dict[str, OverlayBridge] = {}
        self.seed_node = seed_node
        self.hv_config = hv_config or HyParViewConfig.local()
        self.sync_interval = sync_interval
        config = SimConfig(link=link, trace=False, digest_trace=digest, record_emits=record_emits)
        self.sim = Simulator(seed=seed, config=config, on_emit=self._on_emit)

    def _on_emit(self, rec: EmitRecord) -> None:
        node, event = rec.node, rec.event

        def deliver() -> None:
            if self.sim.is_alive(node):
                for core, effects in self.bridges[node].on_event(event, self.sim.now):
                    self.sim.call(node, core, _const(effects))

        self.sim.schedule(self.sim.now, deliver)

    def _factory(self, ctx: NodeContext) -> list[Any]:
        seeds = [] if ctx.addr == self.seed_node else [self.seed_node]
        swim = SwimCore(ctx.addr, SwimConfig.local(), ctx.rng, seeds=seeds)
        hv = HyParView(ctx.addr, rng=ctx.rng, config=self.hv_config, epoch=ctx.epoch)
        engine = SyncEngine(ctx.addr, SyncConfig(sync_interval=self.sync_interval), ctx.rng)
        self.bridges[ctx.addr] = OverlayBridge(swim, hv, engine, rng=random.Random(ctx.addr))
        return [swim, hv, engine]

    def _check(self, node: str) -> None:
        if self.sim.is_alive(node):
            for core, effects in self.bridges[node].check_overlay(self.sim.now):
                self.sim.call(node, core, _const(effects))
        self.sim.schedule(self.sim.now + 1.0, partial(self._check, node))

    def add(self, name: str, *, safety_net: bool) -> None:
        """Add a node; with the safety net its bridge checks the overlay every second from 1 s."""
        self.sim.add_node(name, self._factory)
        if safety_net:
            self.sim.schedule(1.0, partial(self._check, name))

    def join(self, name: str, contacts: list[str]) -> None:
        """``name``'s HyParView joins through ``contacts``."""
        hv: HyParView = self.sim.core(name, "hyparview")
        self.sim.call(name, hv, partial(hv.join, contacts))

    def engine(self, name: str) -> SyncEngine:
        engine: SyncEngine = self.sim.core(name, "sync")
        return engine
