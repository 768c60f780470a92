"""A keyspace decoded on first use (a restarted node's objects): reading one object decodes that
one only; counting, membership and key iteration decode nothing; a stored state that does not
decode is a typed error at every use, and its bytes stay; an engine over it agrees with one over
the decoded objects (Merkle root, catch-up)."""

from __future__ import annotations

import random
from typing import Any

import pytest

import crdts
from crdts import AWLWWMap, HLCTimestamp
from sync import CorruptRecordError, SyncConfig, SyncEngine
from sync._lazy import LazyState
from sync._merkle import item_hash


def cart(rid: str, i: int) -> AWLWWMap:
    m = AWLWWMap()
    m.put(rid, f"item{i % 3}", i, HLCTimestamp(1_700_000_000_000 + i, 0, rid))
    return m


def stored(n: int, rid: str = "r-1") -> dict[str, bytes]:
    return {f"cart:{i:03d}": crdts.encode(cart(rid, i), canonical=True) for i in range(n)}


class CountingDecode:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, data: bytes) -> Any:
        self.calls += 1
        return crdts.decode(data)


def test_only_the_object_read_is_decoded() -> None:
    dec = CountingDecode()
    s = LazyState(stored(50), dec)
    assert len(s) == 50 and "cart:007" in s and "nope" not in s and bool(s)
    assert sorted(s) == sorted(stored(50)) and dec.calls == 0
    assert s.get("cart:007").value == cart("r-1", 7).value
    assert s["cart:007"] is s.get("cart:007") and dec.calls == 1  # decoded once, then live
    assert s.decoded == 1 and len(s.raw) == 49 and len(s) == 50
    assert s.get("nope") is None and s.get("nope", 3) == 3
    with pytest.raises(KeyError):
        s["nope"]
    s["cart:008"] = cart("r-2", 99)  # a new state supersedes the stored one, undecoded
    assert s["cart:008"].value == cart("r-2", 99).value and dec.calls == 1
    for k in s:  # reading while iterating keys is allowed (a snapshot)
        s.get(k)
    assert dec.calls == 49 and not s.raw
    assert dict(s.items()) == {k: s[k] for k in s}


def test_a_stored_state_that_does_not_decode_is_a_typed_error_and_stays() -> None:
    raw = stored(3)
    raw["cart:001"] = b"\x93garbage"
    s = LazyState(raw, crdts.decode)
    for _ in range(2):  # every use, not only the first
        with pytest.raises(CorruptRecordError) as ei:
            s.get("cart:001")
        assert ei.value.key == "cart:001"
    assert "cart:001" in s.failed and s.raw["cart:001"] == b"\x93garbage" and len(s) == 3
    assert sorted(k for k, _ in s.items()) == ["cart:000", "cart:002"]  # the others decode


def _engine(state: dict[str, Any], **kw: Any) -> SyncEngine:
    return SyncEngine("me", SyncConfig(), random.Random(1), state=state, **kw)


def _root(e: SyncEngine) -> tuple[int, int]:
    e._merkle.flush(e._encoded_state)
    return e._merkle.node(0, 0)


def test_an_engine_over_a_lazy_state_indexes_it_without_decoding() -> None:
    raw = stored(200)
    dec = CountingDecode()
    lazy = _engine(
        LazyState(dict(raw), dec), item_hashes={k: item_hash(k, v) for k, v in raw.items()}
    )
    eager = _engine({k: crdts.decode(v) for k, v in raw.items()})
    assert _root(lazy) == _root(eager) and dec.calls == 0
    # a local write to a stored object decodes it and keeps the index right
    for e in (lazy, eager):
        e.update(
            "cart:005", lambda m: m.put("me", "pear", 1, HLCTimestamp(1_800_000_000_000, 0, "me"))
        )
    assert _root(lazy) == _root(eager) and dec.calls == 1
    # state_bytes (what the node persists, what catch-up ships): a stored object's bytes as
    # stored, without decoding it; a changed one's canonical encoding
    assert lazy.state_bytes("cart:009") == raw["cart:009"] and dec.calls == 1
    lazy.update("cart:006", lambda m: m.remove("item0"))
    eager.update("cart:006", lambda m: m.remove("item0"))
    assert lazy.state_bytes("cart:006") == crdts.encode(lazy.get("cart:006"), canonical=True)
    assert lazy.state_bytes("cart:006") != raw["cart:006"] and dec.calls == 2
    assert _root(lazy) == _root(eager)


def _pump(a: SyncEngine, b: SyncEngine, rounds: int = 40) -> None:
    """Deliver every message between two engines until both are quiet."""
    from gossip._events import SendStream, StreamReceived

    engines = {"a": a, "b": b}
    now = 0.0
    pending: list[tuple[str, str, bytes]] = []

    def collect(src: str, effects: list[Any]) -> None:
        pending.extend((src, e.dst, e.data) for e in effects if isinstance(e, SendStream))

    collect("a", a.neighbor_up("b", now))
    collect("b", b.neighbor_up("a", now))
    for _ in range(rounds):
        now += 1.0
        while pending:
            src, dst, data = pending.pop(0)
            collect(dst, engines[dst].handle(StreamReceived(src, data), now))
        collect("a", a.sync_now(now))
        collect("b", b.sync_now(now))


def test_a_lazy_engine_decodes_only_the_differing_objects_in_a_catch_up() -> None:
    raw = stored(300)
    dec = CountingDecode()
    a = SyncEngine(
        "a",
        SyncConfig(),
        random.Random(2),
        state=LazyState(dict(raw), dec),
        item_hashes={k: item_hash(k, v) for k, v in raw.items()},
    )
    peer_state = {k: crdts.decode(v) for k, v in raw.items() if not k.endswith("0")}
    b = SyncEngine("b", SyncConfig(), random.Random(3), state=peer_state)
    for k in ("cart:005", "cart:015", "cart:025"):
        b.update(k, lambda m: m.put("b", "extra", 1, HLCTimestamp(1_900_000_000_000, 0, "b")))
    _pump(a, b)
    assert _root(a) == _root(b)
    # a shipped the 30 objects b lacked as stored (no decode) and joined the 3 b changed
    assert dec.calls == 3
    assert {k: a.value(k) for k in a} == {k: b.value(k) for k in b}
