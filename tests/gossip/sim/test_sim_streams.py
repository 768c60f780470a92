"""Streams: per-direction FIFO, PeerUnreachable on crash, partition and refused connect; close."""

from __future__ import annotations

from functools import partial

import pytest

from gossip.sim import Latency, LinkModel, SimConfig, Simulator, Uniform
from tests.gossip.sim._cores import EchoCore, SinkCore, echo, got

JITTER = Uniform(0.001, 0.050)


def net(*names: str, latency: float | Latency = JITTER, delay: float = 0.3) -> Simulator:
    link = LinkModel(latency=latency, loss=0.5, duplicate=0.5, reorder=0.5)  # packets only
    sim = Simulator(seed=5, config=SimConfig(link=link, unreachable_delay=delay))
    for n in names:
        sim.add_node(n, echo)
    return sim


def test_stream_frames_arrive_once_and_in_order_despite_jittery_lossy_links() -> None:
    sim = net("a", "b")
    a = sim.core("a", EchoCore)
    for i in range(300):
        sim.call("a", a, partial(a.send, "b", i.to_bytes(2, "big")))
        sim.run_for(0.0005)
    sim.run_until_quiet()
    seq = [int.from_bytes(r.body, "big") for r in got(sim, "b", "data")]
    assert seq == list(range(300))
    assert sim.connections("a") == ["b"] and sim.connections("b") == ["a"]


def test_each_direction_is_ordered_independently() -> None:
    sim = net("a", "b")
    a, b = sim.core("a", EchoCore), sim.core("b", EchoCore)
    for i in range(100):
        sim.call("a", a, partial(a.send, "b", bytes([i])))
        sim.call("b", b, partial(b.send, "a", bytes([i])))
    sim.run_until_quiet()
    assert [r.body[0] for r in got(sim, "b", "data")] == list(range(100))
    assert [r.body[0] for r in got(sim, "a", "data")] == list(range(100))


def test_crash_drops_queued_frames_and_tells_the_peer_after_the_detection_delay() -> None:
    sim = net("a", "b", latency=0.2, delay=0.3)
    a = sim.core("a", EchoCore)
    sim.call("a", a, lambda now: a.send("b", b"1", now))
    sim.run_for(0.3)  # frame 1 delivered at 0.2
    sim.call("a", a, lambda now: a.send("b", b"2", now))  # in flight until 0.5
    sim.run_for(0.1)
    sim.crash("b")  # at 0.4
    sim.run_until_quiet()
    assert [r.body for r in got(sim, "b", "data")] == [b"1"]
    (un,) = got(sim, "a", "unreachable")
    assert un.peer == "b" and un.at == pytest.approx(0.7)
    assert sim.connections("a") == []
    assert sim.metrics("a").get("app", "dropped_msgs") == 1


def test_sending_to_a_crashed_node_yields_peer_unreachable() -> None:
    sim = net("a", "b", latency=0.01, delay=0.25)
    a = sim.core("a", EchoCore)
    sim.crash("b")
    sim.call("a", a, lambda now: a.send("b", b"x", now))
    sim.call("a", a, lambda now: a.send("ghost", b"x", now))
    sim.run_until_quiet()
    un = got(sim, "a", "unreachable")
    assert [(u.peer, u.body, u.at) for u in un] == [
        ("b", b"connection refused", 0.25),
        ("ghost", b"no node", 0.25),
    ]


def test_partition_breaks_open_streams_on_both_sides_and_refuses_new_ones() -> None:
    sim = net("a", "b", "c", latency=0.01, delay=0.1)
    a = sim.core("a", EchoCore)
    sim.call("a", a, lambda now: a.send("b", b"x", now))
    sim.call("a", a, lambda now: a.send("c", b"x", now))
    sim.run_for(1.0)
    sim.partition(["a"], ["b", "c"])
    sim.run_for(1.0)
    assert [u.peer for u in got(sim, "a", "unreachable")] == ["b", "c"]
    assert [u.peer for u in got(sim, "b", "unreachable")] == ["a"]
    sim.call("a", a, lambda now: a.send("b", b"y", now))
    sim.run_for(1.0)
    assert [u.peer for u in got(sim, "a", "unreachable")] == ["b", "c", "b"]
    assert [r.body for r in got(sim, "b", "data")] == [b"x"]
    sim.heal()
    sim.call("a", a, lambda now: a.send("b", b"z", now))
    sim.run_for(1.0)
    assert [r.body for r in got(sim, "b", "data")] == [b"x", b"z"]


def test_one_way_partition_also_breaks_streams() -> None:
    sim = net("a", "b", latency=0.01, delay=0.1)
    a = sim.core("a", EchoCore)
    sim.call("a", a, lambda now: a.send("b", b"x", now))
    sim.run_for(1.0)
    sim.partition_one_way("b", "a")
    sim.run_for(1.0)
    assert [u.peer for u in got(sim, "a", "unreachable")] == ["b"]
    assert [u.peer for u in got(sim, "b", "unreachable")] == ["a"]


def test_every_core_of_the_node_hears_peer_unreachable() -> None:
    sim = Simulator(seed=1, config=SimConfig(unreachable_delay=0.0))
    sim.add_node("a", lambda ctx: [EchoCore(ctx), SinkCore(ctx)])
    sim.call("a", "app", lambda now: sim.core("a", EchoCore).send("zz", b"", now))
    sim.run_until_quiet()
    assert [
        r.protocol for r in sim.emitted("a") if getattr(r.event, "what", "") == "unreachable"
    ] == [
        "app",
        "sync",
    ]


def test_close_flushes_in_flight_frames_then_reconnects_on_demand() -> None:
    sim = net("a", "b", latency=0.1)
    a = sim.core("a", EchoCore)
    sim.call("a", a, lambda now: a.send("b", b"1", now))
    sim.call("a", a, lambda now: a.close("b"))
    assert sim.connections("a") == [] and sim.connections("b") == []
    sim.run_until_quiet()
    assert [r.body for r in got(sim, "b", "data")] == [b"1"]
    assert got(sim, "a", "unreachable") == []
    sim.call("a", a, lambda now: a.send("b", b"2", now))
    assert sim.connections("b") == ["a"]
    sim.run_until_quiet()
    assert [r.body for r in got(sim, "b", "data")] == [b"1", b"2"]


def test_reply_on_the_same_connection() -> None:
    sim = Simulator(seed=2)
    sim.add_node("a", echo)
    sim.add_node("b", lambda ctx: [EchoCore(ctx, echo_streams=True)])
    a = sim.core("a", EchoCore)
    for i in range(20):
        sim.call("a", a, partial(a.send, "b", bytes([i])))
    sim.run_until_quiet()
    assert [r.body[0] for r in got(sim, "a", "data")] == list(range(20))
