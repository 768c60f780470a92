"""Smoke test of ``python -m benchmarks.crdt_absorb --quick``: it runs and writes the results
structure the docs rely on (the figures themselves are the benchmark's business)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import crdt_absorb
from crdts import _accel


def test_quick_run_writes_goals_rows_and_restores_the_path(tmp_path: Path) -> None:
    before = {name: getattr(_accel, name) for name in _accel.__all__}
    out = tmp_path / "crdt_absorb.quick.json"
    crdt_absorb.main(["--quick", "--no-progress", "--out", str(out)])
    res = json.loads(out.read_text())
    assert res["benchmark"] == "crdt_absorb" and res["quick"] is True
    assert set(res["goals"]) == {"absorb_speedup_superseding_put", "absorb_speedup_fresh_put"}
    cases = {(r["path"], r["case"]) for r in res["rows"]}
    assert ("pure", "superseding put, already held") in cases
    assert all(r["absorb_us"] > 0 and r["leq_diff_merge_us"] > 0 for r in res["rows"])
    assert {name: getattr(_accel, name) for name in _accel.__all__} == before
