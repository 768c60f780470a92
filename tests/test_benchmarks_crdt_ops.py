"""Smoke test of ``python -m benchmarks.crdt_ops --quick``: it runs, and writes the results
structure the docs and the goals rely on (figures themselves are the benchmark's business)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import crdt_ops

GOALS = {
    "awlwwmap_put_speedup_vs_pycrdt",
    "awlwwmap_memory_vs_pycrdt",
    "update_100_keys_bytes",
    "update_100_keys_after_overwrites_bytes",
    "full_state_encode_vs_pycrdt",
    "full_state_decode_vs_pycrdt",
    "merge_10k_vs_pycrdt",
}


def test_quick_run_writes_goals_rows_and_machine(tmp_path: Path) -> None:
    out = tmp_path / "crdt_ops.quick.json"
    crdt_ops.main(["--quick", "--no-progress", "--out", str(out)])
    res = json.loads(out.read_text())
    assert res["benchmark"] == "crdt_ops" and res["quick"] is True
    assert set(res["goals"]) == GOALS
    for g in res["goals"].values():
        assert {"value", "target", "met"} <= set(g) and isinstance(g["met"], bool)
        assert g["value"] > 0
    metrics = [r["metric"] for r in res["rows"]]
    assert any(m.startswith("map puts") for m in metrics)
    assert any(m.startswith("update after 100 keys") for m in metrics)
    assert any(m.startswith("merge") for m in metrics)
    assert any(m.startswith("full-state decode") for m in metrics)  # pycrdt's side too
    assert any("encode(diff) -> decode -> merge" in m for m in metrics)
    assert "cpus" in res["machine"] and res["command"].startswith("python -m benchmarks.crdt_ops")
    # the compact delta is checked for correctness inside the run; its size is what we ship
    assert res["goals"]["update_100_keys_bytes"]["value"] < 4_000
