"""A graceful leave that races a join through the leaving member (deterministic simulator)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain, repeat

from gossip.sim import LinkModel, SimConfig, Simulator
from gossip.swim import (
    LeaveCompleted,
    MemberDead,
    MemberState,
    MemberSuspected,
    SwimConfig,
    SwimCore,
)


def test_a_seed_leaving_before_its_join_reply_arrives_is_seen_left_not_dead() -> None:
    # b joins through a; a answers, then leaves 50 ms later. Its reply is the first frame on a
    # new stream to b, which takes a second (a lost SYN), while its "left" datagrams take 1 ms:
    # b drops them (news about a member it does not know), then reads the reply. The old core
    # left it there: b took a in as alive, suspected it and declared it dead 5 s later.
    cfg = SwimConfig.lan()
    sim = Simulator(seed=1, config=SimConfig(link=LinkModel.ideal()))
    sim.add_node("a", lambda ctx: [SwimCore(ctx.addr, cfg, ctx.rng)])
    sim.run_for(0.1)
    latencies: Iterator[float] = chain([1.0], repeat(0.001))
    sim.set_link("a", "b", LinkModel(latency=lambda _rng: next(latencies)), both_ways=False)
    sim.add_node("b", lambda ctx: [SwimCore(ctx.addr, cfg, ctx.rng, seeds=("a",))])
    a, b = sim.core("a", SwimCore), sim.core("b", SwimCore)
    assert sim.run_until_true(lambda: a.member("b") is not None, 5.0)
    sim.run_for(0.05)
    sim.call("a", "swim", a.leave)

    def completed() -> list[object]:
        return [r.event for r in sim.emitted("a") if isinstance(r.event, LeaveCompleted)]

    assert sim.run_until_true(lambda: bool(completed()), 5.0)
    assert completed() == [LeaveCompleted(True)]  # every "left" datagram was sent
    assert b.member("a") is None  # and dropped; the reply is still on its way
    sim.run_for(2.0)  # the driver's exit drain: queued frames go out before the process ends
    sim.crash("a")
    sim.run_for(20.0)
    seen = b.member("a")
    assert seen is not None and seen.state == MemberState.LEFT and seen.incarnation == 0
    about_a = [r.event for r in sim.emitted("b") if getattr(r.event, "addr", None) == "a"]
    assert not [e for e in about_a if isinstance(e, MemberSuspected | MemberDead)]
