"""A restarted node decodes nothing at start (its objects are decoded at first use, the Merkle
index comes from the stored canonical bytes), serves and syncs them as before; a format-1 data
dir is upgraded once; a stored state that does not decode is a typed error, never a silent loss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import crdts
from crdts import AWLWWMap, HLCTimestamp, ORSet
from sync import CorruptRecordError, Node
from sync.storage import FORMAT_VERSION, META_FORMAT, SQLiteStore, open_data_dir, stored_format

from ._helpers import config, eventually

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts calls of ``crdts.decode`` (what the node decodes stored states with)."""
    calls = [0]
    real = crdts.decode

    def counting(data: Any) -> Any:
        calls[0] += 1
        return real(data)

    monkeypatch.setattr(crdts, "decode", counting)
    return calls


async def test_a_restart_decodes_nothing_until_an_object_is_used(
    tmp_path: Path, decodes: list[int]
) -> None:
    d = tmp_path / "a"
    async with Node(config("a", data_dir=d)) as a:
        for i in range(40):
            await a.get(f"cart:{i:02d}", AWLWWMap).put("apple", i)
        root = _root(a)
    decodes[0] = 0
    async with Node(config("a", data_dir=d)) as a2:
        assert decodes[0] == 0  # the old start decoded all 40
        store = a2.metrics()["store"]
        assert store["objects_not_decoded"] == 40 and a2.metrics()["objects"] == 40
        assert a2.keys("cart:") == [f"cart:{i:02d}" for i in range(40)]
        assert _root(a2) == root and decodes[0] == 0  # the index came from the stored bytes
        assert a2.get("cart:07", AWLWWMap).value == {"apple": 7} and decodes[0] == 1
        await a2.get("cart:08", AWLWWMap).put("pear", 1)  # a write to a stored object
        assert decodes[0] == 2 and a2.metrics()["store"]["objects_decoded_lazily"] == 2
        assert dict(a2.scan("cart:0")) == {
            **{f"cart:{i:02d}": {"apple": i} for i in range(10)},
            "cart:08": {"apple": 8, "pear": 1},
        }
    async with Node(config("a", data_dir=d)) as a3:
        assert a3.get("cart:08", AWLWWMap).value == {"apple": 8, "pear": 1}
        assert a3.get("cart:39", AWLWWMap).value == {"apple": 39}


def _root(node: Node) -> tuple[int, int]:
    e: Any = node.engine
    e._merkle.flush(e._encoded_state)
    return e._merkle.node(0, 0)  # type: ignore[no-any-return]


async def test_a_restarted_node_syncs_its_stored_objects_both_ways(
    tmp_path: Path, decodes: list[int]
) -> None:
    d = tmp_path / "a"
    async with Node(config("b")) as b:
        async with Node(config("a", b.address, data_dir=d)) as a:
            for i in range(30):
                await a.get(f"cart:{i:02d}", AWLWWMap).put("apple", i)
            await eventually(lambda: len(b.keys()) == 30)
        # while a is down: b changes two of its carts and makes a new one
        await b.get("cart:03", AWLWWMap).put("plum", 1)
        await b.get("cart:04", AWLWWMap).remove("apple")
        await b.get("new", ORSet).add("x")
        decodes[0] = 0
        async with Node(config("a", b.address, data_dir=d)) as a2:
            await a2.get("cart:05", AWLWWMap).put("kiwi", 2)  # and a writes to a stored one
            want = {
                **{f"cart:{i:02d}": {"apple": i} for i in range(30)},
                "cart:03": {"apple": 3, "plum": 1},
                "cart:04": {},
                "cart:05": {"apple": 5, "kiwi": 2},
                "new": {"x"},
            }
            await eventually(lambda: _root(a2) == _root(b), timeout=20)  # decodes nothing
            # a decoded what changed on either side, not the 27 carts both hold alike
            assert a2.metrics()["store"]["objects_not_decoded"] == 27
            assert dict(a2.scan()) == want == dict(b.scan())


def _format1_dir(path: Path) -> dict[str, Any]:
    """A data dir as the previous version wrote it: format 1, plain (not canonical) encodings."""
    m = AWLWWMap()
    s = ORSet()
    for i, r in enumerate(["z", "b", "m"]):
        m.put(r, f"k{9 - i}", i, HLCTimestamp(1_700_000_000_000 + i, 0, r))
        s.add(r, f"x{9 - i}")
    states = {"map": m, "set": s}
    store, _ = open_data_dir(path, "a")
    store.commit({k: crdts.encode(x) for k, x in states.items()}, {META_FORMAT: b"1"})
    store.close()
    assert any(crdts.encode(x) != crdts.encode(x, canonical=True) for x in states.values())
    return states


async def test_a_format_1_data_dir_is_upgraded_once(tmp_path: Path) -> None:
    d = tmp_path / "a"
    states = _format1_dir(d)
    async with Node(config("a", data_dir=d)) as a:
        rid = a.replica_id
        assert a.get("map", AWLWWMap).value == states["map"].value
        assert a.get("set", ORSet).value == states["set"].value
        assert not a.metrics()["store"]["new_replica_id"]  # nothing was lost: same id
    store = SQLiteStore(d)
    try:
        assert stored_format(store) == FORMAT_VERSION == 3
        for k, x in states.items():  # stored canonically now: what the Merkle index hashes
            assert store.get(k) == crdts.encode(x, canonical=True)
    finally:
        store.close()
    async with Node(config("a", data_dir=d)) as a2:
        assert a2.replica_id == rid and a2.get("map", AWLWWMap).value == states["map"].value


async def test_a_stored_state_that_does_not_decode_is_refused_and_kept(tmp_path: Path) -> None:
    d = tmp_path / "a"
    async with Node(config("a", data_dir=d)) as a:
        await a.get("good", AWLWWMap).put("k", 1)
        await a.get("bad", AWLWWMap).put("k", 1)
    store, _ = open_data_dir(d, "a")
    store.commit({"bad": b"\x94\x01\x02\x03"}, {})  # a valid checksum, bytes that do not decode
    store.close()
    async with Node(config("a", data_dir=d)) as a2:
        assert a2.get("good", AWLWWMap).value == {"k": 1}
        for _ in range(2):  # at every use (asking for its handle reads its type)
            with pytest.raises(CorruptRecordError):
                a2.get("bad", AWLWWMap)
        assert a2.keys() == ["bad", "good"]
        assert any("'bad'" in e for e in a2.metrics()["store"]["corrupt_rows"])
    store, _ = open_data_dir(d, "a")
    try:
        assert store.get("bad") == b"\x94\x01\x02\x03"  # never overwritten, never dropped
    finally:
        store.close()
