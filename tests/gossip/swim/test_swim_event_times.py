"""Membership events carry when they happened (issue 10: they carried no timestamp)."""

from __future__ import annotations

from gossip.sim import LinkModel, SimConfig, Simulator
from gossip.swim import MemberDead, MemberJoined, MemberSuspected, SwimConfig, SwimCore


def test_every_membership_event_carries_the_time_it_happened() -> None:
    sim = Simulator(seed=3, config=SimConfig(link=LinkModel.lan()))
    for a in ["n0", "n1", "n2", "n3"]:
        sim.add_node(a, lambda ctx: [SwimCore(ctx.addr, SwimConfig.lan(), ctx.rng, seeds=["n0"])])
    sim.run_for(5.0)
    sim.crash("n3")
    sim.run_for(40.0)
    records = sim.emitted("n1", "swim")
    kinds = {type(r.event) for r in records}
    assert {MemberJoined, MemberSuspected, MemberDead} <= kinds
    for r in records:
        assert r.event.at == r.time  # type: ignore[attr-defined]
    dead = [r.event for r in records if isinstance(r.event, MemberDead)]
    assert dead and dead[0].at > 5.0
    assert MemberDead("n3", dead[0].incarnation, dead[0].by, at=0.0) == dead[0]  # not compared
