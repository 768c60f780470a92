"""The deltamesh command: keygen, status over the node's encrypted transport, status of a dir."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from crdts import ORSet
from sync import Node
from sync._cli import _status_of_node, main
from sync._keyfile import read_key_file

from ._helpers import config


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_keygen_writes_an_owner_only_key(tmp_path: Path) -> None:
    f = tmp_path / "k.key"
    assert main(["keygen", str(f)]) == 0
    assert stat.S_IMODE(f.stat().st_mode) == 0o600 and len(read_key_file(f)) == 32
    assert main(["keygen", str(f)]) == 1  # never overwrites a key


@pytest.mark.anyio
async def test_status_over_the_wire_and_of_a_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "k.key"
    main(["keygen", str(key)])
    async with Node(config("a", key=None, key_file=key, data_dir=tmp_path / "a")) as a:
        await a.get("s", ORSet).add("x")
        status = await _status_of_node(a.address, str(key), 5.0)
        assert status["name"] == "a" and status["objects"] == 1
        assert status["members"] == [["a", a.address, "alive", 0]]
        with pytest.raises(Exception):
            await _status_of_node(a.address, None, 5.0)  # plaintext is refused
    capsys.readouterr()
    assert main(["status", "--data-dir", str(tmp_path / "a"), "--json"]) == 0
    out = capsys.readouterr().out
    assert '"objects": 1' in out and '"name": "a"' in out


@pytest.mark.anyio
async def test_node_command_runs_until_sigint_and_leaves_cleanly(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    import anyio

    from sync.storage import SQLiteStore

    key = tmp_path / "k.key"
    main(["keygen", str(key)])
    d = tmp_path / "n"
    cmd = [sys.executable, "-m", "sync", "node", "--name", "n", "--bind", "127.0.0.1:0"]
    cmd += ["--data-dir", str(d), "--key-file", str(key), "--preset", "local"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = await anyio.to_thread.run_sync(proc.stdout.readline)
        assert line.startswith("node n at 127.0.0.1:"), line + (
            proc.stderr.read() if proc.stderr else ""
        )
        addr = line.split()[3].rstrip(",")
        status = await _status_of_node(addr, str(key), 10.0)
        assert status["name"] == "n" and status["address"] == addr
        proc.send_signal(signal.SIGINT)
        assert await anyio.to_thread.run_sync(proc.wait, 20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    store = SQLiteStore(d, readonly=True)
    try:
        assert store.was_clean  # closed cleanly, not killed
    finally:
        store.close()
