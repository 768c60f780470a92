"""The protocol cores are sans-I/O: importing them must not import anyio, sockets or asyncio.

Checked in a fresh interpreter, so nothing imported by other tests can mask a violation.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

# Every sans-I/O module of the project. A new core adds its module here.
SANS_IO_MODULES = [
    "crdts",
    "gossip",
    "gossip._events",
    "gossip.hyparview",
    "gossip.hyparview._core",
    "gossip.plumtree",
    "gossip.plumtree._core",
    "gossip.swim",
    "gossip.swim._core",
    "gossip.sim",
    "gossip.transport",  # the anyio transports load lazily
    "gossip.transport._keyring",
    "gossip.transport._handshake",
    "gossip.runtime",  # the anyio Host loads lazily
    "sync",
    "sync._engine",
    "sync._catchup",
    "sync._digest",
]

FORBIDDEN = ["anyio", "asyncio", "trio", "socket", "sqlite3"]


@pytest.mark.parametrize("module", SANS_IO_MODULES)
def test_core_imports_no_io(module: str) -> None:
    code = (
        "import sys, importlib\n"
        f"importlib.import_module({module!r})\n"
        f"bad = sorted(m for m in {FORBIDDEN!r} if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing {module} pulled in: {out.stdout.strip()}"
