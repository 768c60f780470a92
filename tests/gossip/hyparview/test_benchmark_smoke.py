"""The benchmark runs end to end in --quick mode and writes the results the docs rely on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_quick_benchmark_writes_goals_and_series(tmp_path: Path) -> None:
    out = tmp_path / "hyparview.json"
    subprocess.run(
        [sys.executable, "-m", "benchmarks.hyparview", "--quick", "--no-progress", "--out", out],
        check=True,
        capture_output=True,
        timeout=240,
        cwd=Path(__file__).resolve().parents[3],
    )
    result = json.loads(out.read_text())
    assert result["quick"] is True
    goals = result["goals"]
    for name in (
        "reliability_after_2_rounds_min_up_to_80pct_failure",
        "recovery_rounds_max_up_to_80pct_failure",
        "better_than_fanout4_baseline_at_every_f",
        "connected_after_churn",
        "plumtree_rmr_settled_max",
        "plumtree_missed_messages",
    ):
        assert set(goals[name]) >= {"value", "target", "met"}
    per_f = result["resilience"]["n=100"]
    assert set(per_f) == {"0.2", "0.5", "0.8", "0.95"}
    for series in per_f.values():
        runs = [series["hyparview"], series["hyparview_no_resend"], series["baseline_fanout4"]]
        assert [len(r) for r in runs] == [6, 6, 6]
        assert all(0.0 <= r <= 1.0 for run in runs for r in run)
    health = result["health"]["n=100 after churn"]
    assert health["components"] >= 1 and 0.0 <= health["clustering_coefficient"] <= 1.0
    assert {r["loss"] for r in result["plumtree"]} == {0.0, 0.01}
    assert out.with_suffix(".png").stat().st_size > 0
