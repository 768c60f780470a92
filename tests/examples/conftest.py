"""Fixtures for the example tests: a 3-process cart cluster on loopback, and headless Chromium.

Chromium and its driver come from Debian (``chromium``, ``chromium-driver``). When they are
missing the fixture installs them with apt-get (the suite runs as root on a fresh Debian machine,
as CI does); if that fails the browser test fails: it is never skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from examples.cart._demo import write_key_file
from examples.cart._procs import NodeProcess, start_cluster


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("key") / "cluster.key"
    write_key_file(path)
    return path


@pytest.fixture(scope="session")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, key_file: Path
) -> Iterator[list[NodeProcess]]:
    """Nodes a, b, c (each its own process, SQLite data dir, the cluster key); every test uses its
    own users, so tests share the cluster without seeing each other's carts."""
    nodes = start_cluster(tmp_path_factory.mktemp("cart"), key_file=key_file)
    try:
        yield nodes
    finally:
        for n in nodes:
            n.stop()


def ensure_chromium() -> tuple[str, str]:
    """The paths of Debian's chromium and chromedriver, installing both with apt-get when either
    is missing (never a skip)."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    if shutil.which("apt-get") is None:
        pytest.fail("chromium or chromedriver is missing and there is no apt-get to install them")
    # flock: two pytest workers (or two checkouts) must not run apt-get at once
    lock = os.path.join(tempfile.gettempdir(), "deltamesh-apt.lock")
    script = (
        "apt-get update -q && DEBIAN_FRONTEND=noninteractive "
        "apt-get install -y -q --no-install-recommends chromium chromium-driver"
    )
    res = subprocess.run(
        ["flock", lock, "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if res.returncode != 0 or not (chromium and driver):
        pytest.fail(f"installing chromium failed ({res.returncode}):\n{res.stderr[-3000:]}")
    return chromium, driver
