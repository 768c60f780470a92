"""The chaos checker over seeded simulator schedules (short): no violation with the real wiring,
and the reused-replica-id bug (a wiped node keeping its id) is caught."""

from __future__ import annotations

import pytest

from benchmarks.chaos_sim import SimChaos, run_one


@pytest.mark.parametrize(("seed", "nodes"), [(1, 5), (2, 10), (3, 5), (4, 20)])
def test_seeded_schedules_have_no_violation(seed: int, nodes: int) -> None:
    res = run_one(seed, nodes, virtual=12.0, settle=120.0, rate=30.0)
    assert res["converged"], res
    assert res["violations"] == 0, res["first"]
    assert res["faults"] and res["must_survive"] > 100


def test_a_wiped_node_reusing_its_replica_id_loses_writes() -> None:
    # seed 5 wipes a node that wrote before: with its old id, its new dots were already seen
    bad = SimChaos(5, 5, virtual=15.0, settle=60.0, rate=40.0, reuse_replica_id=True).go()
    assert bad["by_kind"].get("lost", 0) >= 1, bad
    good = SimChaos(5, 5, virtual=15.0, settle=60.0, rate=40.0).go()
    assert good["violations"] == 0 and good["converged"], good


def test_a_tight_flow_control_window_loses_nothing() -> None:
    # a 256-byte window (about one small chunk in flight per neighbour; it is full after ~1 in 5
    # sends here): the backlog waits and joins in the buffer, chunks are resent on the adaptive
    # timeout, held relays are dropped at send time
    tight = {"max_inflight_bytes": 256, "max_message_bytes": 512}
    res = run_one(7, 5, virtual=8.0, settle=120.0, rate=200.0, sync_overrides=tight)
    assert res["sync"] == tight
    assert res["converged"], res
    assert res["violations"] == 0, res["first"]
    assert res["faults"] and res["must_survive"] > 1000
