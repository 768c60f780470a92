"""Every third-party module our code imports comes from a distribution that the code's install
path declares. ``bash scripts/demo.sh`` installs the library with only its ``example`` extra, so a
module that only the test extras bring (``sniffio`` once came in with trio and went missing
there) would break the main job on a fresh machine while the whole suite stayed green. This
reads the imports (``ast``) instead of building a venv per extra, which would cost a minute."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = {"crdts", "gossip", "sync", "deltamesh", "examples"}
# Imported only where the thing they serve is already present, each with its reason.
OPTIONAL = {
    "trio": "imported only inside code that trio is running",
    "msvcrt": "Windows' file locking, imported only on Windows",
}
# What each tree may import, by the extras its users install.
TREES = {
    "crdts": (),
    "gossip": (),
    "sync": (),
    "deltamesh": (),
    "crdts/testing": ("testing",),
    "examples": ("example",),
}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _declared(extras: tuple[str, ...]) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    for extra in extras:
        names |= {_name(r) for r in project["optional-dependencies"][extra]}
    return names


def _imports(path: Path) -> set[str]:
    tops: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            tops |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops.add(node.module.split(".")[0])
    return tops


def _third_party(tree: str) -> dict[str, set[str]]:
    """Top-level module -> the files of ``tree`` importing it (subtrees with own rules excluded)."""
    found: dict[str, set[str]] = {}
    others = [t for t in TREES if t != tree and t.startswith(tree + "/")]
    for path in sorted((ROOT / tree).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if any(rel.startswith(o + "/") for o in others):
            continue
        for top in _imports(path) - OURS - set(sys.stdlib_module_names) - OPTIONAL.keys():
            found.setdefault(top, set()).add(rel)
    return found


def test_every_import_comes_from_a_declared_distribution() -> None:
    dists = {
        module: {d.lower().replace("_", "-") for d in names}
        for module, names in packages_distributions().items()
    }
    missing = []
    for tree, extras in TREES.items():
        declared = _declared(extras)
        for module, files in sorted(_third_party(tree).items()):
            if not dists.get(module, set()) & declared:
                missing.append(f"{module} ({', '.join(sorted(files))}): not in {tree}'s {extras}")
    assert not missing, "undeclared imports:\n" + "\n".join(missing)


def test_the_check_sees_a_missing_dependency() -> None:
    # the check itself: sniffio is imported by gossip, and is declared only as a core dependency
    assert "sniffio" in _third_party("gossip")
    assert "sniffio" in _declared(())
    assert "starlette" in _third_party("examples")
    assert "starlette" not in _declared(())
