"""Convergence on the simulator, driven by Hypothesis: random overlays that change, loss,
duplication, reordering, partitions, and crashes that lose the engine (buffer, acks) but keep the
state. After healing and quiescence every replica holds every object, equal everywhere, with every
write made anywhere."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from gossip.sim import LinkModel, Uniform
from sync import SyncConfig, SyncMode
from tests.sync._cluster import Cluster

KEYS = 4


def ops(n: int) -> st.SearchStrategy[tuple[Any, ...]]:
    node = st.integers(0, n - 1)
    return st.one_of(
        st.tuples(st.just("write"), node, st.integers(0, KEYS - 1)),
        st.tuples(st.just("write"), node, st.integers(0, KEYS - 1)),
        st.tuples(st.just("link"), node, node),
        st.tuples(st.just("unlink"), node, node),
        st.tuples(st.just("partition"), st.sets(node, min_size=1, max_size=n - 1)),
        st.tuples(st.just("heal")),
        st.tuples(st.just("crash"), node),
        st.tuples(st.just("restart"), node),
        st.tuples(st.just("run"), st.sampled_from([0.05, 0.3, 1.0, 2.5])),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(3, 6))
    return {
        "n": n,
        "ops": draw(st.lists(ops(n), min_size=4, max_size=30))
        + [("write", i % n, i % KEYS) for i in range(draw(st.integers(1, 4)))],
        "mode": draw(st.sampled_from(list(SyncMode))),
        "lossy": draw(st.booleans()),
        "small_messages": draw(st.booleans()),
        "seed": draw(st.integers(0, 10_000)),
    }


def run_scenario(sc: dict[str, Any]) -> None:
    names = [f"n{i}" for i in range(sc["n"])]
    config = SyncConfig(
        mode=sc["mode"],
        sync_interval=0.5,
        use_packets=sc["lossy"],
        max_message_bytes=300 if sc["small_messages"] else 64 * 1024,
        max_messages_per_round=2 if sc["small_messages"] else 16,
        catchup_timeout=1.5,
    )
    link = (
        LinkModel(latency=Uniform(0.001, 0.05), loss=0.2, duplicate=0.1, reorder=0.2)
        if sc["lossy"]
        else LinkModel(latency=Uniform(0.001, 0.02))
    )
    ring = list(zip(names, names[1:] + names[:1], strict=True))
    cl = Cluster(names, config, seed=sc["seed"], link=link, edges=ring)
    written: dict[str, set[str]] = {f"s{k}": set() for k in range(KEYS)}
    counts: Counter[str] = Counter()
    w = 0
    for op in sc["ops"]:
        kind = op[0]
        if kind == "write":
            node = names[op[1]]
            if cl.sim.is_alive(node):
                w += 1
                cl.add(node, f"s{op[2]}", f"{node}:{w}")
                cl.incr(node, f"c{op[2]}")
                written[f"s{op[2]}"].add(f"{node}:{w}")
                counts[f"c{op[2]}"] += 1
        elif kind == "link":
            cl.link(names[op[1]], names[op[2]])
        elif kind == "unlink":
            cl.unlink(names[op[1]], names[op[2]])
        elif kind == "partition":
            cl.sim.partition([names[i] for i in sorted(op[1])])
        elif kind == "heal":
            cl.sim.heal()
        elif kind == "crash":
            cl.crash(names[op[1]])
        elif kind == "restart":
            cl.restart(names[op[1]])
        else:
            cl.sim.run_for(op[1])
    cl.sim.heal()
    for n in names:
        cl.restart(n)
    cl.connect_all()
    assert cl.sim.run_until_true(cl.converged, timeout=60.0) or cl.converged(), sc
    # Every write made anywhere is present everywhere.
    for n in names:
        eng = cl.engine(n)
        for key, elems in written.items():
            if elems:
                assert eng.value(key) == frozenset(elems), (n, key)
        for key, c in counts.items():
            assert eng.value(key) == c, (n, key)
    # And nothing stays pending: catch-ups finish and every buffer is collected.
    if sc["mode"] is not SyncMode.STATE:
        assert cl.sim.run_until_true(
            lambda: all(cl.engine(n).objects_pending() == 0 for n in names), timeout=60.0
        )
        assert all(cl.engine(n).buffer_size == 0 for n in names)


@given(scenarios())
def test_every_replica_converges_with_every_write(sc: dict[str, Any]) -> None:
    for op in sc["ops"]:
        event(op[0])
    run_scenario(sc)
