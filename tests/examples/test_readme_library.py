"""The README's "Use it as a library" program runs as printed (on free ports, without its wait)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from examples.cart._procs import free_port

ROOT = Path(__file__).resolve().parents[2]


def library_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use it as a library", 1)[1]
    m = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert m is not None, "README.md has no python block under '## Use it as a library'"
    return m.group(1)


def test_the_library_quick_start_runs_and_keeps_its_data(tmp_path: Path) -> None:
    code = library_block()
    assert "data_dir=" in code and "Node(config)" in code
    # free ports instead of 7101/7102 (the machine may be running the notes app), no 5 s wait
    code = code.replace("127.0.0.1:7101", f"127.0.0.1:{free_port()}")
    code = code.replace("127.0.0.1:7102", f"127.0.0.1:{free_port()}")
    code = code.replace("anyio.sleep(5)", "anyio.sleep(0)")
    for _ in range(2):  # the second run finds the note on disk
        res = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PYTHONPATH": str(ROOT), "PATH": ""},
        )
        assert res.returncode == 0, res.stderr
        assert "{'n1': '[ ] buy milk'}" in res.stdout, res.stdout
    assert (tmp_path / "notes-laptop").is_dir()
