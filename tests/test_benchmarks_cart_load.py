"""Smoke test of ``python -m benchmarks.cart_load --quick``: three real cart nodes, shoppers, node c
killed with SIGKILL and restarted mid-run; the cluster converges and no acknowledged write is
lost (the figures themselves are the benchmark's business)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import cart_load


def test_quick_run_loses_nothing_and_writes_goals(tmp_path: Path) -> None:
    out = tmp_path / "cart_load.quick.json"
    cart_load.main(["--quick", "--no-progress", "--out", str(out)])
    res = json.loads(out.read_text())
    assert res["benchmark"] == "cart_load" and res["quick"] is True
    assert set(res["goals"]) == {
        "requests_per_s",
        "p99_ms_at_half_rate",
        "lost_acknowledged_writes",
        "converged",
    }
    assert res["goals"]["lost_acknowledged_writes"]["value"] == 0
    assert res["goals"]["converged"]["value"] == 1
    assert res["acknowledged_writes"] > 0
    phases = {r["phase"]: r for r in res["rows"]}
    assert {"max", "paced", "paced: before kill"} <= set(phases)
    assert (tmp_path / "cart_load.quick.png").stat().st_size > 1000
