"""Nodes: crash / restart with a new epoch, slow nodes, timers, routing by tag, commands."""

from __future__ import annotations

import itertools
from functools import partial

import pytest

from gossip import Effect, Emit, Event, SendPacket, UsageError
from gossip.sim import LinkModel, NodeContext, SimConfig, Simulator, Uniform
from tests.gossip.sim._cores import PING, SINK, EchoCore, SinkCore, echo, got


def test_restart_builds_fresh_cores_with_the_next_epoch_and_a_fresh_rng() -> None:
    contexts: list[NodeContext] = []

    def make(ctx: NodeContext) -> list[EchoCore]:
        contexts.append(ctx)
        return [EchoCore(ctx)]

    sim = Simulator(seed=9)
    sim.add_node("a", make)
    first = sim.core("a", EchoCore)
    sim.run_for(1.0)
    sim.crash("a")
    assert not sim.is_alive("a")
    with pytest.raises(UsageError):
        sim.call("a", "app", lambda now: [])
    sim.run_for(1.0)
    sim.restart("a")
    second = sim.core("a", EchoCore)
    assert second is not first
    assert [c.epoch for c in contexts] == [0, 1] and sim.epoch("a") == 1
    assert second.epoch == 1 and second.started_at == 2.0
    assert contexts[0].rng.random() != contexts[1].rng.random()
    assert [(r.epoch, r.time) for r in sim.emitted("a")] == [(0, 0.0), (1, 2.0)]
    with pytest.raises(UsageError):
        sim.restart("a")  # already running
    with pytest.raises(UsageError):
        sim.call("a", first, lambda now: [])  # a core from the dead incarnation


def test_node_rng_depends_on_seed_addr_and_epoch_only() -> None:
    draws: dict[str, float] = {}

    def make(ctx: NodeContext) -> list[EchoCore]:
        draws[ctx.addr] = ctx.rng.random()
        return [EchoCore(ctx)]

    s1 = Simulator(seed=4)
    s1.add_node("x", make)
    s1.add_node("y", make)
    d1 = dict(draws)
    s2 = Simulator(seed=4)
    s2.add_node("y", make)
    s2.add_node("x", make)
    assert draws == d1 and d1["x"] != d1["y"]


def test_timers_fire_at_deadline_reset_replaces_and_cancel_disarms() -> None:
    sim = Simulator(seed=1)
    sim.add_node("a", echo)
    a = sim.core("a", EchoCore)
    sim.call("a", a, lambda now: a.arm("t1", 5.0))
    sim.call("a", a, lambda now: a.arm("t2", 3.0))
    sim.call("a", a, lambda now: a.arm("t3", 4.0))
    assert sim.timers("a", "app") == {"t1": 5.0, "t2": 3.0, "t3": 4.0}
    sim.call("a", a, lambda now: a.arm("t1", 7.0))  # re-arm replaces
    sim.call("a", a, lambda now: a.cancel("t3"))
    sim.call("a", a, lambda now: a.cancel("never-set"))  # a no-op
    sim.run_until(10.0)
    assert [(t.peer, t.at) for t in got(sim, "a", "timer")] == [("t2", 3.0), ("t1", 7.0)]
    assert sim.timers("a", "app") == {}
    sim.call("a", a, lambda now: a.arm("past", 1.0))  # a deadline in the past fires now
    sim.run_until(11.0)
    assert got(sim, "a", "timer")[-1].at == 10.0


def test_timer_keys_are_namespaced_per_core() -> None:
    class Ticker:
        def __init__(self, protocol: str) -> None:
            self.protocol = protocol

        def start(self, now: float) -> list[Effect]:
            from gossip import SetTimer

            return [SetTimer("tick", 1.0 if self.protocol == "swim" else 2.0)]

        def handle(self, event: Event, now: float) -> list[Effect]:
            return [Emit((self.protocol, now))]

    sim = Simulator(seed=1)
    sim.add_node("a", lambda ctx: [Ticker("swim"), Ticker("hyparview")])
    sim.run_until_quiet()
    assert [r.event for r in sim.emitted("a")] == [("swim", 1.0), ("hyparview", 2.0)]


def test_timers_die_with_a_crash() -> None:
    sim = Simulator(seed=1)
    sim.add_node("a", echo)
    a = sim.core("a", EchoCore)
    sim.call("a", a, lambda now: a.arm("t", 5.0))
    sim.run_for(1.0)
    sim.crash("a")
    sim.restart("a")
    sim.run_until(10.0)
    assert got(sim, "a", "timer") == []


def test_payloads_are_routed_by_tag_to_the_owning_core() -> None:
    sim = Simulator(seed=1)
    sim.add_node("a", lambda ctx: [EchoCore(ctx), SinkCore(ctx)])
    sim.add_node("b", lambda ctx: [SinkCore(ctx), EchoCore(ctx)])
    sim.call(
        "a",
        "app",
        lambda now: [SendPacket("b", bytes([SINK]) + b"s"), SendPacket("b", bytes([PING]))],
    )
    sim.call("a", "app", lambda now: [SendPacket("b", bytes([0x05])), SendPacket("b", b"")])
    sim.run_until_quiet()
    assert [(r.protocol, getattr(r.event, "what", "")) for r in sim.emitted("b")[1:]] == [
        ("sync", "sink")
    ]
    assert len(got(sim, "a", "pong")) == 1
    m = sim.metrics("b")
    assert m.get("sync", "recv_msgs") == 1 and m.get("app", "recv_msgs") == 1
    assert m.get("swim", "dropped_msgs") == 1  # no swim core on b
    assert m.get("unknown", "dropped_msgs") == 1  # empty payload
    assert sim.metrics().get("app", "sent_msgs") == 2  # a's ping, b's pong


def test_cores_must_name_distinct_known_protocols() -> None:
    sim = Simulator(seed=1)
    with pytest.raises(UsageError):
        sim.add_node("a", lambda ctx: [EchoCore(ctx), EchoCore(ctx)])
    bad = EchoCore.__new__(EchoCore)
    bad.protocol = "nope"
    with pytest.raises(UsageError):
        sim.add_node("b", lambda ctx: [bad])
    sim.add_node("c", echo)
    with pytest.raises(UsageError):
        sim.add_node("c", echo)
    with pytest.raises(UsageError):
        sim.call("c", "swim", lambda now: [])
    with pytest.raises(UsageError):
        sim.call("c", "app", lambda now: ["not an effect"])  # type: ignore[list-item]


def test_slow_node_handles_messages_one_by_one_after_the_delay() -> None:
    sim = Simulator(seed=1, config=SimConfig(link=LinkModel(latency=0.01)))
    sim.add_node("a", echo)
    sim.add_node("b", echo)
    sim.set_slow("b", 0.1)
    a = sim.core("a", EchoCore)
    for _ in range(3):
        sim.call("a", a, lambda now: a.ping("b", b"", now))
    sim.run_until_quiet()
    # b receives all three at 0.01 and answers at 0.11, 0.21, 0.31; a is not slow.
    assert [p.at for p in got(sim, "a", "pong")] == pytest.approx([0.12, 0.22, 0.32])
    sim.set_slow("b", 0.0)
    sim.call("a", a, lambda now: a.ping("b", b"", now))
    start = sim.now
    sim.run_until_quiet()
    assert got(sim, "a", "pong")[-1].at - start == pytest.approx(0.02)


def test_a_slow_node_made_normal_still_handles_its_backlog_first() -> None:
    """Setting the delay to 0 while messages wait drains the backlog at once (a node that
    recovers catches up), and a newer message never overtakes it: a stream is FIFO."""
    sim = Simulator(seed=1, config=SimConfig(link=LinkModel(latency=0.01)))
    sim.add_node("a", echo)
    sim.add_node("b", echo)
    sim.set_slow("b", 0.1)
    a = sim.core("a", EchoCore)
    for i in range(3):
        sim.call("a", a, partial(a.send, "b", bytes([i])))
    sim.run_for(0.05)  # all three arrived at 0.01 and wait (the first is due at 0.11)
    sim.set_slow("b", 0.0)
    sim.call("a", a, partial(a.send, "b", bytes([3])))
    sim.run_until_quiet()
    data = got(sim, "b", "data")
    assert [d.body for d in data] == [bytes([i]) for i in range(4)]
    assert [d.at for d in data] == pytest.approx([0.05, 0.05, 0.05, 0.06])


def test_messages_queued_at_a_slow_node_are_lost_when_it_crashes() -> None:
    sim = Simulator(seed=1, config=SimConfig(link=LinkModel(latency=0.01)))
    sim.add_node("a", echo)
    sim.add_node("b", echo)
    sim.set_slow("b", 1.0)
    a = sim.core("a", EchoCore)
    sim.call("a", a, lambda now: a.ping("b", b"", now))
    sim.run_for(0.5)
    sim.crash("b")
    sim.run_until_quiet()
    assert got(sim, "a", "pong") == []
    assert sim.metrics("a").get("app", "dropped_msgs") == 1


def test_symmetric_and_one_way_partitions_on_packets_and_heal() -> None:
    sim = Simulator(seed=1)
    for n in "abcd":
        sim.add_node(n, echo)

    def ping_all() -> dict[str, set[str]]:
        before = {n: len(got(sim, n, "pong")) for n in "abcd"}
        for src in "abcd":
            core = sim.core(src, EchoCore)
            for dst in "abcd":
                if dst != src:
                    sim.call(src, core, partial(core.ping, dst, b""))
        sim.run_until_quiet()
        return {n: {p.peer for p in got(sim, n, "pong")[before[n] :]} for n in "abcd"}

    assert ping_all()["a"] == {"b", "c", "d"}
    sim.partition(["a", "b"])  # c and d form the other side
    assert ping_all() == {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}
    assert not sim.can_reach("a", "c") and sim.can_reach("c", "d")
    sim.heal()
    sim.partition_one_way("a", ["b", "c"])  # a cannot send to b, c; they can send to a
    assert ping_all() == {"a": {"d"}, "b": {"c", "d"}, "c": {"b", "d"}, "d": {"a", "b", "c"}}
    assert sim.can_reach("b", "a") and not sim.can_reach("a", "b")
    sim.heal()
    assert ping_all()["a"] == {"b", "c", "d"}
    with pytest.raises(UsageError):
        sim.partition()
    with pytest.raises(UsageError):
        sim.partition(["a"], ["a"])


def test_partition_set_while_packets_are_in_flight_drops_them() -> None:
    sim = Simulator(seed=1, config=SimConfig(link=LinkModel(latency=1.0)))
    sim.add_node("a", echo)
    sim.add_node("b", echo)
    a = sim.core("a", EchoCore)
    sim.call("a", a, lambda now: a.ping("b", b"", now))
    sim.schedule(0.5, lambda: sim.partition(["a"], ["b"]))
    sim.run_until_quiet()
    assert sim.core("b", EchoCore).handled == 0
    assert [e.detail[3] for e in sim.trace if e.kind == "drop"] == ["partitioned"]


def test_step_and_run_until_true_and_run_until_quiet_with_a_limit() -> None:
    sim = Simulator(seed=1, config=SimConfig(link=LinkModel(latency=0.5)))
    sim.add_node("a", echo)
    sim.add_node("b", echo)
    a = sim.core("a", EchoCore)
    sim.call("a", a, lambda now: a.ping("b", b"", now))
    assert sim.step() and sim.now == 0.5  # the ping reaches b
    assert sim.step() and sim.now == 1.0  # the pong reaches a
    assert not sim.step()
    sim.call("a", a, lambda now: a.ping("b", b"", now))
    assert sim.run_until_true(lambda: len(got(sim, "a", "pong")) == 2, timeout=5.0)
    assert sim.now == 2.0
    assert not sim.run_until_true(lambda: False, timeout=3.0) and sim.now == 5.0
    sim.call("a", a, lambda now: a.arm("far", 100.0))
    assert not sim.run_until_quiet(max_time=50.0) and sim.now == 50.0
    assert sim.run_until_quiet() and sim.now == 100.0
    with pytest.raises(UsageError):
        sim.run_until(1.0)


def test_scheduled_calls_run_at_their_time() -> None:
    sim = Simulator(seed=1)
    sim.add_node("a", echo)
    seen: list[float] = []
    sim.schedule(2.5, lambda: seen.append(sim.now))
    sim.schedule(1.5, lambda: sim.crash("a"))
    sim.run_for(3.0)
    assert seen == [2.5] and not sim.is_alive("a")
    assert [e.kind for e in sim.trace] == ["start", "emit", "crash"]


def test_on_emit_callback_and_disabled_recording() -> None:
    seen: list[tuple[str, float]] = []
    sim = Simulator(
        seed=1,
        config=SimConfig(trace=False, record_emits=False),
        on_emit=lambda rec: seen.append((rec.node, rec.time)),
    )
    sim.add_node("a", echo)
    sim.run_for(1.0)
    assert seen == [("a", 0.0)]
    with pytest.raises(UsageError):
        sim.emitted()
    with pytest.raises(UsageError):
        _ = sim.trace


def test_a_slow_node_keeps_stream_order_and_global_metrics_sum_the_nodes() -> None:
    sim = Simulator(seed=3, config=SimConfig(link=LinkModel(latency=Uniform(0.001, 0.2))))
    for n in "abc":
        sim.add_node(n, echo)
    sim.set_slow("b", 0.05)
    a, c = sim.core("a", EchoCore), sim.core("c", EchoCore)
    for i in range(30):
        sim.call("a", a, partial(a.send, "b", bytes([i])))
        sim.call("c", c, partial(c.ping, "b", bytes([i])))
    sim.run_until_quiet()
    assert [r.body[0] for r in got(sim, "b", "data")] == list(range(30))
    arrivals = [r.at for r in got(sim, "b", "data")]
    assert all(y - x >= 0.05 - 1e-9 for x, y in itertools.pairwise(arrivals))  # one at a time
    per_node = [sim.metrics(n).as_dict() for n in "abc"]
    total = sim.metrics().as_dict()
    for proto, counters in total.items():
        for name, value in counters.items():
            assert value == sum(m[proto][name] for m in per_node)
    assert total["app"]["sent_msgs"] == 30 + 30 + 30  # frames, pings, pongs
