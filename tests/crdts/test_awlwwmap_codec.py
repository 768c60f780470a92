"""The compact body of AWLWWMap: exact round trips (HLC and int timestamps, negative ints, floats,
bytes, tuples, concurrent entries, removed dots), compactness, and hostile bodies that must raise
``DecodeError`` and nothing else."""

from __future__ import annotations

import random
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdts import HLC, TAGS, AWLWWMap, DecodeError, HLCTimestamp, decode, encode
from crdts._awlwwmap_codec import MAX_SHARED_PREFIX

TAG = TAGS["AWLWWMap"]


def roundtrip(m: AWLWWMap) -> AWLWWMap:
    out = decode(encode(m))
    assert isinstance(out, AWLWWMap)
    assert out == m
    assert out.value == m.value
    for k in m:  # exact types: True stays True, 1.0 stays a float, tuples stay tuples
        assert [(d, repr(v), repr(t)) for d, v, t in out.entries(k)] == [
            (d, repr(v), repr(t)) for d, v, t in m.entries(k)
        ]
    assert sorted(map(repr, out)) == sorted(map(repr, m))
    return out


def body_of(data: bytes) -> tuple[Any, ...]:
    obj = msgpack.unpackb(data, use_list=False)
    assert obj[0] == TAG
    return tuple(obj)


def message(replicas: list[str], body: Any, version: int = 1) -> bytes:
    return bytes(msgpack.packb((TAG, version, replicas, body)))


# ---------------------------------------------------------------------------------------------
# round trips
# ---------------------------------------------------------------------------------------------


def test_bottom_and_removed_only_states_roundtrip() -> None:
    roundtrip(AWLWWMap())
    m = AWLWWMap()
    m.put("a", "k", 1, 1)
    rm = m.remove("k")
    roundtrip(m)
    roundtrip(rm)


def test_msgpack_native_keys_values_and_timestamps_roundtrip_exactly() -> None:
    m = AWLWWMap()
    keys: list[Any] = [
        "",
        "a",
        "prefix-shared-1",
        "prefix-shared-2",
        "ünïcødé-ключ-🔑",
        -5,
        0,
        (1 << 64) - 1,
        -(1 << 63),
        2.5,
        b"\x00bytes",
        None,
        True,
        (),
        ("t", (1, b"x", None)),
    ]
    values: list[Any] = [
        -1,
        1.0,
        float("inf"),
        b"",
        (1, (2.0, ("deep",))),
        None,
        False,
        "v" * 300,
        -(1 << 63),
        (1 << 64) - 1,
        0.1,
        (),
        "",
        1,
        b"\xff" * 40,
    ]
    for i, (k, v) in enumerate(zip(keys, values, strict=True)):
        m.put("a", k, v, -1_000 + 7 * i)
    roundtrip(m)
    h = AWLWWMap()
    clock = HLC("h")
    for i, (k, v) in enumerate(zip(keys, values, strict=True)):
        h.put("h", k, v, clock.now(wall=1_700_000_000_000 + i * 13))
    out = roundtrip(h)
    assert all(type(out.timestamp(k)) is HLCTimestamp for k in out)


def test_timestamps_of_every_kind_roundtrip() -> None:
    # extreme ints (deltas beyond 64 bits fall back to the raw column)
    m = AWLWWMap()
    m.put("a", "lo", 1, -(1 << 63))
    m.put("a", "hi", 2, (1 << 64) - 1)
    roundtrip(m)
    # HLC timestamps naming another replica than the entry's, and a mix of ints and HLC
    x = AWLWWMap()
    x.put("a", "k1", 1, HLCTimestamp(5, 0, "somebody-else"))
    x.put("a", "k2", 2, 77)
    x.put("b", "k3", 3, HLCTimestamp(-(1 << 63), (1 << 64) - 1, "b"))
    roundtrip(x)
    f = AWLWWMap()  # floats (wall-clock seconds), alone and mixed with ints
    f.put("a", "k1", 1, 1_700_000_000.125)
    f.put("a", "k2", 2, float("inf"))
    f.put("b", "k3", 3, 5)
    out = roundtrip(f)
    assert type(out.timestamp("k1")) is float and type(out.timestamp("k3")) is int
    y = AWLWWMap()
    y.put("a", "k", 1, HLCTimestamp((1 << 64) - 1, 0, "a"))
    y.put("b", "j", 1, HLCTimestamp(-(1 << 63), 3, "b"))
    roundtrip(y)


def test_concurrent_entries_gaps_and_compacted_contexts_roundtrip() -> None:
    a, b, c = AWLWWMap(), AWLWWMap(), AWLWWMap()
    for i in range(50):
        a.put("a", f"k{i % 7}", i, i)
        b.put("b", f"k{i % 5}", -i, i)
    c.merge(a)
    c.merge(b)
    assert any(len(c.entries(k)) == 2 for k in c)
    roundtrip(c)
    # a receiver with gaps: only some of a's deltas arrived
    src, dst = AWLWWMap(), AWLWWMap()
    deltas = [src.put("s", f"key-{i % 13}", i, i) for i in range(40)]
    deltas.append(src.remove("key-3"))
    for d in deltas[::3]:
        dst.merge(d)
    assert dst.context.cloud
    roundtrip(dst)
    for d in deltas:
        roundtrip(d)


@given(st.integers(0, 2**32 - 1))
def test_random_histories_roundtrip(seed: int) -> None:
    rng = random.Random(seed)
    reps = {r: AWLWWMap() for r in "abc"}
    clocks = {r: HLC(r) for r in "abc"}
    pool: list[Any] = ["k", "ka", "kab", 1, -1, (2, "x"), b"b", 0.5, None]
    for i in range(rng.randrange(1, 40)):
        r = rng.choice("abc")
        x = rng.random()
        if x < 0.6:
            ts: Any = clocks[r].now(wall=rng.randrange(5)) if rng.random() < 0.5 else i
            reps[r].put(r, rng.choice(pool), rng.choice(pool), ts)
        elif x < 0.8:
            reps[r].remove(rng.choice(pool))
        else:
            reps[r].merge(reps[rng.choice("abc")].diff(reps[r]))
    for m in reps.values():
        roundtrip(m)
        for p in m.decompose():
            roundtrip(p)


# ---------------------------------------------------------------------------------------------
# compactness
# ---------------------------------------------------------------------------------------------


def test_a_delta_of_100_changed_keys_stays_small_in_a_big_overwritten_map() -> None:
    n = 20_000
    rng = random.Random(3)
    m = AWLWWMap()
    clock = HLC("r")
    for i in range(n):
        m.put("r", f"key{i}", i % 7, clock.now(wall=i))
    sizes = []
    for overwrites in (0, 10_000):
        for j in range(overwrites):
            m.put("r", f"key{rng.randrange(n)}", j % 7, clock.now(wall=n + j))
        before = m.copy()
        for i in rng.sample(range(n), 100):
            m.put("r", f"key{i}", 9, clock.now(wall=10 * n))
        delta = m.diff(before)
        assert len(delta) == 100
        wire = encode(delta)
        assert before.join(decode(wire)) == m
        plain = msgpack.packb(
            [
                [[r, c, k, v, tuple(t)] for k in delta for (r, c), v, t in delta.entries(k)],
                [list(d) for d in delta.context.dots()],
            ]
        )
        assert len(wire) < len(plain) / 2  # delta-coded dots and timestamps, shared prefixes
        sizes.append(len(wire))
    # heavy overwriting leaves tombstones behind in neither the state nor the delta
    assert sizes[1] < sizes[0] * 1.2


def test_long_keys_share_at_most_the_capped_prefix() -> None:
    m = AWLWWMap()
    base = "p" * (MAX_SHARED_PREFIX * 3)
    for i in range(10):
        m.put("a", f"{base}{i}", i, i)
    roundtrip(m)
    keys = body_of(encode(m))[3][3]
    assert type(keys) is tuple  # front-coded
    assert all(x <= MAX_SHARED_PREFIX for x in keys if type(x) is int)


# ---------------------------------------------------------------------------------------------
# hostile input
# ---------------------------------------------------------------------------------------------


def _sample_wire() -> bytes:
    m = AWLWWMap()
    clock = HLC("a")
    for i in range(12):
        m.put("a", f"key-{i}", (i, b"v"), clock.now(wall=i))
    m.put("b", 42, 1.5, 9)
    m.remove("key-3")
    return encode(m)


def test_every_truncation_raises_decode_error() -> None:
    wire = _sample_wire()
    for i in range(len(wire)):
        with pytest.raises(DecodeError):
            decode(wire[:i])


def test_byte_flips_raise_decode_error_or_decode_to_a_map() -> None:
    wire = _sample_wire()
    rng = random.Random(5)
    for _ in range(600):
        b = bytearray(wire)
        for _ in range(rng.randrange(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        try:
            out = decode(bytes(b))
        except DecodeError:
            continue
        if isinstance(out, AWLWWMap):  # whatever decodes is a usable state
            assert decode(encode(out)) == out


GOOD_BODY: tuple[Any, ...] = ((), (0, 2, 1, 1), ("kab", 2, "c"), (1, 2), 0, (5, 1), ())


@pytest.mark.parametrize(
    "body",
    [
        None,
        (),
        GOOD_BODY[:6],
        (*GOOD_BODY, ()),
        # version vector: odd, bad replica index, zero counter, replica twice
        ((0,), *GOOD_BODY[1:]),
        ((5, 1), *GOOD_BODY[1:]),
        ((0, 0), *GOOD_BODY[1:]),
        ((0, 1, 0, 2), *GOOD_BODY[1:]),
        # dots: count beyond the data, non-increasing, replica twice, huge counter
        ((), (0, 9, 1, 1), *GOOD_BODY[2:]),
        ((), (0, 2, 1, 0), *GOOD_BODY[2:]),
        ((), (0, 1, 1, 0, 1, 2), *GOOD_BODY[2:]),
        ((), (0, 2, 1, 1 << 63), *GOOD_BODY[2:]),
        # keys: too few, too many, prefix longer than the previous key, prefix without a
        # suffix, a non-str suffix, a prefix past the cap, a wrapped str, a list-like map
        ((), (0, 2, 1, 1), ("ka",), *GOOD_BODY[3:]),
        ((), (0, 2, 1, 1), ("ka", "kb", "kc"), *GOOD_BODY[3:]),
        ((), (0, 2, 1, 1), ("ka", 3, "b"), *GOOD_BODY[3:]),
        ((), (0, 2, 1, 1), ("ka", 2), *GOOD_BODY[3:]),
        ((), (0, 2, 1, 1), ("kab", 2, 5), *GOOD_BODY[3:]),
        ((), (0, 2, 1, 1), ("kab", 1, "c"), *GOOD_BODY[3:]),
        ((), (0, 2, 1, 1), ("k" * 100, 65, "x"), *GOOD_BODY[3:]),
        ((), (0, 2, 1, 1), (("ka",), "kb"), *GOOD_BODY[3:]),
        ((), (0, 2, 1, 1), ({"k": 1}, "kb"), *GOOD_BODY[3:]),
        ((), (0, 2, 1, 1), ((float("nan"),), "kb"), *GOOD_BODY[3:]),
        # values: count mismatch, a map, NaN
        (*GOOD_BODY[:3], (1,), *GOOD_BODY[4:]),
        (*GOOD_BODY[:3], ({"x": 1}, 2), *GOOD_BODY[4:]),
        (*GOOD_BODY[:3], (float("nan"), 2), *GOOD_BODY[4:]),
        # timestamps: unknown kind, wrong count, out of range, bad HLC
        (*GOOD_BODY[:4], 3, (5, 1), ()),
        (*GOOD_BODY[:4], -1, (5, 1), ()),
        (*GOOD_BODY[:4], 0, (5,), ()),
        (*GOOD_BODY[:4], 0, ((1 << 64) - 1, (1 << 64) - 1), ()),
        (*GOOD_BODY[:4], 0, (-(1 << 63), -(1 << 63)), ()),
        (*GOOD_BODY[:4], 0, (5, "x"), ()),
        (*GOOD_BODY[:4], 1, (5, 1), ()),
        (*GOOD_BODY[:4], 1, (5, -1, 1, 0), ()),
        (*GOOD_BODY[:4], 2, ((1, 2), 3), ()),
        (*GOOD_BODY[:4], 2, ((1, 2, 9), 3), ()),
        (*GOOD_BODY[:4], 2, (float("nan"), 3), ()),
        (*GOOD_BODY[:4], 2, ("late", 3), ()),
        # extra dots: malformed
        (*GOOD_BODY[:6], (0, 1)),
        (*GOOD_BODY[:6], (0, 1, -4)),
    ],
)
def test_malformed_bodies_raise_decode_error(body: Any) -> None:
    assert isinstance(decode(message(["a"], GOOD_BODY)), AWLWWMap)
    with pytest.raises(DecodeError):
        decode(message(["a"], body))


def test_a_small_message_cannot_decode_into_huge_keys() -> None:
    # every key claims the longest prefix allowed: the output stays proportional to the input
    n = 20_000
    keys: list[Any] = ["k" * MAX_SHARED_PREFIX]
    for _ in range(n - 1):
        keys += [MAX_SHARED_PREFIX, ""]
    body = ((), (0, n, *([1] * n)), tuple(keys), (0,) * n, 0, (0,) * n, ())
    wire = message(["a"], body)
    m = decode(wire)  # the same key n times over: n concurrent entries of one key
    assert isinstance(m, AWLWWMap) and len(m) == 1
    assert len(m.entries("k" * MAX_SHARED_PREFIX)) == n


@given(st.binary(max_size=200))
def test_garbage_raises_decode_error_only(data: bytes) -> None:
    for wire in (bytes([0x94, TAG, 1, 0x91, 0xA1, 0x61]) + data, message(["a"], data)):
        try:
            out = decode(wire)
        except DecodeError:
            continue
        assert decode(encode(out)) == out


# ---------------------------------------------------------------------------------------------
# format 2: column fast path, DEFLATE'd keys, runs; format 1 still read
# ---------------------------------------------------------------------------------------------

# encode(m) by the format-1 encoder, for the map built in test_format_1_still_decodes
V1_WIRE = bytes.fromhex(
    "940c0193a161a162a16397960007010102019d000501010202010101010201019ca56b65792d3004a13104a1"
    "3304a13504a132910704a1319700010305a374776f9201c40178cb3ff8000000000000029793cd03e8000093"
    "cd03e9000093cd03eb000093cd03ed000093cd07d00000050390"
)


def test_format_1_still_decodes() -> None:
    m = AWLWWMap()
    c = HLC("a")
    for i in range(6):
        m.put("a", f"key-{i}", i, c.now(wall=1000 + i))
    m.put("a", "key-2", "two", c.now(wall=2000))
    m.remove("key-4")
    m.put("b", 7, (1, b"x"), 5)
    n = AWLWWMap()
    n.put("c", "key-1", 1.5, 3)
    m.merge(n)
    assert body_of(V1_WIRE)[1] == 1
    out = decode(V1_WIRE)
    assert out == m and out.value == m.value
    assert body_of(encode(m))[1] == 3  # what this library writes now
    roundtrip(m)


def _big(n: int, writers: str = "r", overwrites: int = 0, seed: int = 1) -> AWLWWMap:
    rng = random.Random(seed)
    clocks = {w: HLC(w) for w in writers}
    m = AWLWWMap()
    for i in range(n):
        w = writers[i % len(writers)]
        m.put(w, f"key{i}", i % 5, clocks[w].now(wall=1_700_000_000_000 + i))
    for j in range(overwrites):
        w = writers[j % len(writers)]
        m.put(w, f"key{rng.randrange(n)}", j, clocks[w].now(wall=1_800_000_000_000 + j))
    return m


def test_a_big_single_writer_map_takes_the_column_path_even_after_overwrites() -> None:
    m = _big(2_000, overwrites=1_500)
    m.remove("key7")
    body = body_of(encode(m))[3]
    runs, gaps, keys = body[1], body[2], body[3]
    assert len(runs) == 2  # one run: the overwritten store sorted by dot, by C loops
    assert type(keys) is bytes and keys[0] in {0, 1}  # a key method, then DEFLATE
    assert type(gaps) is bytes and 0 not in gaps  # one byte per counter
    assert body[5] == 3  # HLC timestamps in columns: [first wall, wall differences, logicals]
    assert [type(c) for c in body_of(encode(_big(1_000)))[3][6]] == [int, bytes, bytes]
    roundtrip(m)


def test_interleaved_writers_and_concurrent_entries_roundtrip_and_stay_canonical() -> None:
    a = _big(1_000, writers="ab", overwrites=700, seed=2)
    b = _big(600, writers="cb", overwrites=300, seed=3)
    x = a.join(b)  # concurrent entries (two writers of "b", same keys), many runs
    assert any(len(x.entries(k)) > 1 for k in x)
    roundtrip(x)
    y = b.join(a)
    z = AWLWWMap()
    for part in reversed(x.decompose()):
        z.merge(part)
    assert x == y == z
    canon = encode(x, canonical=True)
    assert encode(y, canonical=True) == canon == encode(z, canonical=True)
    assert type(body_of(canon)[3][3]) is tuple  # canonical bytes never depend on the zlib build
    assert decode(canon) == x
    blocks = _big(400, writers="a").join(_big(500, writers="b", seed=4))
    for one in (_big(900, writers="ba"), blocks):  # many short runs; two runs, in order
        two = AWLWWMap()
        for part in one.decompose():
            two.merge(part)
        assert encode(one, canonical=True) == encode(two, canonical=True)
        assert encode(one) != encode(one, canonical=True)  # the fast form DEFLATEs its keys


def test_big_maps_with_odd_keys_roundtrip() -> None:
    m = _big(400)
    m.put("r", "nul\0inside", 1, 10**15)  # a key with a NUL cannot be joined by NULs
    roundtrip(m)
    assert type(body_of(encode(m))[3][3]) is tuple
    m2 = _big(400)
    m2.put("r", ("tuple", 1), 1, 10**15)
    m2.put("r", 5, 1, 10**15 + 1)
    roundtrip(m2)
    m3 = _big(400)
    m3.put("r", "ünïcødé-ключ-🔑", 1, 10**15)
    roundtrip(m3)
    assert type(body_of(encode(m3))[3][3]) is bytes
    ints = AWLWWMap()
    for i in range(500):
        ints.put("q", f"k{i % 300}", i, 1000 - i)  # int timestamps, decreasing: signed gaps
    roundtrip(ints)


def _v2(**kw: Any) -> tuple[Any, ...]:
    import zlib

    z = zlib.compressobj(1, zlib.DEFLATED, -15)
    blob = z.compress(b"ka\0kb") + z.flush()
    body: dict[str, Any] = {
        "vv": (),
        "runs": (0, 2),
        "counters": (1, 1),
        "keys": blob,
        "values": (1, 2),
        "ts_kind": 0,
        "ts": (5, 1),
        "extra": (),
    }
    body.update(kw)
    return tuple(body.values())


def _deflate(raw: bytes) -> bytes:
    import zlib

    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    return z.compress(raw) + z.flush()


@pytest.mark.parametrize(
    "body",
    [
        _v2(runs=(0,)),
        _v2(runs=(0, 1)),
        _v2(runs=(0, 3)),
        _v2(runs=(0, 0, 0, 2)),
        _v2(runs=(1, 2)),
        _v2(runs=(0, 1, 0, 1)),  # the same dot twice, in two runs
        _v2(counters=(1, 0)),
        _v2(counters=(0, 1)),
        _v2(counters=(1 << 63, 1)),
        _v2(counters=(1, "x")),
        _v2(keys=None),
        _v2(keys=_deflate(b"ka")),
        _v2(keys=_deflate(b"ka\0kb\0kc")),
        _v2(keys=_deflate(b"ka\0kb")[:-2]),
        _v2(keys=_deflate(b"ka\0kb") + b"junk"),
        _v2(keys=_deflate(b"\xff\0kb")),
        _v2(keys=("ka",)),
        _v2(keys="ka\0kb"),
        _v2(keys=_deflate(b"k" * 100_000 + b"\0kb")),  # inflates past the cap
        _v2(ts_kind=0, ts=(5, 0, 1, 0)),
        _v2(ts_kind=1, ts=(5, 1)),
        _v2(ts_kind=1, ts=(5, 1, 1, -1)),
        _v2(ts_kind=3),
        _v2(ts_kind=3, ts=(5, (0, 1), (0,))),
        _v2(ts_kind=3, ts=(5, (0, 1), b"\x00\x00", ())),
        _v2(ts_kind=3, ts=(5, b"\x00\x01", (0, -1))),
        _v2(ts_kind=3, ts=("5", b"\x00\x01", b"\x00\x00")),
        _v2(ts_kind=3, ts=((1 << 64) - 1, b"\x00\x01", b"\x00\x00")),
        _v2(ts_kind=4, ts=(5, (0,))),
        _v2(ts_kind=4, ts=(5, (0, 1), ())),
        _v2(ts_kind=4, ts=(-(1 << 63), (0, -1))),
        _v2(ts_kind=5),
        _v2(counters=b"\x01\x00"),
        _v2(counters=b"\x01"),
        _v2(ts=b"\x05"),
        _v2(ts=(5,)),
        _v2(values=(1,)),
    ],
)
def test_malformed_format_2_bodies_raise_decode_error(body: Any) -> None:
    good = decode(message(["a"], _v2(), version=2))
    assert isinstance(good, AWLWWMap) and good.value == {"ka": 1, "kb": 2}
    with pytest.raises(DecodeError):
        decode(message(["a"], body, version=2))


def test_two_runs_of_one_replica_with_distinct_dots_decode() -> None:
    import zlib

    z = zlib.compressobj(1, zlib.DEFLATED, -15)
    blob = z.compress(b"ka\0kb\0kc") + z.flush()
    body = _v2(
        runs=(0, 1, 1, 1, 0, 1),
        counters=(3, 1, 1),
        keys=blob,
        values=(1, 2, 3),
        ts=(5, 1, 1),
        vv=(0, 3, 1, 1),
    )
    m = decode(message(["a", "b"], body, version=2))
    assert isinstance(m, AWLWWMap) and m.value == {"ka": 1, "kb": 2, "kc": 3}
    assert m.entries("kc")[0][0] == ("a", 1)
    roundtrip(m)
    # int columns as bytes, HLC timestamps as two columns
    cols = _v2(counters=b"\x01\x01", ts_kind=3, ts=(5, b"\x00\x01", b"\x00\x07"))
    m2 = decode(message(["a"], cols, version=2))
    assert isinstance(m2, AWLWWMap)
    assert m2.entries("kb") == [(("a", 2), 2, HLCTimestamp(6, 7, "a"))]
    m3 = decode(message(["a"], _v2(ts_kind=4, ts=(-5, (0, 3))), version=2))
    assert isinstance(m3, AWLWWMap)
    assert m3.timestamp("ka") == -5 and m3.timestamp("kb") == -2


def test_long_runs_of_removed_dots_travel_as_runs_in_format_2() -> None:
    for n in (1, 300):  # the one-entry path and the column path
        m = _big(n, writers="r")
        m._cc.add_run("r", n + 5, 10**12)  # a long run of dots seen and no longer live
        m._cc.add_run("q", 3, 10**9)
        wire = encode(m)
        assert len(wire) < 100 + 8 * n
        body = body_of(wire)[3]
        assert len(body) == 9  # the optional extra runs
        out = decode(wire)
        assert out == m
        assert decode(encode(m, canonical=True)) == m


ONE: tuple[Any, ...] = ((), (0, 1), (3,), ("k",), (7,), 1, (1_700_000_000_000, 2), ())


@pytest.mark.parametrize(
    "body",
    [
        ((), (1, 1), *ONE[2:]),  # replica index out of range
        ((), (0, 1), (0,), *ONE[3:]),  # counter 0
        ((), (0, 1), (1 << 63,), *ONE[3:]),
        (*ONE[:4], (float("nan"),), *ONE[5:]),
        (*ONE[:4], ({"x": 1},), *ONE[5:]),
        (*ONE[:5], 1, (5, -1), ()),
        (*ONE[:5], 1, (5,), ()),
        (*ONE[:5], 1, ((1 << 64) - 1, 1 << 63, 0), ()),
        (*ONE[:5], 0, ("5",), ()),
        (*ONE[:5], True, (5, 1), ()),
        (*ONE[:7], (0, 1, 0)),  # an extra dot list claiming the replica twice... malformed
        (*ONE, ()),  # an empty run list is written by leaving it out
        ((0,), *ONE[1:]),
    ],
)
def test_malformed_one_entry_bodies_raise_decode_error(body: Any) -> None:
    good = decode(message(["a"], ONE, version=2))
    assert isinstance(good, AWLWWMap)
    assert good.entries("k") == [(("a", 3), 7, HLCTimestamp(1_700_000_000_000, 2, "a"))]
    assert good.context.vv == {} and good == decode(encode(good))
    with pytest.raises(DecodeError):
        decode(message(["a"], body, version=2))


def test_one_entry_bodies_decode_as_the_general_path_does() -> None:
    m = AWLWWMap()
    clock = HLC("a")
    deltas = [m.put("a", f"k{i % 3}", i, clock.now(wall=i)) for i in range(6)]
    deltas += [m.put("b", "k1", 1, 99), m.remove("k0"), m.put("a", "k0", 0, clock.now(wall=50))]
    for d in deltas:
        out = decode(encode(d))
        assert out == d and out.context == d.context
    src = AWLWWMap()
    src.put("a", "k", 1, 1)
    src._cc.add_run("a", 5, 100)  # a gap, then a long run of removed dots: the optional runs
    assert decode(encode(src)) == src
