"""A short chaos run (2 seeds, 6 s of writes each, 5 node processes under the nemesis; and 1 seed
with each node in its own network namespace): every acknowledged write survives, so a regression
that loses writes fails here."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import chaos
from tests.sync.node.test_namespaces import ensure_nft


def test_quick_chaos_run_loses_no_acknowledged_write(tmp_path: Path) -> None:
    out = tmp_path / "chaos.quick.json"
    chaos.main(["--quick", "--no-progress", "--no-plot", "--out", str(out)])
    res = json.loads(out.read_text())
    assert res["goals"]["violations"]["met"], [r["violation_list"] for r in res["runs"]]
    assert res["goals"]["runs"]["value"] == 2
    for run in res["runs"]:
        assert run["ok"] > 50 and run["must_survive"] > 0
        assert not run["unbidden_exits"] and not run["identity_errors"]


def test_quick_chaos_run_in_network_namespaces(tmp_path: Path) -> None:
    ensure_nft()  # needs root, as CI runs; installs nftables if missing, fails loudly otherwise
    out = tmp_path / "chaos_netns.quick.json"
    chaos.main(
        ["--quick", "--netns", "--runs", "1", "--no-progress", "--no-plot", "--out", str(out)]
    )
    res = json.loads(out.read_text())
    assert res["goals"]["violations"]["met"], [r["violation_list"] for r in res["runs"]]
    (run,) = res["runs"]
    assert run["netns"] and run["ok"] > 50 and not run["unbidden_exits"]
