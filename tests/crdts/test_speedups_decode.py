"""The compiled reader of one-entry ``AWLWWMap`` messages (``crdts._speedups.decode_one``, a
put's delta: what a node receives most): the same object as the general path for every message
of that shape, ``None`` for every other (the general path then decides), and, on hostile bytes,
the same outcome as without it (the same object or the same ``DecodeError``)."""

from __future__ import annotations

import importlib
import random
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdts import HLC, TAGS, AWLWWMap, DecodeError, _accel, decode, encode
from crdts import _codec as codec_mod

TAG = TAGS["AWLWWMap"]
speedups: Any = importlib.import_module("crdts._speedups")  # ImportError: not built (a failure)


def general(data: bytes) -> Any:
    """``decode(data)`` by the general path only: the object, or the DecodeError's message."""
    saved = dict(codec_mod._FAST_DECODERS)
    codec_mod._FAST_DECODERS.clear()
    try:
        return outcome(data)
    finally:
        codec_mod._FAST_DECODERS.update(saved)


def outcome(data: bytes) -> Any:
    try:
        x = decode(data)
    except DecodeError as exc:
        return ("error", str(exc))
    return ("ok", x, getattr(x, "context", None))


def _deltas(seed: int) -> Iterator[AWLWWMap]:
    """Put deltas: of fresh keys, superseding others (extra dots), after gaps and long runs
    (the body's ninth item), with every kind of value the fast path reads."""
    rng = random.Random(seed)
    values: list[Any] = [0, 127, 128, 2**16, 2**32, 2**63, 2**64 - 1, -1, -33, -129, -(2**63)]
    values += ["", "é" * 40, "x" * 300, b"", b"b" * 300, None, True, False, 1.5, -0.0]
    values += [float("inf"), (1, "nested")]  # a tuple: the general path (the fast one: None)
    m = AWLWWMap()
    clocks = {r: HLC(r) for r in ("a", "b", "ü")}
    for i in range(60):
        r = rng.choice(list(clocks))
        ts: Any = clocks[r].now(wall=1_000 + i) if seed % 3 else 10 * i - rng.randrange(50)
        key = rng.choice(["k", "kk", "ключ", f"k{rng.randrange(20)}", f"fresh{i}"])
        d = m.put(r, key, rng.choice(values), ts)
        if rng.random() < 0.15:  # a context with a long run of removed dots: the ninth item
            d._cc.add_run(rng.choice(list(clocks)), 10_000 + 100 * i, 10_040 + 100 * i)
        yield d


def test_one_entry_messages_decode_as_the_general_path_does() -> None:
    taken = extra = runs = one_superseded = 0
    for seed in range(12):
        for d in _deltas(seed):
            data = encode(d)
            fast = speedups.decode_one(data, TAG, 3)
            want = general(data)
            assert outcome(data) == want
            assert want[0] == "ok" and want[1] == d
            value = next(iter(d._store.values()))[2]
            if isinstance(value, tuple):
                assert fast is None
                continue
            assert fast is not None, d
            taken += 1
            extra += bool(fast[6])
            runs += fast[7] is not None
            one_superseded += len(fast[6]) == 3 and fast[7] is None  # its own short path
    assert taken > 500 and extra > 50 and runs > 5, (taken, extra, runs)
    assert one_superseded > 50, one_superseded


def test_a_format_2_message_and_a_float32_value_take_it_and_version_4_does_not() -> None:
    d = AWLWWMap().put("a", "k", 1, HLC("a").now(wall=5))
    data = encode(d)
    obj = list(msgpack.unpackb(data, use_list=False))
    obj[1] = 2
    v2 = msgpack.packb(obj)
    assert speedups.decode_one(v2, TAG, 3) is not None
    assert outcome(v2) == general(v2) and decode(v2) == d
    obj[1] = 4
    v4 = msgpack.packb(obj)
    assert speedups.decode_one(v4, TAG, 3) is None
    assert outcome(v4)[0] == "error"
    obj[1] = 3
    body = list(obj[3])
    body[4] = (1.5,)
    f32 = msgpack.packb([*obj[:3], body], use_single_float=True)
    assert f32 != msgpack.packb([*obj[:3], body])
    assert speedups.decode_one(f32, TAG, 3) is not None
    assert outcome(f32) == general(f32)
    body[4] = (float("nan"),)
    nan = msgpack.packb([*obj[:3], body])
    assert speedups.decode_one(nan, TAG, 3) is None
    assert outcome(nan) == general(nan) and outcome(nan)[0] == "error"


def _mutations(data: bytes, rng: random.Random) -> Iterator[bytes]:
    for n in range(len(data)):
        yield data[:n]  # truncated
    yield data + b"\x00"  # trailing bytes
    for _ in range(60):
        b = bytearray(data)
        for _ in range(rng.randrange(1, 4)):
            b[rng.randrange(len(b))] = rng.choice(
                [
                    0,
                    1,
                    2,
                    0x7F,
                    0x80,
                    0xC0,
                    0xC3,
                    0xCC,
                    0xCF,
                    0xD3,
                    0xD9,
                    0xDC,
                    0xDD,
                    0xFF,
                    rng.randrange(256),
                ]
            )
        yield bytes(b)


def test_hostile_bytes_come_out_as_without_the_fast_path() -> None:
    rng = random.Random(7)
    n = 0
    for seed in range(3):
        for d in _deltas(seed):
            for bad in _mutations(encode(d), rng):
                assert outcome(bad) == general(bad), bad
                n += 1
    assert n > 5000


@given(st.binary(max_size=80))
def test_random_bytes_come_out_as_without_the_fast_path(data: bytes) -> None:
    assert outcome(data) == general(data)


def test_decode_goes_through_the_compiled_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []

    def spy(data: bytes, tag: int, version: int) -> Any:
        calls.append(data)
        return speedups.decode_one(data, tag, version)

    monkeypatch.setattr(_accel, "decode_one", spy)
    d = AWLWWMap().put("a", "k", 1, HLC("a").now(wall=5))
    data = encode(d)
    assert decode(data) == d
    assert calls == [data]
