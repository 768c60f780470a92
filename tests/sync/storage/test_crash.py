"""kill -9 of a writing process at random instants: every acknowledged write is on disk."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from sync.storage import load_objects, open_data_dir

ROOT = Path(__file__).resolve().parents[3]


def _run_and_kill(path: Path, backend: str, rng: random.Random) -> dict[str, int]:
    """Start the writer, kill -9 it after a random number of acknowledgements; return the
    highest acknowledged version per key (every line it printed, read to the end)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.sync.storage._crash_writer", str(path), backend, "8"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    timer = threading.Timer(60, proc.kill)  # bound: never hang the suite
    timer.start()
    acked: dict[str, int] = {}
    kill_after = rng.randint(1, 600)
    n = 0
    try:
        for line in proc.stdout:
            key, v = line.split()
            acked[key] = max(acked.get(key, 0), int(v))
            n += 1
            if n == kill_after:
                os.kill(proc.pid, signal.SIGKILL)
                break
        for line in proc.stdout:  # acknowledged before it died, still in the pipe
            key, v = line.split()
            acked[key] = max(acked.get(key, 0), int(v))
    finally:
        timer.cancel()
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    assert n >= kill_after
    return acked


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_acknowledged_writes_survive_kill_9(tmp_path: Path, backend: str) -> None:
    """Three incarnations on one data dir, each killed at a random instant; every write any of
    them acknowledged is on disk afterwards (at that version or a later one), and the replica
    id stays the dir's."""
    rng = random.Random(f"kill9-{backend}")
    path = tmp_path / "d"
    replica = None
    acked: dict[str, int] = {}
    for _ in range(3):
        for key, v in _run_and_kill(path, backend, rng).items():
            acked[key] = max(acked.get(key, 0), v)
        store, info = open_data_dir(path, "crash")
        try:
            assert not info.clean  # it was killed
            assert replica is None or info.replica_id == replica
            replica = info.replica_id
            loaded = load_objects(store, lambda b: int(b.decode()))
            assert loaded.corrupt == []
            lost = {k: v for k, v in acked.items() if loaded.objects.get(k, 0) < v}
            assert lost == {}, f"acknowledged but not on disk: {lost}"
        finally:
            store.close()
