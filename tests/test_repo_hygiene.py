"""A fresh clone, anywhere, must pass: no tracked file names a path of the machine it was written
on, and no code reads a file outside the repository.

The data the project needs (e.g. the ICDE 2019 overlays in ``benchmarks/data/``) is copied into
the repository with its source cited, and read relative to the module that uses it.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Folders that are never part of the project, when the tree is walked without git (an sdist).
_SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "build",
    "dist",
    "_build",
    "mutants",
}

# A path of one machine: a home or work folder, or the folder of data that lived beside the
# checkout. (System paths such as /proc/meminfo or /dev/null are the same on every Linux box.)
_MACHINE_PATH = re.compile(
    r"(?<![\w.~-])/(?:work|home/\w+|Users/\w+|root|mnt|media)/"
    r"|(?<![\w-])\.\./shared/"
    r"|(?<![\w/-])shared/(?:data|design)"
)

# Top-level folders whose files belong to one machine; a string constant in code that starts with
# one of them reads (or writes) outside the repository.
# (System folders that packages install into, such as /usr/share or /proc, are the same on every
# machine of a distribution and are allowed.)
_MACHINE_ROOTS = [
    "data",
    "home",
    "media",
    "mnt",
    "opt",
    "root",
    "srv",
    "tmp",
    "work",
    "Users",
    "Volumes",
    "private",
]
_CODE_PATH = re.compile(r"^/(?:" + "|".join(_MACHINE_ROOTS) + r")(?:/|$)")


def tracked_files() -> list[Path]:
    """The repository's files: ``git ls-files`` in a checkout, else a walk (an unpacked sdist)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return [
            p
            for p in ROOT.rglob("*")
            if p.is_file()
            and not any(part in _SKIP_DIRS or part.endswith(".egg-info") for part in p.parts)
        ]
    # A file deleted in the work tree but not yet committed is no longer part of the project.
    names = [n for n in out.decode().split("\0") if n]
    return [ROOT / n for n in names if (ROOT / n).is_file()]


def _text(path: Path) -> str | None:
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None  # binary (a PNG plot)
    return data.decode("utf-8", errors="replace")


def test_the_file_list_is_the_project() -> None:
    files = {p.relative_to(ROOT).as_posix() for p in tracked_files()}
    assert {"pyproject.toml", "README.md", "benchmarks/data/icde19-microbench.json"} <= files


def test_no_tracked_file_names_a_machine_path() -> None:
    offenders = []
    for path in tracked_files():
        text = _text(path)
        if text is None:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if _MACHINE_PATH.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()[:120]}")
    assert not offenders, "machine paths in tracked files:\n" + "\n".join(offenders)


def test_no_code_names_a_path_outside_the_repository() -> None:
    offenders = []
    for path in tracked_files():
        if path.suffix != ".py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and _CODE_PATH.match(node.value)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    assert not offenders, "absolute paths in code:\n" + "\n".join(offenders)


@pytest.mark.parametrize(
    ("line", "bad"),
    [
        ("DATA = Path('/" + "work/shared/data/x.json')", True),
        ("see .." + "/shared/design.md", True),
        ("cd /" + "home/alice/deltamesh", True),
        ("read /proc/meminfo for the total", False),
        ("python -m benchmarks.sync_bandwidth --out results/x.json", False),
        ("benchmarks/data/icde19-microbench.json", False),
    ],
)
def test_the_guard_recognises_machine_paths(line: str, bad: bool) -> None:
    assert bool(_MACHINE_PATH.search(line)) is bad


def test_the_guard_recognises_paths_in_code() -> None:
    assert _CODE_PATH.match("/" + "work/shared/data/icde19-microbench.json")
    assert _CODE_PATH.match("/" + "tmp/x")
    assert not _CODE_PATH.match("/proc/cpuinfo")
    assert not _CODE_PATH.match("/usr/share/gocode")  # installed by a distribution package
    assert not _CODE_PATH.match("/gset")
    assert not _CODE_PATH.match("/carts/alice")


def test_benchmark_data_is_read_from_the_repository() -> None:
    from benchmarks import sync_bandwidth

    assert sync_bandwidth.DATA.is_file()
    assert sync_bandwidth.DATA.resolve().is_relative_to(ROOT)
