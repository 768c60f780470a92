"""The README's quick start and the runnable demo are proven, not just shown."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from examples.two_replicas import main

ROOT = Path(__file__).resolve().parent.parent


def quick_start_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1]
    m = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert m is not None, "README.md has no python block under '## Quick start'"
    return m.group(1)


def test_readme_quick_start_runs() -> None:
    code = quick_start_block()
    assert "assert" in code  # the block checks its own claims
    scope: dict[str, object] = {"__name__": "readme"}
    exec(compile(code, "README.md:quick-start", "exec"), scope)
    assert scope["a"] == scope["b"]


def test_demo_converges_and_says_so() -> None:
    lines: list[str] = []
    assert main([], out=lines.append) == 0
    text = "\n".join(lines)
    assert "converged: both carts are equal." in text
    assert "lost" in text  # the channel really lost messages on the way
    final = [ln for ln in lines if ln.startswith(("   alice-phone :", "   alice-laptop:"))][-2:]
    assert final[0].split(":", 1)[1] == final[1].split(":", 1)[1]


def test_demo_converges_for_many_seeds_and_heavy_loss() -> None:
    for seed in range(20):
        assert (
            main(["--seed", str(seed), "--loss", "0.6", "--max-rounds", "200"], out=lambda s: None)
            == 0
        )


def test_demo_fails_loudly_when_it_cannot_converge() -> None:
    lines: list[str] = []
    assert main(["--loss", "1.0", "--max-rounds", "3"], out=lines.append) == 1
    assert any("NOT converged" in ln for ln in lines)


def test_python_m_examples_exits_0() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "examples"],
        check=False,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "converged" in res.stdout
