"""The sync engine over a live HyParView overlay in the simulator: the active view is the
neighbour set, links come and go (joins, a crash, a restart), and every write reaches everyone."""

from __future__ import annotations

from operator import methodcaller
from typing import Any

import crdts
from gossip.hyparview import HyParView, HyParViewConfig, NeighborDown, NeighborUp
from gossip.sim import EmitRecord, LinkModel, NodeContext, SimConfig, Simulator, Uniform
from sync import SyncConfig, SyncEngine


def test_sync_follows_the_hyparview_active_view() -> None:
    names = [f"n{i}" for i in range(10)]
    states: dict[str, dict[str, Any]] = {n: {} for n in names}
    cfg = SyncConfig(sync_interval=0.5)
    hv_cfg = HyParViewConfig()
    sim: Simulator

    def on_emit(rec: EmitRecord) -> None:
        if isinstance(rec.event, NeighborUp | NeighborDown) and sim.is_alive(rec.node):
            node = rec.node
            event = rec.event
            sim.schedule(
                sim.now,
                lambda: (
                    sim.is_alive(node)
                    and sim.call(node, "sync", lambda now: sync(node).on_overlay(event, now))
                ),
            )

    sim = Simulator(
        seed=4,
        config=SimConfig(link=LinkModel(latency=Uniform(0.001, 0.02)), trace=False),
        on_emit=on_emit,
    )

    def sync(n: str) -> SyncEngine:
        eng: SyncEngine = sim.core(n, "sync")
        return eng

    def factory(ctx: NodeContext) -> list[Any]:
        hv = HyParView(ctx.addr, rng=ctx.rng, config=hv_cfg, epoch=ctx.epoch)
        return [hv, SyncEngine(ctx.addr, cfg, ctx.rng, state=states[ctx.addr])]

    for n in names:
        sim.add_node(n, factory)

    def join(n: str) -> None:
        hv: HyParView = sim.core(n, "hyparview")
        sim.call(n, "hyparview", lambda now: hv.join(["n0"], now))

    for n in names[1:]:
        join(n)
    sim.run_for(3.0)
    assert all(sync(n).neighbors for n in names)

    expected: set[str] = set()
    for k in range(30):
        n = names[k % len(names)]
        if sim.is_alive(n):
            elem = f"e{k}"
            sync(n).update("s", methodcaller("add", elem), create=crdts.GSet)
            expected.add(f"e{k}")
        if k == 10:
            sim.crash("n3")
        if k == 20:
            sim.restart("n3")
            join("n3")
        sim.run_for(0.3)
    ok = sim.run_until_true(
        lambda: all(sync(n).value("s") == frozenset(expected) for n in names), timeout=30.0
    )
    assert ok, {n: len(sync(n).value("s", ())) for n in names}
