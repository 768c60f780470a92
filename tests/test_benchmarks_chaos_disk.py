"""The chaos nemesis's read-only disk, on an in-process Node: a write while the database is
read-only fails with a clear StorageError and is not acknowledged, nothing acknowledged is lost,
and once the disk is writable again the node acknowledges writes and stores what it held."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from benchmarks._chaos_node import _disk_readonly
from crdts import AWLWWMap
from sync import Node, NodeConfig, StorageError

pytestmark = pytest.mark.anyio
KEY = bytes(range(32))


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _config(name: str, *seeds: str, data_dir: Path) -> NodeConfig:
    return NodeConfig.local(name=name, seeds=seeds, key=KEY, data_dir=data_dir)


async def _eventually(pred: object, timeout: float = 15.0) -> None:
    assert callable(pred)
    with anyio.fail_after(timeout):
        while not pred():
            await anyio.sleep(0.02)


async def test_a_read_only_disk_fails_writes_and_the_node_recovers(tmp_path: Path) -> None:
    async with Node(_config("b", data_dir=tmp_path / "b")) as b:
        async with Node(_config("a", b.address, data_dir=tmp_path / "a")) as a:
            ma, mb = a.get("m", AWLWWMap), b.get("m", AWLWWMap)
            await ma.put("k1", 1)
            assert _disk_readonly(a, True) == {"query_only": 1}
            with pytest.raises(StorageError, match="readonly"):
                await ma.put("k2", 2)
            assert ma.value == {"k1": 1, "k2": 2}  # held in memory, not acknowledged
            store = a.metrics()["store"]
            assert store["failures"] >= 1 and "readonly" in store["last_error"]
            assert _disk_readonly(a, False) == {"query_only": 0}
            await ma.put("k3", 3)  # acknowledged again once the committer's retry succeeds
            await _eventually(lambda: mb.value == {"k1": 1, "k2": 2, "k3": 3})
        async with Node(_config("a", b.address, data_dir=tmp_path / "a")) as a2:
            assert a2.get("m", AWLWWMap).value == {"k1": 1, "k2": 2, "k3": 3}
