"""Packets: delivery, latency distributions, loss / duplication / reordering statistics."""

from __future__ import annotations

import itertools
import random
import statistics
from functools import partial

import pytest

from gossip import ConfigError, SendPacket, UsageError
from gossip.sim import Constant, Exponential, LinkModel, SimConfig, Simulator, Uniform
from tests.gossip.sim._cores import EchoCore, echo, got


def two_nodes(link: LinkModel, seed: int = 1) -> Simulator:
    sim = Simulator(seed=seed, config=SimConfig(link=link))
    sim.add_node("a", echo)
    sim.add_node("b", echo)
    return sim


def test_ping_pong_round_trip_takes_two_constant_latencies() -> None:
    sim = two_nodes(LinkModel(latency=Constant(0.25)))
    a = sim.core("a", EchoCore)
    sim.run_for(1.0)
    sim.call("a", a, lambda now: a.ping("b", b"x", now))
    sim.run_for(2.0)
    (pong,) = got(sim, "a", "pong")
    assert pong.peer == "b" and pong.body == b"x"
    assert pong.at == pytest.approx(1.5)
    assert sim.now == 3.0


def test_per_link_override_applies_to_one_direction_only() -> None:
    sim = two_nodes(LinkModel(latency=0.010))
    sim.set_link("a", "b", LinkModel(latency=0.100), both_ways=False)
    a = sim.core("a", EchoCore)
    sim.call("a", a, lambda now: a.ping("b", b"", now))
    sim.run_until_quiet()
    (pong,) = got(sim, "a", "pong")
    assert pong.at == pytest.approx(0.110)
    sim.reset_link("a", "b")
    sim.call("a", a, lambda now: a.ping("b", b"", now))
    start = sim.now
    sim.run_until_quiet()
    assert got(sim, "a", "pong")[1].at - start == pytest.approx(0.020)


def _one_way_delays(link: LinkModel, n: int, seed: int = 3) -> list[float]:
    sim = two_nodes(link, seed)
    a = sim.core("a", EchoCore)
    for i in range(n):
        sim.call("a", a, partial(a.raw, "b", bytes([0x7F]) + i.to_bytes(4, "big")))
    sim.run_until_quiet()
    arrivals = got(sim, "b", "packet")
    return [r.at for r in arrivals]


def test_uniform_latency_stays_in_bounds_and_has_the_right_mean() -> None:
    delays = _one_way_delays(LinkModel(latency=Uniform(0.010, 0.030)), 2000)
    assert len(delays) == 2000
    assert min(delays) >= 0.010 and max(delays) <= 0.030
    assert statistics.fmean(delays) == pytest.approx(0.020, abs=0.001)


def test_exponential_latency_has_base_and_mean_tail() -> None:
    delays = _one_way_delays(LinkModel(latency=Exponential(0.050, base=0.010)), 3000)
    assert min(delays) >= 0.010
    assert statistics.fmean(delays) == pytest.approx(0.060, rel=0.08)


def test_user_callable_latency_draws_from_the_network_rng() -> None:
    delays = _one_way_delays(LinkModel(latency=lambda rng: rng.choice([0.001, 0.002])), 400)
    assert set(delays) == {0.001, 0.002}


def test_negative_latency_from_a_callable_is_a_usage_error() -> None:
    sim = two_nodes(LinkModel(latency=lambda rng: -1.0))
    a = sim.core("a", EchoCore)
    with pytest.raises(UsageError):
        sim.call("a", a, lambda now: a.ping("b", b"", now))


def test_loss_rate_matches_within_bounds_and_is_counted() -> None:
    n = 4000
    delays = _one_way_delays(LinkModel(latency=0.001, loss=0.2), n)
    lost = n - len(delays)
    assert 0.17 * n < lost < 0.23 * n
    sim = two_nodes(LinkModel(latency=0.001, loss=0.2), seed=3)
    a = sim.core("a", EchoCore)
    for _ in range(n):
        sim.call("a", a, lambda now: [SendPacket("b", b"\x7f")])
    sim.run_until_quiet()
    m = sim.metrics("a")
    assert m.get("app", "sent_msgs") == n
    assert m.get("app", "dropped_msgs") == n - sim.metrics("b").get("app", "recv_msgs")
    assert m.get("app", "dropped_bytes") == m.get("app", "dropped_msgs")


def test_duplication_rate_within_bounds() -> None:
    n = 3000
    delays = _one_way_delays(LinkModel(latency=Uniform(0.001, 0.002), duplicate=0.1), n)
    dups = len(delays) - n
    assert 0.08 * n < dups < 0.12 * n


def test_reordering_holds_back_the_expected_share() -> None:
    n = 3000
    sim = two_nodes(LinkModel(latency=0.001, reorder=0.1, reorder_window=0.5))
    a = sim.core("a", EchoCore)
    for i in range(n):
        sim.call("a", a, partial(a.raw, "b", bytes([0x7F]) + i.to_bytes(4, "big")))
        sim.run_for(0.001)
    sim.run_until_quiet()
    seq = [int.from_bytes(r.body[1:], "big") for r in got(sim, "b", "packet")]
    assert sorted(seq) == list(range(n))
    late = sum(
        1
        for r in got(sim, "b", "packet")
        if r.at - int.from_bytes(r.body[1:], "big") * 0.001 > 0.0011
    )
    assert 0.08 * n < late < 0.12 * n
    inversions = sum(1 for x, y in itertools.pairwise(seq) if x > y)
    assert inversions > 0.05 * n


def test_packets_to_unknown_or_crashed_nodes_are_dropped_not_raised() -> None:
    sim = two_nodes(LinkModel())
    a = sim.core("a", EchoCore)
    sim.call("a", a, lambda now: a.ping("nobody", b"", now))
    sim.crash("b")
    sim.call("a", a, lambda now: a.ping("b", b"", now))
    sim.run_until_quiet()
    assert sim.metrics("a").get("app", "dropped_msgs") == 2
    drops = [e.detail[3] for e in sim.trace if e.kind == "drop"]
    assert drops == ["no node", "crashed"]


def test_in_flight_packets_to_a_node_that_crashes_are_lost() -> None:
    sim = two_nodes(LinkModel(latency=1.0))
    a = sim.core("a", EchoCore)
    sim.call("a", a, lambda now: a.ping("b", b"", now))
    sim.run_for(0.5)
    sim.crash("b")
    sim.restart("b")  # the packet was addressed to the old incarnation
    sim.run_until_quiet()
    assert sim.core("b", EchoCore).handled == 0
    assert sim.metrics("a").get("app", "dropped_msgs") == 1


def test_link_model_validation() -> None:
    with pytest.raises(ConfigError):
        LinkModel(loss=1.5)
    with pytest.raises(ConfigError):
        LinkModel(latency=-0.1)
    with pytest.raises(ConfigError):
        Uniform(0.2, 0.1)
    with pytest.raises(ConfigError):
        Exponential(0.0)
    with pytest.raises(ConfigError):
        SimConfig(unreachable_delay=-1)
    assert Constant(0.5)(random.Random(0)) == 0.5
