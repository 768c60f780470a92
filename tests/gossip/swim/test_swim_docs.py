"""The simulator example of docs/swim.md runs and its assertions hold."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "swim.md"


def test_docs_simulator_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    sim_block = next(b for b in blocks if "Simulator(" in b)
    assert sim_block.count("assert") >= 3
    exec(compile(sim_block, "docs/swim.md", "exec"), {"__name__": "docs_swim"})
