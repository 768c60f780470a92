"""``python -m benchmarks.swim --quick --no-real`` runs and writes every goal the issue names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_quick_benchmark_writes_goals(tmp_path: Path) -> None:
    out = tmp_path / "swim.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.swim",
            "--quick",
            "--no-real",
            "--no-progress",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=240,
    )
    data = json.loads(out.read_text())
    assert data["quick"] is True
    goals = data["goals"]
    for name in (
        "load_flat_in_n_max_over_min",
        "first_detection_mean_within_10pct_of_paper",
        "dissemination_gossip_fits_log_n_r2",
        "lifeguard_false_positive_reduction",
        "lifeguard_median_detection_latency_ratio",
        "joins_under_loss_all_stay_members",
    ):
        assert set(goals[name]) >= {"value", "target", "met"}
    parts = {row["part"] for row in data["rows"]}
    assert parts == {
        "1 load",
        "2 first detection",
        "3 dissemination",
        "4 false positives",
        "5 joins under loss",
    }
    # The idle load is SWIM's constant: about one ping and one ack per member per period.
    for n, load in data["results"]["load"].items():
        assert 1.5 < load["sent"] < 3.0, n
    assert (tmp_path / "swim.png").stat().st_size > 10_000
