"""Smoke test of ``python -m benchmarks.sync_bandwidth --quick``: it runs, and its JSON has the
structure the docs and the goals rely on (figures themselves are the benchmark's business)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.sync_bandwidth import GMap, main


def test_quick_run_writes_goals_rows_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "sync_bandwidth.json"
    main(["--quick", "--out", str(out), "--no-progress"])
    data = json.loads(out.read_text())
    assert data["quick"] is True
    for goal in (
        "classic_delta_vs_state_min",
        "classic_delta_vs_state_max",
        "default_vs_bp_rr_worst",
        "bp_rr_scaling_linearity",
        "catchup_bytes_vs_changed_state",
        "catchup_merkle_vs_keyspace",
        "idle_tick_large_vs_small_keyspace",
    ):
        assert set(data["goals"][goal]) >= {"value", "target", "met"}
    modes = {"state", "delta", "delta_bp", "delta_rr", "delta_bp_rr", "default"}
    for case, by_mode in data["micro"].items():
        assert set(by_mode) == modes, case
        assert by_mode["state"]["ratio_elements"] == 1.0
        # BP+RR never sends more than classic delta, and the default never more than BP+RR.
        assert by_mode["delta_bp_rr"]["elements"] <= by_mode["delta"]["elements"]
        assert by_mode["default"]["elements"] <= by_mode["delta_bp_rr"]["elements"]
    assert [s["nodes"] for s in data["scaling"]] == [16, 32]
    assert {c["changed"] for c in data["catchup"]} == {50}
    assert [r["objects"] for r in data["idle"]] == [1_000, 10_000]
    assert (tmp_path / "sync_bandwidth.png").stat().st_size > 0


def test_gmap_is_a_lattice_with_a_minimal_diff() -> None:
    a, b = GMap(), GMap()
    a.set(1, 5, "x")
    a.set(2, 1, "x")
    b.set(1, 3, "y")
    b.set(3, 1, "y")
    d = a.diff(b)
    assert d.e == {1: (5, "x"), 2: (1, "x")}
    assert b.join(d) == a.join(b)
    assert a.leq(a.join(b)) and not a.leq(b)
    assert len(a.join(b).decompose()) == 3
    assert a.set(1, 4, "z").e == {}  # an older write is no change
