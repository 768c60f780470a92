"""Durability: a restart on the same data dir keeps the replica id and the data; a wiped data dir
gets a fresh replica id, so no write of the new incarnation is lost (issue 10's silent loss)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import crdts
from crdts import AWLWWMap, ORSet, PNCounter
from sync import Node, UsageError
from sync.storage import open_data_dir

from ._helpers import config, eventually

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_restart_keeps_replica_id_data_and_clock(tmp_path: Path) -> None:
    d = tmp_path / "a"
    async with Node(config("a", data_dir=d)) as a:
        rid = a.replica_id
        await a.get("cart", AWLWWMap).put("apple", 3)
        await a.get("n", PNCounter).increment(5)
        stamp = a.get("cart", AWLWWMap).state().timestamp("apple")
        assert a.metrics()["store"]["commits"] >= 1
        assert a.metrics()["store"]["new_replica_id"]
    async with Node(config("a", data_dir=d)) as a2:
        assert a2.replica_id == rid
        assert a2.get("cart", AWLWWMap).value == {"apple": 3}
        assert a2.get("n", PNCounter).value == 5
        assert not a2.metrics()["store"]["new_replica_id"]
        assert a2.metrics()["store"]["clean_start"]
        await a2.get("cart", AWLWWMap).put("apple", 4)
        assert a2.get("cart", AWLWWMap).state().timestamp("apple") > stamp  # HLC restored


async def test_a_rejected_write_leaves_the_disk_unchanged(tmp_path: Path) -> None:
    d = tmp_path / "a"
    async with Node(config("a", data_dir=d)) as a:
        await a.get("s", ORSet).add("x")
        with pytest.raises(UsageError):
            await a.get("s", ORSet).add({"not": "a value"})
        with pytest.raises(UsageError):
            await a.get("t", ORSet).add(object())
    store, _ = open_data_dir(d, "a")
    try:
        assert [k for k, _ in store.scan()] == ["s"]
        s = store.get("s")
        assert s is not None and crdts.decode(s).value == {"x"}
    finally:
        store.close()


async def test_wiped_data_dir_gets_a_fresh_replica_id_and_loses_no_write(tmp_path: Path) -> None:
    da = tmp_path / "a"
    async with Node(config("b", data_dir=tmp_path / "b")) as b:
        async with Node(config("a", b.address, data_dir=da)) as a:
            old_rid, addr = a.replica_id, a.address
            await a.get("s", ORSet).add("first")
            await a.get("m", AWLWWMap).put("k1", 1)
            await eventually(lambda: b.get("s", ORSet).value == {"first"})
        shutil.rmtree(da)  # the disk is lost; the node comes back under the same name and address
        async with Node(config("a", b.address, data_dir=da, bind=addr)) as a:
            assert a.replica_id != old_rid and a.replica_id.startswith("a-")
            await a.get("s", ORSet).add("second")  # with the old id this dot was seen: lost
            await a.get("m", AWLWWMap).put("k2", 2)
            await eventually(
                lambda: (
                    a.get("s", ORSet).value == b.get("s", ORSet).value == {"first", "second"}
                    and a.get("m", AWLWWMap).value
                    == b.get("m", AWLWWMap).value
                    == {"k1": 1, "k2": 2}
                )
            )


async def test_a_locked_or_unusable_start_leaves_the_running_node_alone(tmp_path: Path) -> None:
    import socket

    from gossip import TransportError
    from sync import ConfigError, DataDirLockedError

    d = tmp_path / "a"
    async with Node(config("a", data_dir=d)) as a:
        await a.get("s", ORSet).add("x")
        with pytest.raises(DataDirLockedError):
            async with Node(config("a2", data_dir=d)):
                pass
        with pytest.raises(ConfigError):  # a missing key file: the dir is not even opened
            async with Node(config("b", key=None, key_file=tmp_path / "nope", data_dir=d)):
                pass
        assert a.get("s", ORSet).value == {"x"}
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(TransportError):  # the port is taken: the dir is closed again
            async with Node(config("a", data_dir=d, bind=f"127.0.0.1:{port}")):
                pass
    async with Node(config("a", data_dir=d)) as a:  # not left locked by the failed starts
        assert a.get("s", ORSet).value == {"x"}


async def test_a_restart_starts_swim_above_every_claim_about_its_previous_life(
    tmp_path: Path,
) -> None:
    # Identity in SWIM is the address: a restarted member at incarnation 0 is older than what
    # the cluster last heard of it (here: "left" at the incarnation of its leave), so its alive
    # gossip is ignored until it hears of that and refutes. The incarnation is persisted.
    d = tmp_path / "a"

    def record(node: Node, addr: str) -> tuple[str, int]:
        m = next((m for m in node.members() if m.addr == addr), None)
        return ("", -1) if m is None else (m.state, m.incarnation)

    async with Node(config("b")) as b:
        async with Node(config("a", b.address, data_dir=d)) as a:
            addr = a.address
            await eventually(lambda: record(b, addr)[0] == "alive")
        await eventually(lambda: record(b, addr)[0] == "left")
        left_at = record(b, addr)[1]
        async with Node(config("a", b.address, data_dir=d, bind=addr)) as a2:
            assert record(a2, addr)[1] > left_at  # before it has heard anything
            await eventually(lambda: record(b, addr)[0] == "alive")
        async with Node(config("a", data_dir=d, bind=addr)) as a3:
            assert record(a3, addr)[1] > left_at + 1  # and again (not reset by the last life)
