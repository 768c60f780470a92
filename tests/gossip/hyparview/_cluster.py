"""Helpers for HyParView simulator scenarios: build a cluster, check the overlay's invariants."""

from __future__ import annotations

from collections.abc import Iterable

from gossip.hyparview import HyParView, HyParViewConfig
from gossip.sim import LinkModel, SimConfig, Simulator

# Rounds of 1 s keep the virtual time of a scenario short; the protocol is unchanged.
CFG = HyParViewConfig.local()


def make_sim(seed: int, *, trace: bool = False, cfg: HyParViewConfig = CFG) -> Simulator:
    sim = Simulator(
        seed=seed, config=SimConfig(link=LinkModel.lan(), trace=trace, record_emits=True)
    )
    sim.cfg = cfg  # type: ignore[attr-defined]
    return sim


def add(sim: Simulator, addr: str, cfg: HyParViewConfig = CFG) -> None:
    sim.add_node(addr, lambda ctx: [HyParView(ctx.addr, rng=ctx.rng, config=cfg, epoch=ctx.epoch)])


def hv(sim: Simulator, addr: str) -> HyParView:
    core = sim.core(addr, HyParView)
    return core


def join(sim: Simulator, addr: str, seeds: Iterable[str]) -> None:
    seeds = list(seeds)
    sim.call(addr, "hyparview", lambda now: hv(sim, addr).join(seeds, now))


def cluster(sim: Simulator, n: int, *, spacing: float = 0.05, cfg: HyParViewConfig = CFG) -> None:
    """``n`` nodes ``n0..n{n-1}`` joining one after the other through ``n0``."""
    for i in range(n):
        add(sim, f"n{i}", cfg)
    for i in range(1, n):
        join(sim, f"n{i}", ["n0"])
        sim.run_for(spacing)


def live(sim: Simulator) -> list[str]:
    return [a for a in sim.nodes if sim.is_alive(a)]


def asymmetric(sim: Simulator) -> list[tuple[str, str]]:
    """Live links present at one end only."""
    nodes = set(live(sim))
    return [
        (a, b)
        for a in nodes
        for b in hv(sim, a).active_view
        if b in nodes and a not in hv(sim, b).active_view
    ]


def components(sim: Simulator) -> list[set[str]]:
    """Connected components of the live nodes' active-view graph (edges in either direction)."""
    nodes = set(live(sim))
    adj: dict[str, set[str]] = {a: set() for a in nodes}
    for a in nodes:
        for b in hv(sim, a).active_view:
            if b in nodes:
                adj[a].add(b)
                adj[b].add(a)
    seen: set[str] = set()
    comps = []
    for a in sorted(nodes):
        if a in seen:
            continue
        comp = {a}
        stack = [a]
        while stack:
            for b in adj[stack.pop()]:
                if b not in comp:
                    comp.add(b)
                    stack.append(b)
        seen |= comp
        comps.append(comp)
    return comps


def healthy(sim: Simulator, *, min_degree: int = 1) -> bool:
    """One component, symmetric links, every live node with at least ``min_degree`` neighbours
    and none above the configured maximum."""
    size = CFG.active_size
    degrees = [len(hv(sim, a).active_view) for a in live(sim)]
    return (
        len(components(sim)) == 1
        and not asymmetric(sim)
        and min(degrees) >= min_degree
        and max(degrees) <= size
    )
