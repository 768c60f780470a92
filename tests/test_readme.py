"""The README's quick start is proven, not just shown. (The main job, ``bash scripts/demo.sh`` =
``python -m examples.cart demo``, is tested in ``tests/examples/test_cart_api.py``, and the
"use it as a library" program in ``tests/examples/test_readme_library.py``.)"""

from __future__ import annotations

import re
from pathlib import Path

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


def test_the_main_job_is_the_cart_demo() -> None:
    script = (ROOT / "scripts" / "demo.sh").read_text(encoding="utf-8")
    assert "python -m examples.cart demo" in script
    assert '_venv.sh "example"' in script  # the demo installs only what it needs
