"""Properties of the network model over generated schedules (Hypothesis)."""

from __future__ import annotations

import random
from functools import partial

from hypothesis import given
from hypothesis import strategies as st

from gossip.sim import LinkModel, SimConfig, Simulator
from tests.gossip.sim._cores import EchoCore, echo, got

# A schedule: (sender, gap before the send in ms); latencies are drawn from a generated list.
schedules = st.lists(st.tuples(st.sampled_from("ab"), st.integers(0, 30)), max_size=40)
latencies = st.lists(st.integers(0, 100), min_size=1, max_size=10)


def _cyclic(values: list[int]) -> LinkModel:
    it = iter(values * 1000)
    return LinkModel(latency=lambda rng: next(it) / 1000, loss=0.3, duplicate=0.3)


@given(schedule=schedules, lats=latencies)
def test_streams_deliver_every_frame_once_in_order_per_direction(
    schedule: list[tuple[str, int]], lats: list[int]
) -> None:
    sim = Simulator(seed=0, config=SimConfig(link=_cyclic(lats)))
    sim.add_node("a", echo)
    sim.add_node("b", echo)
    sent: dict[str, list[int]] = {"a": [], "b": []}
    for i, (src, gap) in enumerate(schedule):
        sim.run_for(gap / 1000)
        core = sim.core(src, EchoCore)
        sim.call(src, core, partial(core.send, "b" if src == "a" else "a", i.to_bytes(2, "big")))
        sent[src].append(i)
    sim.run_until_quiet()
    assert [int.from_bytes(r.body, "big") for r in got(sim, "b", "data")] == sent["a"]
    assert [int.from_bytes(r.body, "big") for r in got(sim, "a", "data")] == sent["b"]


@given(seed=st.integers(0, 2**32), n=st.integers(1, 60), loss=st.sampled_from([0.0, 0.3]))
def test_packets_without_duplication_are_received_once_or_counted_dropped(
    seed: int, n: int, loss: float
) -> None:
    link = LinkModel(latency=lambda rng: rng.uniform(0, 0.05), loss=loss, reorder=0.5)
    sim = Simulator(seed=seed, config=SimConfig(link=link))
    sim.add_node("a", echo)
    sim.add_node("b", echo)
    a = sim.core("a", EchoCore)
    for i in range(n):
        sim.call("a", a, partial(a.raw, "b", b"\x7f" + bytes([i])))
    sim.run_until_quiet()
    bodies = [r.body[1] for r in got(sim, "b", "packet")]
    assert len(bodies) == len(set(bodies))  # nothing delivered twice
    sa, sb = sim.metrics("a"), sim.metrics("b")
    assert sa.get("app", "sent_msgs") == n
    assert sb.get("app", "recv_msgs") == len(bodies) == n - sa.get("app", "dropped_msgs")
    if loss == 0.0:
        assert sorted(bodies) == list(range(n))


@given(seed=st.integers(0, 2**32), n=st.integers(1, 60))
def test_duplicated_packets_arrive_at_most_twice_and_never_get_lost(seed: int, n: int) -> None:
    link = LinkModel(latency=lambda rng: rng.uniform(0, 0.05), duplicate=0.5)
    sim = Simulator(seed=seed, config=SimConfig(link=link))
    sim.add_node("a", echo)
    sim.add_node("b", echo)
    a = sim.core("a", EchoCore)
    for i in range(n):
        sim.call("a", a, partial(a.raw, "b", b"\x7f" + bytes([i])))
    sim.run_until_quiet()
    bodies = [r.body[1] for r in got(sim, "b", "packet")]
    assert sorted(set(bodies)) == list(range(n))
    assert all(bodies.count(i) <= 2 for i in range(n))
    assert sim.metrics("a").get("app", "dropped_msgs") == 0


@given(seed=st.integers(0, 2**32))
def test_one_seed_one_trace(seed: int) -> None:
    def run() -> str:
        link = LinkModel(latency=lambda rng: rng.expovariate(100.0), loss=0.2, reorder=0.3)
        sim = Simulator(seed=seed, config=SimConfig(link=link))
        for n in "abc":
            sim.add_node(n, echo)
        rng = random.Random(seed)
        for _ in range(20):
            src, dst = rng.sample("abc", 2)
            core = sim.core(src, EchoCore)
            sim.call(src, core, partial(core.ping, dst, b""))
            sim.call(src, core, partial(core.send, dst, b"s"))
            sim.run_for(rng.random() / 50)
        sim.run_until_quiet()
        return sim.trace_digest()

    assert run() == run()
