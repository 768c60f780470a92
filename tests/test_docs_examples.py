"""Every code example of ``README.md`` and ``docs/*.md`` runs (``tests/_docs.py`` says how, and
how a page marks a block that cannot run on its own: visibly, with a reason)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._docs import ROOT, Block, MarkerError, blocks, doc_files, run_block, run_file

FILES = [p for p in doc_files() if blocks(p)]
PARTIAL = [b for p in FILES for b in blocks(p) if b.mode != "run"]


@pytest.mark.parametrize("path", FILES, ids=[p.relative_to(ROOT).as_posix() for p in FILES])
def test_the_examples_of_a_page_run(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # an example that writes files writes them here
    run_file(path)


@pytest.mark.parametrize("block", PARTIAL, ids=[b.id for b in PARTIAL])
def test_a_marked_example(block: Block) -> None:
    """Listed one by one, so the blocks that do not run in full show in every test report."""
    if block.mode == "skip":
        pytest.skip(f"marked in the page: {block.reason}")
    run_block(block, {"__name__": "docs_imports"})  # imports-only: its imports still resolve


def test_every_page_with_python_is_checked() -> None:
    pages = {p.name for p in FILES}
    assert "README.md" in pages and "testing.md" in pages


def test_markers_need_a_mode_and_a_reason(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("<!-- docs-test: skip -->\n```python\nraise SystemExit\n```\n")
    with pytest.raises(MarkerError):
        blocks(page)
    page.write_text("<!-- docs-test: later: soon -->\n```python\nraise SystemExit\n```\n")
    with pytest.raises(MarkerError):
        blocks(page)


def test_imports_only_still_fails_on_a_missing_name(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- docs-test: imports-only: needs a cluster -->\n"
        "```python\nfrom gossip import make_swim_core\nmake_swim_core(now)\n```\n"
    )
    (block,) = blocks(page)
    assert block.mode == "imports-only" and block.reason == "needs a cluster"
    with pytest.raises(ImportError):
        run_block(block, {})


def test_a_failing_example_fails(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("```python\nx = 1\n```\ntext\n```python\nassert x == 2\n```\n")
    with pytest.raises(AssertionError):
        run_file(page)
    page.write_text("```python\nimport anyio\nawait anyio.sleep(0)\ny = 3\n```\n")
    assert run_file(page)["y"] == 3
    page.write_text("```python\ndef test_shown() -> None:\n    assert 1 == 2\n```\n")
    with pytest.raises(AssertionError):
        run_file(page)  # a page's test_* functions are run too
