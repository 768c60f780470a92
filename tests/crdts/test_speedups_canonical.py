"""The compiled canonical encoder of small ``AWLWWMap`` states (``crdts._speedups.canonical``):
byte for byte what the pure-Python two-pass encoder writes, for every state it takes; ``None``
(the Python code then encodes) for every state it does not; and ``encode(x)`` goes through it,
canonical or not (the canonical encoding is a valid plain one). These tests load the module
directly, so they run in the pure rerun too."""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable, Iterator
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdts import HLC, TAGS, AWLWWMap, _accel, decode, encode
from crdts._awlwwmap_codec import VERSION
from crdts.testing import AWLWWMAP_SPEC, pick, universes

TAG = TAGS["AWLWWMap"]
speedups: Any = importlib.import_module("crdts._speedups")  # ImportError: not built (a failure)


def compiled(m: AWLWWMap) -> bytes | None:
    cc = m.context
    return speedups.canonical(m._store, cc.vv, cc.cloud, TAG, VERSION)  # type: ignore[no-any-return]


def two_pass(m: AWLWWMap) -> bytes:
    """The pure-Python canonical encoding (the codec's two passes)."""
    saved = _accel.canonical
    _accel.canonical = None
    try:
        return encode(m, canonical=True)
    finally:
        _accel.canonical = saved


def _history(seed: int) -> Iterator[AWLWWMap]:
    """Replicas that put, remove and receive (whole states, or some of a diff's parts: gaps in
    their contexts), with every kind of key and value."""
    rng = random.Random(seed)
    reps = [f"r{i}" for i in range(rng.randrange(1, 6))] + (["é", "zz"] if seed % 3 == 0 else [])
    maps = {r: AWLWWMap() for r in reps}
    clocks = {r: HLC(r) for r in reps}
    keys: list[Any] = [f"item{i}" for i in range(rng.randrange(1, 12))]
    if seed % 2:
        keys += ["ab", "abc", "a", "", "ñxx", "ñxy", "ключ-🔑", "ключ-🔒", 5, (1, "x"), b"k"]
    values: list[Any] = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63, 2**64 - 1]
    values += [-1, -32, -33, -128, -129, -32768, -32769, -(2**31), -(2**31) - 1, -(2**63)]
    values += ["", "x" * 31, "x" * 32, "é" * 200, "y" * 256, b"", b"b" * 256, None, True, False]
    values += [1.5, -0.0, float("inf"), (), (1, (2, "a")), tuple(range(16)), ((((),),),)]
    wall = 1_700_000_000_000
    for _ in range(rng.randrange(1, 45)):
        r = rng.choice(reps)
        m = maps[r]
        op = rng.random()
        if op < 0.7:
            stamp = clocks[r].now(wall + rng.randrange(-3, 10))
            m.put(r, rng.choice(keys), rng.choice(values), stamp)
        elif op < 0.8:
            k = rng.choice(keys)
            if k in m.value:
                m.remove(k)
        else:
            other = maps[rng.choice(reps)]
            if rng.random() < 0.5:
                m.merge(other)
            else:
                for part in other.diff(m).decompose():
                    if rng.random() < 0.5:
                        m.merge(part)
    yield from maps.values()


def test_small_states_encode_as_the_python_code_does() -> None:
    taken = concurrent = clouds = 0
    for seed in range(400):
        for m in _history(seed):
            fast = compiled(m)
            if not m._store:
                assert fast is None  # an empty map: the Python code
                continue
            assert fast is not None, (m._store, m.context)
            assert fast == two_pass(m)
            assert decode(fast) == m
            taken += 1
            concurrent += any(type(v[0]) is tuple for v in m._store.values())
            clouds += bool(m.context.cloud)
    # the cases that matter were there
    assert taken > 1000 and concurrent > 100 and clouds > 100, (taken, concurrent, clouds)


def test_long_cloud_runs_and_int_timestamps() -> None:
    m = AWLWWMap()
    for i in range(40):
        m.put("q", f"k{i % 9}", i, 1000 - 3 * i)  # int timestamps, negative differences
    m.remove("k3")
    m._cc.add_run("q", 100, 140)  # a long run (written as a run) beside short ones
    m._cc.add_run("p", 7, 9)
    m._cc.add_run("p", 20, 60)
    m._cc.add(("s", 5))
    m._cc.compact()
    fast = compiled(m)
    assert fast is not None and fast == two_pass(m)
    assert len(msgpack.unpackb(fast)[3]) == 9  # the body's optional runs were written
    assert decode(fast) == m


@given(universes(AWLWWMAP_SPEC, max_steps=14), st.data())
def test_any_reachable_state_encodes_as_the_python_code_does(u: Any, data: st.DataObject) -> None:
    (x,) = pick(u, data, 1)
    fast = compiled(x)
    if fast is not None:
        assert fast == two_pass(x)


def _one_entry(ts: Any, key: Any = "k", value: Any = 1) -> AWLWWMap:
    m = AWLWWMap()
    m.put("r", key, value, ts)
    return m


@pytest.mark.parametrize(
    "make",
    [
        AWLWWMap,  # empty
        lambda: _one_entry(1.5),  # a float timestamp (kind 2)
        lambda: _one_entry(HLC("other").now(wall=5)),  # another replica's HLC (kind 2)
        lambda: _one_entry(1 << 64 - 1),  # a timestamp past int64
        lambda: _one_entry(5, key="\ud800"),  # a key with no UTF-8: msgpack's error is Python's
        lambda: _one_entry(5, value="\udfff"),
    ],
)
def test_states_it_does_not_take_are_left_to_the_python_code(make: Callable[[], AWLWWMap]) -> None:
    m = make()
    assert compiled(m) is None
    try:
        want: Any = two_pass(m)
    except Exception as exc:  # the same outcome through encode(), whichever it is
        with pytest.raises(type(exc)):
            encode(m, canonical=True)
    else:
        assert encode(m, canonical=True) == want


def test_mixed_timestamp_kinds_and_big_states_are_left_to_the_python_code() -> None:
    m = _one_entry(5)
    m.put("r", "other", 2, HLC("r").now(wall=9))
    assert compiled(m) is None
    assert encode(m, canonical=True) == two_pass(m)
    big = AWLWWMap()
    for i in range(256):  # the column kinds of big states
        big.put("r", f"k{i}", i, i)
    assert compiled(big) is None
    assert encode(big, canonical=True) == two_pass(big)


def test_encode_canonical_goes_through_the_compiled_encoder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    def spy(*args: Any) -> bytes | None:
        calls.append(1)
        return speedups.canonical(*args)  # type: ignore[no-any-return]

    monkeypatch.setattr(_accel, "canonical", spy)
    m = _one_entry(HLC("r").now(wall=1))
    assert encode(m, canonical=True) == two_pass(m)
    assert calls == [1]
    assert encode(m) == two_pass(m)  # a valid plain encoding too: used for both
    assert calls == [1, 1]
    assert decode(encode(m)) == m
