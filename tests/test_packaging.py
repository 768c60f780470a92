"""What a user installs: version access, the import-name clash made detectable, a clean sdist."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest

import deltamesh
from deltamesh import diagnose
from deltamesh.__main__ import main as deltamesh_main
from tests.test_repo_hygiene import tracked_files

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_version_comes_from_the_installed_metadata() -> None:
    assert deltamesh.__version__ == importlib.metadata.version("deltamesh")
    assert deltamesh.__version__ == PYPROJECT["project"]["version"]


def test_doctor_is_happy_with_our_own_packages(capsys: pytest.CaptureFixture[str]) -> None:
    findings = diagnose()
    assert [f.package for f in findings] == ["crdts", "gossip", "sync"]
    assert all(f.ok for f in findings), findings
    assert deltamesh_main(["doctor"]) == 0
    assert "ok  crdts" in capsys.readouterr().out


def test_doctor_names_another_distribution_claiming_our_name() -> None:
    claims = {"crdts": ["deltamesh"], "gossip": ["deltamesh", "gossip"], "sync": ["deltamesh"]}
    findings = {f.package: f for f in diagnose(distributions=lambda: claims)}
    assert findings["crdts"].ok and findings["sync"].ok
    assert not findings["gossip"].ok
    assert "also installed by gossip" in findings["gossip"].detail


def _run(code: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *code], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_a_foreign_package_of_our_name_gives_a_clear_error(tmp_path: Path) -> None:
    # what Python finds first when an unrelated 'crdts' distribution is installed
    (tmp_path / "crdts").mkdir()
    (tmp_path / "crdts" / "__init__.py").write_text("'''Somebody else's crdts.'''\n")
    res = _run(["-c", "import sync"], tmp_path)
    assert res.returncode != 0
    assert "ImportError: the 'crdts' package imported from" in res.stderr
    assert "is not deltamesh's" in res.stderr and "deltamesh doctor" in res.stderr
    res = _run(["-m", "deltamesh", "doctor"], tmp_path)
    assert res.returncode == 1
    assert "BAD crdts" in res.stdout and "ok  gossip" in res.stdout


def test_the_sdist_is_the_library_and_nothing_else(tmp_path: Path) -> None:
    # built from the project's files (what a fresh clone holds), with the PEP 517 backend
    src = tmp_path / "src"
    for path in tracked_files():
        dest = src / path.relative_to(ROOT)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)
    res = _run(["-c", "from setuptools import build_meta as b; print(b.build_sdist('dist'))"], src)
    assert res.returncode == 0, res.stderr[-3000:]
    sdist = src / "dist" / res.stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as tar:
        names = [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]
        pkg_info = tar.extractfile(f"deltamesh-{deltamesh.__version__}/PKG-INFO")
        assert pkg_info is not None
        meta = pkg_info.read().decode()
    tops = {n.split("/", 1)[0] for n in names}
    assert tops == {
        "LICENSE",
        "MANIFEST.in",
        "PKG-INFO",
        "README.md",
        "pyproject.toml",
        "setup.py",  # the optional compiled module (crdts/_speedups.c)
        "setup.cfg",
        "deltamesh.egg-info",
        "crdts",
        "gossip",
        "sync",
        "deltamesh",
    }, sorted(tops)
    for must in (
        "crdts/py.typed",
        "crdts/testing/__init__.py",
        "sync/storage/__init__.py",
        "crdts/_speedups.c",
        "crdts/_speedups_pack.c",
        "crdts/_speedups_absorb.c",
        "crdts/_speedups.pyi",
    ):
        assert must in names
    assert not [n for n in names if "__pycache__" in n or n.endswith((".pyc", ".sqlite3", ".so"))]
    assert "License-Expression: Apache-2.0" in meta and "License-File: LICENSE" in meta
    assert "Classifier: Typing :: Typed" in meta and "Project-URL: Source" in meta
    assert "Provides-Extra: testing" in meta
    assert "Apache License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
