"""Plumtree over HyParView in the deterministic simulator."""

from __future__ import annotations

import random
from collections.abc import Callable

from gossip import Effect, Event, SendStream, StreamReceived
from gossip.hyparview import HyParView, HyParViewConfig
from gossip.plumtree import Delivered, Plumtree, PlumtreeConfig, forward_neighbor_events
from gossip.plumtree._messages import TAG_GOSSIP
from gossip.sim import LinkModel, NodeContext, SimConfig, Simulator, Uniform

HV = HyParViewConfig.local()
PT = PlumtreeConfig()


class LossyPlumtree(Plumtree):
    """Drops a fraction of incoming eager payloads, as if a frame were lost (the simulator's
    streams are reliable, like TCP): exercises the IHAVE/GRAFT repair path."""

    def __init__(self, *args: object, drop: float, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._drop = drop
        self._lossrng = random.Random(f"loss/{self.addr}")

    def handle(self, event: Event, now: float) -> list[Effect]:
        if (
            isinstance(event, StreamReceived)
            and event.data[:1] == bytes((TAG_GOSSIP,))
            and self._lossrng.random() < self._drop
        ):
            return []
        return super().handle(event, now)


def build(
    n: int, seed: int, drop: float = 0.0, config: PlumtreeConfig = PT
) -> tuple[Simulator, dict[int, list[tuple]]]:  # type: ignore[type-arg]
    delivered: dict[int, list[tuple]] = {}  # type: ignore[type-arg]

    def on_emit(rec: object) -> None:
        ev = rec.event  # type: ignore[attr-defined]
        if isinstance(ev, Delivered):
            delivered.setdefault(ev.mid, []).append((rec.node, ev.hops))  # type: ignore[attr-defined]

    sim = Simulator(
        seed=seed,
        config=SimConfig(link=LinkModel(latency=Uniform(0.01, 0.1)), trace=False),
        on_emit=on_emit,
    )

    def make(ctx: NodeContext) -> list:  # type: ignore[type-arg]
        hv = HyParView(ctx.addr, rng=ctx.rng, config=HV, epoch=ctx.epoch)
        pt = LossyPlumtree(ctx.addr, rng=ctx.rng, config=config, neighbors=hv, drop=drop)
        return [hv, pt]

    for i in range(n):
        sim.add_node(f"n{i}", make)
    for i in range(1, n):
        core = sim.core(f"n{i}", HyParView)
        sim.call(f"n{i}", core, _joiner(core))
        sim.run_for(0.05)
    sim.run_for(10.0)
    return sim, delivered


def _joiner(core: HyParView) -> Callable[[float], list[Effect]]:
    return lambda now: core.join(["n0"], now)


def bcast(sim: Simulator, src: str, payload: bytes) -> int:
    pt = sim.core(src, Plumtree)
    sim.call(src, "plumtree", lambda now: pt.broadcast(payload, now))
    assert pt.last_mid is not None
    return pt.last_mid


def payloads_received(sim: Simulator) -> int:
    return sum(sim.core(a, Plumtree).stats.gossip_received for a in sim.nodes if sim.is_alive(a))


def test_every_node_delivers_once_and_the_tree_settles() -> None:
    # Timers for this latency (10-100 ms a hop): with the default 0.5 s GRAFT timeout, a payload
    # on a long eager path looks lost, and the GRAFTs keep reshaping the tree, so it settles or
    # not depending on the run (RMR 0.41 in one run of 40; hash seed 1003).
    n = 60
    sim, delivered = build(n, seed=1, config=PlumtreeConfig.wan())
    rng = random.Random(1)
    rmr = []
    for k in range(25):
        before = payloads_received(sim)
        mid = bcast(sim, f"n{rng.randrange(n)}", b"m%d" % k)
        sim.run_for(3.0)
        nodes = [x for x, _ in delivered[mid]]
        assert len(nodes) == n - 1 and len(set(nodes)) == n - 1
        rmr.append((payloads_received(sim) - before) / (n - 1) - 1)
    assert rmr[0] > 0.5  # the first broadcast floods every link...
    assert max(rmr[-10:]) < 0.2  # ...later ones follow the (nearly) spanning tree
    prunes = sum(sim.core(a, Plumtree).stats.prunes_sent for a in sim.nodes)
    ihaves = sum(sim.core(a, Plumtree).stats.ihave_sent for a in sim.nodes)
    assert prunes > 0 and ihaves > 0
    eager_edges = sum(len(sim.core(a, Plumtree).eager_peers) for a in sim.nodes) // 2
    assert eager_edges < 1.3 * (n - 1)


def test_lost_payloads_are_grafted_from_lazy_peers() -> None:
    n = 50
    sim, delivered = build(n, seed=2, drop=0.05)
    rng = random.Random(2)
    for k in range(20):
        mid = bcast(sim, f"n{rng.randrange(n)}", b"x%d" % k)
        sim.run_for(5.0)
        assert len({x for x, _ in delivered[mid]}) == n - 1
    grafts = sum(sim.core(a, Plumtree).stats.grafts_sent for a in sim.nodes)
    assert grafts > 0


def test_broadcast_survives_crashes_in_the_tree() -> None:
    n = 50
    sim, delivered = build(n, seed=3)
    for k in range(5):
        bcast(sim, "n0", b"warm%d" % k)
        sim.run_for(3.0)
    for i in range(1, n, 5):
        sim.crash(f"n{i}")
    sim.run_for(0.1)  # crashes not yet noticed: the tree has holes
    mid = bcast(sim, "n0", b"after")
    sim.run_for(10.0)
    alive = {a for a in sim.nodes if sim.is_alive(a)} - {"n0"}
    assert {x for x, _ in delivered[mid]} == alive


def test_manual_wiring_matches_neighbor_source() -> None:
    hv = HyParView("a", rng=random.Random(1), config=HV)
    pt = Plumtree("a", rng=random.Random(2))
    from gossip.hyparview import Neighbor, encode

    effects = hv.handle(StreamReceived("b", encode(Neighbor(True, 0, 1))), 0.0)
    forward_neighbor_events(effects, pt, 0.0)
    assert pt.eager_peers == {"b"}
    effects = hv.peer_failed("b", 1.0)
    forward_neighbor_events(effects, pt, 1.0)
    assert pt.eager_peers == frozenset() and pt.lazy_peers == frozenset()


def test_garbage_is_counted_and_dropped() -> None:
    sim, _ = build(4, seed=4)
    sim.call("n2", "plumtree", lambda now: [SendStream("n1", b"\x38\x93\xff")])
    sim.run_for(1.0)
    assert sim.core("n1", Plumtree).stats.decode_errors == 1
