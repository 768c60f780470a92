"""Smoke test of ``python -m benchmarks.storage --quick``: it runs and its JSON holds the goals and
sections the docs rely on (the figures themselves are the benchmark's business)."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.storage import main


def test_quick_run_writes_goals_and_sections(tmp_path: Path) -> None:
    out = tmp_path / "storage.json"
    main(["--quick", "--out", str(out), "--no-progress"])
    data = json.loads(out.read_text())
    for goal in (
        "group_commit_writes_per_s",
        "single_writer_p99_ms",
        "startup_scan_1m_s",
        "startup_load_1m_s",
    ):
        assert set(data["goals"][goal]) >= {"value", "target", "met"}
    assert data["startup"]["scan"]["objects"] == data["startup"]["load"]["objects"] == 20_000
    assert data["startup"]["load"]["corrupt"] == 0
    assert all(r["writes"] > 0 for r in data["group_commit"])
    assert (tmp_path / "storage.quick.png").stat().st_size > 0
