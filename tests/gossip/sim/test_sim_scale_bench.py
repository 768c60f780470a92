"""Smoke test of ``python -m benchmarks.sim_scale --quick``: it runs and writes its results."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.sim_scale import main


def test_quick_synthetic_run_writes_goals_runs_and_a_plot(tmp_path: Path) -> None:
    out = tmp_path / "sim_scale.json"
    main(
        [
            "--quick",
            "--workload",
            "synthetic",
            "--sizes",
            "50,120",
            "--virtual",
            "2",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    data = json.loads(out.read_text())
    assert set(data["goals"]) == {"wall_10k_s_at_120_nodes_2s", "peak_mem_10k_gib_at_120_nodes_2s"}
    for goal in data["goals"].values():
        assert {"value", "target", "met"} <= set(goal)
    runs = data["runs"]
    assert [(r["workload"], r["nodes"]) for r in runs] == [("synthetic", 50), ("synthetic", 120)]
    for r in runs:
        assert "failed" not in r
        assert r["virtual_reached_s"] == 2
        assert r["events"] > r["nodes"] * 2 * 20  # ~25 events per node and virtual second
        assert r["msgs_dropped"] == 0 and r["msgs_sent"] > 0
    assert (tmp_path / "sim_scale.png").stat().st_size > 0


def test_quick_real_run_reports_convergence(tmp_path: Path) -> None:
    out = tmp_path / "sim_scale.json"
    main(
        [
            "--workload",
            "real",
            "--sizes",
            "60",
            "--virtual",
            "30",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    (run,) = json.loads(out.read_text())["runs"]
    assert "failed" not in run and run["virtual_reached_s"] == 30
    assert run["bootstrap"] == "seeded" and run["nodes_started"] == 60
    assert run["nodes_live"] == 59  # one seeded node crashed at 10 s
    # 30 virtual s are enough at 60 nodes: every live view is exactly the live nodes, the joiners
    # included, and every live node has declared the crashed one dead.
    assert run["swim_members_min"] == run["swim_members_max"] == 59
    assert run["swim_full_view_fraction"] == 1.0
    assert run["swim_crashed_seen_dead_fraction"] == 1.0
    assert run["hyparview_active_min"] >= 1 and run["hyparview_isolated"] == 0
    assert run["per_protocol_sent"]["swim"] > 0 and run["per_protocol_sent"]["hyparview"] > 0
