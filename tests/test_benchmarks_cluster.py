"""``benchmarks.cluster --skip-restart`` keeps the restart figures of the results file it replaces
(row, goal and ``restart``); the phases themselves are the benchmark's business."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import cluster
from benchmarks._harness import Bench


def _bench(out: Path, *extra: str) -> Bench:
    return Bench("cluster", argv=["--out", str(out), *extra], add_arguments=cluster._arguments)


def test_skip_restart_keeps_the_earlier_restart_figures(tmp_path: Path) -> None:
    out = tmp_path / "cluster.json"
    earlier = {
        "quick": False,
        "command": "python -m benchmarks.cluster --restart-only",
        "goals": {"restart_1m_s": {"value": 4.8, "target": "<= 60", "met": True}},
        "rows": [{"phase": "saturation", "writes": 1}, {"phase": "restart", "start_s": 4.8}],
        "restart": {"objects": 1_000_000, "process_start_to_ready_s": 4.8},
    }
    out.write_text(json.dumps(earlier))
    bench = _bench(out, "--skip-restart")
    bench.row(phase="saturation", writes=2)
    extra: dict[str, object] = {}
    cluster.keep_restart(bench, extra)
    res = bench.finish(extra=extra)
    assert [r["phase"] for r in res["rows"]] == ["saturation", "restart"]
    assert res["rows"][0]["writes"] == 2  # this run's, not the earlier one's
    assert res["goals"]["restart_1m_s"]["value"] == 4.8
    assert res["restart"]["process_start_to_ready_s"] == 4.8
    assert res["restart"]["command"] == "python -m benchmarks.cluster --restart-only"


def test_skip_restart_without_an_earlier_file_records_no_restart(tmp_path: Path) -> None:
    bench = _bench(tmp_path / "cluster.json", "--skip-restart")
    extra: dict[str, object] = {}
    cluster.keep_restart(bench, extra)
    assert extra == {} and bench.rows == [] and bench.goals == {}
