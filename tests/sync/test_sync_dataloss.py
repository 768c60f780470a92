"""The scenarios of a peer library's data-loss reports, on the simulator."""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import partial
from typing import Any

import crdts
from gossip.sim import LinkModel, Uniform
from sync import SyncConfig, SyncMode
from tests.sync._cluster import Cluster


def call(method: str, *args: Any) -> Callable[[Any], Any]:
    """A delta-mutator calling ``method(*args)`` on the object."""
    return lambda x: getattr(x, method)(*args)


def mesh(names: list[str]) -> list[tuple[str, str]]:
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]


def test_writers_at_several_nodes_at_about_the_sync_interval() -> None:
    names = [f"n{i}" for i in range(5)]
    cfg = SyncConfig(sync_interval=1.0)
    cl = Cluster(names, cfg, seed=3, link=LinkModel(latency=Uniform(0.001, 0.3)), edges=mesh(names))
    rng = random.Random(7)
    expected: set[str] = set()
    for k in range(30):
        for n in names:
            t = k * 1.0 + rng.uniform(-0.05, 0.05) + 1.0
            elem = f"{n}:{k}"
            expected.add(elem)
            cl.sim.schedule(t, partial(cl.add, n, "shared", elem))
    cl.sim.run_for(31.0)
    assert cl.sim.run_until_true(cl.converged, timeout=10.0)
    assert all(cl.engine(n).value("shared") == frozenset(expected) for n in names)


def test_many_writers_into_one_awlwwmap_at_the_sync_interval_over_a_lossy_network() -> None:
    # delta_crdt_ex issue #65: ten processes per node each put a fresh key into one AWLWWMap
    # every ~sync_interval, on 2+ nodes: keys went missing. Here 3 nodes x 10 writers x 20 puts
    # (plus removes of some keys), over datagrams with loss, duplication and reordering.
    names = ["a", "b", "c"]
    cfg = SyncConfig(sync_interval=0.2, use_packets=True)
    link = LinkModel(latency=Uniform(0.001, 0.08), loss=0.15, duplicate=0.05, reorder=0.2)
    cl = Cluster(names, cfg, seed=17, link=link, edges=mesh(names))
    rng = random.Random(5)
    expected: dict[str, str] = {}
    ts = 0
    for k in range(20):
        for n in names:
            for w in range(10):
                ts += 1
                key, val = f"{n}/{w}/{k}", f"v{ts}"
                expected[key] = val
                t = 0.5 + k * 0.2 + rng.uniform(-0.02, 0.02)
                cl.sim.schedule(
                    t, partial(cl.mutate, n, "m", call("put", n, key, val, ts), crdts.AWLWWMap)
                )
    # Each node removes its own keys of round 3 later (a remove only cancels what it has seen).
    for n in names:
        for w in range(10):
            expected.pop(f"{n}/{w}/3")
            cl.sim.schedule(
                6.0, partial(cl.mutate, n, "m", call("remove", f"{n}/{w}/3"), crdts.AWLWWMap)
            )
    cl.sim.run_for(7.0)
    assert cl.sim.run_until_true(cl.converged, timeout=30.0)
    for n in names:
        assert cl.engine(n).value("m") == expected


def test_catch_up_truncated_by_the_size_bound_never_deletes_unseen_entries() -> None:
    # a holds 300 ORSets with adds and removes; b, new to a, holds its own adds to the same keys.
    # The catch-up crosses in tiny steps over a lossy link; no step may make b lose an add.
    names = ["a", "b"]
    cfg = SyncConfig(
        sync_interval=0.5, max_message_bytes=400, max_messages_per_round=1, use_packets=True
    )
    link = LinkModel(latency=Uniform(0.001, 0.05), loss=0.3, duplicate=0.1, reorder=0.3)
    cl = Cluster(names, cfg, seed=5, link=link)
    a, b = cl.engine("a"), cl.engine("b")
    for i in range(300):
        key = f"cart:{i}"
        a.update(key, call("add", "a", f"x{i}"), create=crdts.ORSet)
        a.update(key, call("add", "a", f"y{i}"), create=crdts.ORSet)
        a.update(key, call("remove", f"x{i}"), create=crdts.ORSet)
        if i % 3 == 0:
            b.update(key, call("add", "b", f"b{i}"), create=crdts.ORSet)
    cl.link("a", "b")
    assert cl.sim.run_until_true(cl.converged, timeout=400.0)
    for i in range(300):
        want = {f"y{i}"} | ({f"b{i}"} if i % 3 == 0 else set())
        assert cl.engine("b").value(f"cart:{i}") == frozenset(want)
    cl.sim.run_for(10.0)
    assert a.metrics.catchups_completed == 1
    assert a.metrics.catchup_objects_shipped == 300
    assert a.metrics.peer("b").sent_msgs > 300 // 10  # it took many steps


def test_buffer_gc_racing_an_ack_with_neighbour_churn() -> None:
    names = ["a", "b", "c"]
    cfg = SyncConfig(sync_interval=0.2)
    cl = Cluster(names, cfg, seed=11, edges=[("a", "b"), ("a", "c")])
    cl.sim.set_link("a", "c", LinkModel(latency=0.35))  # c's acks arrive after the next round
    for k in range(40):
        cl.sim.schedule(k * 0.1, partial(cl.add, "a", "s", f"e{k}"))
        if k % 7 == 3:  # c leaves and comes back while its acks are in flight
            cl.sim.schedule(k * 0.1 + 0.05, partial(cl.unlink, "a", "c"))
            cl.sim.schedule(k * 0.1 + 0.15, partial(cl.link, "a", "c"))
    cl.sim.run_for(4.5)
    assert cl.sim.run_until_true(cl.converged, timeout=20.0)
    assert cl.engine("c").value("s") == frozenset(f"e{k}" for k in range(40))
    cl.sim.run_for(2.0)
    assert cl.engine("a").buffer_size == 0


def test_ten_thousand_keys_five_rounds_converge_in_a_few_sync_intervals() -> None:
    names = [f"n{i}" for i in range(3)]
    cfg = SyncConfig.lan()
    line = [("n0", "n1"), ("n1", "n2")]
    cl = Cluster(names, cfg, seed=2, link=LinkModel.lan(), edges=line)
    cl.sim.run_for(0.05)  # the Hellos
    for r in range(5):
        for i in range(10_000):
            n = names[(i + r) % 3]
            cl.engine(n).update(f"k{i}", call("increment", n), create=crdts.GCounter)
        # The line's diameter is 2: two rounds carry every write everywhere, one is slack.
        cl.sim.run_for(3 * cfg.sync_interval + 0.01)
        assert cl.converged()
    assert all(cl.engine(n).value(f"k{i}") == 5 for n in names for i in (0, 4321, 9999))
    assert len(cl.engine("n0")) == 10_000


def test_default_mode_sends_less_than_bp_rr_which_sends_less_than_classic() -> None:
    # On a full mesh, classic delta forwards each delta around every cycle; BP+RR stops that; the
    # default also skips what a neighbour has just sent us.
    sent = {}
    names = [f"n{i}" for i in range(5)]
    for mode in (SyncMode.DELTA, SyncMode.DELTA_BP_RR, SyncMode.DEFAULT):
        cl = Cluster(names, SyncConfig(mode=mode), seed=1, edges=mesh(names))
        for k in range(40):
            cl.sim.schedule(k * 0.5, partial(cl.add, names[k % 5], "s", f"e{k}"))
        cl.sim.run_for(30.0)
        assert cl.converged()
        assert cl.engine("n0").value("s") == frozenset(f"e{k}" for k in range(40))
        sent[mode] = sum(cl.engine(n).metrics.total().sent_objects for n in names)
    assert sent[SyncMode.DEFAULT] < sent[SyncMode.DELTA_BP_RR] < sent[SyncMode.DELTA]
