"""The code examples of ``README.md`` and ``docs/*.md``: found, and run the way a reader would.

Every fenced ``python`` block is an example. The blocks of one file run in order in one namespace
(a later block may use what an earlier one defined), in a fresh temporary directory; a block with
a top-level ``await`` runs under asyncio. A block that cannot run on its own carries a marker on
the line right before its fence, with the reason, visible to every reader of the page::

    <!-- docs-test: imports-only: needs a running cluster -->

- ``imports-only: REASON``: only the block's ``import`` statements run (so a renamed or removed
  name still fails the suite); the rest is shown, not run.
- ``skip: REASON``: nothing runs (the test is reported as skipped, with the reason).

A marker without a reason, or with an unknown mode, fails the suite.

A page that shows pytest tests (top-level functions named ``test_*`` that take no arguments) has
them called once all its blocks ran, as pytest would.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

_FENCE = re.compile(r"^```python\s*$")
_MARKER = re.compile(r"^<!--\s*docs-test:\s*(?P<body>.*?)\s*-->\s*$")
MODES = ("run", "imports-only", "skip")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    code: str
    mode: str  # one of MODES
    reason: str

    @property
    def id(self) -> str:
        path = self.path.resolve()
        name = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
        return f"{name}:{self.line}"


class MarkerError(ValueError):
    pass


def doc_files() -> list[Path]:
    """README.md and every docs/*.md (new pages are picked up by themselves)."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        if _FENCE.match(lines[i]):
            start = i
            mode, reason = "run", ""
            prev = lines[i - 1] if i else ""
            m = _MARKER.match(prev.strip())
            if m:
                mode, _, reason = (s.strip() for s in m.group("body").partition(":"))
                if mode not in MODES[1:] or not reason:
                    raise MarkerError(
                        f"{path.name}:{i}: a docs-test marker is 'imports-only: REASON' or "
                        f"'skip: REASON', got {m.group('body')!r}"
                    )
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            out.append(Block(path, start + 1, "\n".join(body) + "\n", mode, reason))
        i += 1
    return out


def _imports_only(code: str, filename: str) -> ast.Module:
    tree = ast.parse(code, filename)
    tree.body = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    return tree


def run_block(block: Block, scope: dict[str, Any]) -> None:
    """Run one block in ``scope`` (as its mode says)."""
    filename = block.id
    if block.mode == "skip":
        return
    if block.mode == "imports-only":
        exec(compile(_imports_only(block.code, filename), filename, "exec"), scope)
        return
    code = compile(block.code, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    if code.co_flags & inspect.CO_COROUTINE:
        result = eval(code, scope)
        asyncio.run(result)
    else:
        exec(code, scope)


def run_file(path: Path) -> dict[str, Any]:
    """Every block of ``path`` in order, in one namespace, then the page's tests; returns it."""
    # a real module (dataclasses and pickling look their classes' module up in sys.modules)
    module = types.ModuleType(f"docs_{path.stem.replace('-', '_')}")
    scope: dict[str, Any] = module.__dict__
    sys.modules[module.__name__] = module
    try:
        for block in blocks(path):
            run_block(block, scope)
    finally:
        sys.modules.pop(module.__name__, None)
    for name, fn in list(scope.items()):
        if (
            name.startswith("test_")
            and inspect.isfunction(fn)
            and fn.__module__ == scope["__name__"]
            and not inspect.signature(fn).parameters
        ):
            result = fn()
            if inspect.iscoroutine(result):
                asyncio.run(result)
    return scope
