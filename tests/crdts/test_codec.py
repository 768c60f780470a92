"""The codec: exact round-trips, compactness (interning), hostile input, the registry."""

from __future__ import annotations

import math
from typing import Any

import msgpack
import pytest

from crdts import (
    TAGS,
    DecodeError,
    EncodeError,
    GSet,
    HLCTimestamp,
    LWWRegister,
    ORSet,
    RegistrationError,
    decode,
    encode,
    register,
)
from crdts._codec import Reader, Writer
from crdts.testing import typed

EXACT = [
    (1, (2, ("three", b"4")), None),
    (),
    ((),),
    True,
    False,
    0,
    -(1 << 63),
    (1 << 64) - 1,
    -0.0,
    math.inf,
    1e-300,
    "",
    "ünïcødé ✓",
    b"",
    b"\x00\xff",
]


@pytest.mark.parametrize("value", EXACT, ids=repr)
def test_values_round_trip_exactly(value: Any) -> None:
    r = LWWRegister()
    r.set("a", value, 1)
    got = decode(encode(r)).value
    assert typed(got) == typed(value)
    if isinstance(value, float):
        assert math.copysign(1, got) == math.copysign(1, value)


@pytest.mark.parametrize(
    "bad", [[1], {"a": 1}, {1}, float("nan"), 1 << 64, -(1 << 63) - 1, object(), (1, [2])]
)
def test_non_native_values_are_rejected_at_mutation(bad: Any) -> None:
    s = ORSet()
    with pytest.raises(ValueError):
        s.add("a", bad)
    assert s == ORSet()


def test_replica_ids_are_interned_once_per_message() -> None:
    s = ORSet()
    for i in range(50):
        s.add("a-rather-long-replica-identifier", i)
    b = encode(s)
    assert b.count(b"a-rather-long-replica-identifier") == 1
    assert len(b) < 300


def test_hlc_timestamps_round_trip_inside_registers() -> None:
    r = LWWRegister()
    r.set("phone", "x", HLCTimestamp(1_000, 2, "phone"))
    got = decode(encode(r))
    assert got == r and got.timestamp == HLCTimestamp(1_000, 2, "phone")
    assert type(got.timestamp) is HLCTimestamp


def _msg(tag: int, version: int, replicas: Any, body: Any) -> bytes:
    return bytes(msgpack.packb([tag, version, replicas, body]))


def _nest(depth: int) -> Any:
    v: Any = 1
    for _ in range(depth):
        v = (v,)
    return v


def _deep_map(depth: int) -> Any:
    inner: Any = ["k", TAGS["ORSet"], ["x", [0, 1, 1]]]
    for _ in range(depth):
        inner = ["k", TAGS["ORMap"], inner]
    return inner


HOSTILE = {
    "empty": b"",
    "deep nesting": b"\x91" * 100_000 + b"\xc0",
    "array claims 4G items": b"\xdd\xff\xff\xff\xff",
    "str claims 4 GB": b"\xdb\xff\xff\xff\xff" + b"x" * 8,
    "map claims 4G pairs": b"\xdf\xff\xff\xff\xff",
    "not an array": msgpack.packb({"tag": 3}),
    "unknown tag": _msg(99, 1, [], []),
    "future version": _msg(TAGS["ORSet"], 2, [], [[], [[], []]]),
    "version zero": _msg(TAGS["ORSet"], 0, [], [[], [[], []]]),
    "bad replica table": _msg(TAGS["ORSet"], 1, [1], [[], [[], []]]),
    "duplicate replicas": _msg(TAGS["ORSet"], 1, ["a", "a"], [[], [[], []]]),
    "replica index out of range": _msg(TAGS["ORSet"], 1, ["a"], [["x", [1, 1, 1]], [[], []]]),
    "live dot outside context": _msg(TAGS["ORSet"], 1, ["a"], [["x", [0, 1, 1]], [[], []]]),
    "dot live twice": _msg(
        TAGS["ORSet"], 1, ["a"], [["x", [0, 1, 1], "y", [0, 1, 1]], [[0, 1], []]]
    ),
    "element without dots": _msg(TAGS["ORSet"], 1, ["a"], [["x", []], [[0, 1], []]]),
    "map as element": b"\x94\x03\x01\x90\x91\x81\xa1k\x01",
    "bool as counter": _msg(TAGS["GCounter"], 1, ["a"], [0, True]),
    "zero counter": _msg(TAGS["GCounter"], 1, ["a"], [0, 0]),
    "ext type": b"\x94\x03\x01\x90\x91\xd4\x05\x00",
    "timestamp ext": b"\x94\x03\x01\x90\x91\xd6\xff\x00\x00\x00\x01",
    "dot counter overflow": _msg(
        TAGS["ORSet"], 1, ["a"], [["x", [0, 2, 1 << 62, 1 << 62]], [[], [0, 2, 1 << 62, 1 << 62]]]
    ),
    "NaN value": _msg(TAGS["MVRegister"], 1, ["a"], [[0, 1, math.nan], [[0, 1], []]]),
    "nested too deep": _msg(TAGS["GSet"], 1, [], [_nest(40)]),
    "trailing bytes": encode(GSet()) + b"\x00",
    "ORMaps nested 40 deep": _msg(TAGS["ORMap"], 1, ["a"], [_deep_map(40), [[0, 1], []]]),
    "str input": "not bytes",
    "none input": None,
}


@pytest.mark.parametrize("data", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_raises_decode_error(data: Any) -> None:
    with pytest.raises(DecodeError):
        decode(data)


def test_nested_maps_within_the_limit_decode() -> None:
    assert decode(_msg(TAGS["ORMap"], 1, ["a"], [_deep_map(31), [[0, 1], []]])).value


def test_decode_error_is_a_value_error() -> None:
    assert issubclass(DecodeError, ValueError)


def test_registry_rejects_conflicts() -> None:
    class Mine:
        pass

    def enc(x: Mine, w: Writer) -> Any:
        return None

    def dec(body: Any, r: Reader, version: int) -> Mine:
        return Mine()

    with pytest.raises(RegistrationError):
        register(Mine, tag=TAGS["ORSet"], version=1, encode=enc, decode=dec)
    with pytest.raises(RegistrationError):
        register(Mine, tag=0, version=1, encode=enc, decode=dec)
    with pytest.raises(RegistrationError):
        register(Mine, tag=200, version=0, encode=enc, decode=dec)
    register(Mine, tag=200, version=1, encode=enc, decode=dec)
    assert isinstance(decode(encode(Mine())), Mine)
    with pytest.raises(RegistrationError):
        register(Mine, tag=201, version=1, encode=enc, decode=dec)
    with pytest.raises(EncodeError):
        encode(object())
