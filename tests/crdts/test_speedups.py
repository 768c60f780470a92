"""The compiled codec loops (``crdts._speedups``, optional) against the pure-Python code: the same
states out of both encoders, each decoder reading the other's bodies, the same ``DecodeError``
for the same malformed key bytes; format 3 (key methods) and format 2 still read.

The module is built by the test command's install (``setup.py``; a fresh machine has gcc and
the Python headers): a missing build fails here instead of silently testing one path twice.
``DELTAMESH_PURE=1`` (the test command's second run of tests/crdts) makes the library ignore
it; these tests load it directly either way."""

from __future__ import annotations

import importlib
import os
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdts import HLC, TAGS, AWLWWMap, CausalContext, DecodeError, _accel, decode, encode
from crdts import _awlwwmap_codec as codec
from crdts.testing import AWLWWMAP_SPEC, pick, universes

TAG = TAGS["AWLWWMap"]
PURE = os.environ.get("DELTAMESH_PURE", "") not in {"", "0"}
speedups: Any = importlib.import_module("crdts._speedups")  # ImportError: not built (a failure)


def test_the_library_runs_the_path_the_environment_asks_for() -> None:
    assert _accel.COMPILED is not PURE
    assert (_accel.cols is None) is PURE


_COMPILED_NAMES = (
    "merge_scan",
    "diff_scan",
    "dropped_scan",
    "build_index",
    "canonical",
    "decode_one",
)


@pytest.fixture
def pure(monkeypatch: pytest.MonkeyPatch) -> Callable[[], Any]:
    """A switch to the pure-Python path for the rest of the test."""

    def go() -> None:
        monkeypatch.setattr(_accel, "cols", None)
        monkeypatch.setattr(_accel, "unfront", None)
        for name in _COMPILED_NAMES:
            monkeypatch.setattr(_accel, name, None)

    monkeypatch.setattr(_accel, "cols", speedups.cols)
    monkeypatch.setattr(_accel, "unfront", speedups.unfront)
    monkeypatch.setattr(_accel, "merge_scan", speedups.merge_scan)
    for name in _COMPILED_NAMES[1:]:
        monkeypatch.setattr(_accel, name, getattr(speedups, name))
    return go


def body_of(data: bytes) -> list[Any]:
    obj = msgpack.unpackb(data, use_list=False)
    assert obj[0] == TAG
    return list(obj[3])


def _states() -> Iterator[tuple[str, AWLWWMap]]:
    def big(n: int, writers: str = "r", overwrites: int = 0, ts: str = "hlc") -> AWLWWMap:
        clocks = {w: HLC(w) for w in writers}
        m = AWLWWMap()
        for i in range(n + overwrites):
            w = writers[i % len(writers)]
            k = f"key{i if i < n else (i * 7919) % n}"
            stamp: Any = clocks[w].now(wall=1_700_000_000_000 + i) if ts == "hlc" else i
            m.put(w, k, i % 5, stamp)
        return m

    yield "fresh", big(300)
    yield "overwritten", big(400, overwrites=250)
    yield "two writers interleaved", big(600, writers="ab", overwrites=100)
    yield "int timestamps", big(300, ts="int")
    m = big(300)
    m.remove("key5")
    m._cc.add_run("r", 10_000, 20_000)  # a cloud: the live dots are subtracted from it
    yield "removed and a cloud", m
    m = big(300)
    m.put("r", "ключ-🔑-ünï", "v", HLC("r").now(wall=1_900_000_000_000))
    m.put("r", "key10" + "x" * 200, b"bytes", HLC("r").now(wall=1_900_000_000_001))
    yield "unicode and long keys", m
    m = big(300)
    m.put("r", "nul\0inside", 1, HLC("r").now(wall=1_900_000_000_000))
    yield "a NUL in a key", m
    m = big(300)
    m.put("r", ("tuple", 1), 1, HLC("r").now(wall=1_900_000_000_000))
    yield "a non-str key", m
    m = AWLWWMap()
    for i in range(300):
        m.put("q", f"k{i}", i, 1000 - 3 * i)  # decreasing: negative gaps, a list column
    m.put("q", "big", 1, (1 << 64) - 1)  # past int64: the Python path takes it
    yield "odd int timestamps", m
    m = AWLWWMap()
    for i in range(300):
        m.put("q", f"k{i}", i, 1.5 * i)  # floats: the Python path
    yield "float timestamps", m
    m = AWLWWMap()
    clock = HLC("s")
    for i in range(300):
        m.put("s", f"k{i}", i, clock.now(wall=5))  # one wall: logicals 0..299, past a byte
    yield "hlc logicals past 255", m
    a, b = big(300, writers="ab"), big(300, writers="cb")
    yield "concurrent entries", a.join(b)


@pytest.mark.parametrize("name", [name for name, _ in _states()])
def test_both_encoders_give_the_same_state_and_both_decoders_read_both(
    name: str, pure: Callable[[], None]
) -> None:
    m = dict(_states())[name]
    fast, fast_canon = encode(m), encode(m, canonical=True)
    assert decode(fast) == m
    pure()
    slow, slow_canon = encode(m), encode(m, canonical=True)
    assert decode(fast) == m == decode(slow)  # the pure decoder reads the compiled body
    assert fast_canon == slow_canon  # canonical bytes never depend on the build
    bf, bs = body_of(fast), body_of(slow)
    if bf != bs:  # only the key column may differ: method 1 against method 0
        assert bf[:3] + bf[4:] == bs[:3] + bs[4:]
        assert bf[3][0] == 1 and bs[3][0] == 0


def test_sequential_keys_front_code_to_a_few_bytes(pure: Callable[[], None]) -> None:
    m = AWLWWMap()
    clock = HLC("r")
    for i in range(20_000):
        m.put("r", f"key{i}", i % 5, clock.now(wall=1_700_000_000_000 + i))
    fast = body_of(encode(m))[3]
    pure()
    slow = body_of(encode(m))[3]
    assert fast[0] == 1 and slow[0] == 0
    assert len(fast) * 10 < len(slow)


@given(
    st.lists(
        st.one_of(st.text(max_size=90), st.text(alphabet="ab/é", max_size=70)),
        min_size=256,
        max_size=300,
        unique=True,
    )
)
def test_any_str_keys_roundtrip_through_both_paths(keys: list[str]) -> None:
    m = AWLWWMap()
    for i, k in enumerate(sorted(keys)):
        m.put("r", k, i, i)
    got = speedups.cols(m._store, False, True, False, 256)
    assert got is not None
    blob = got[3]
    if any("\0" in k for k in keys):
        assert type(blob) is list
    else:
        assert speedups.unfront(blob, len(keys)) == codec._unfront(blob, len(keys)) == list(m)


MALFORMED_FRONT = [
    (b"\x01ka\0", 2),  # fewer keys than entries
    (b"\x01ka\0\x01kb\0\x01kc\0", 2),  # more
    (b"\x01ka\0\x01kb", 2),  # no terminator
    (b"\x01ka\0\x04b\0", 2),  # shares 3 bytes of a 2-byte key
    (b"\x01" + b"k" * 80 + b"\0" + b"\x42b\0", 2),  # shares 65 > 64
    (b"\x01ka\0\0", 2),  # an empty record
    (b"\x01\xffa\0\x01kb\0", 2),  # not UTF-8
    (b"\x01k\xc3\0\x01kb\0", 2),  # a truncated character
    (b"\x01\xc3\xa9\0\x02\xa8\0", 2),  # valid: a prefix may end inside a character
    (b"\x01\xed\xa0\x80\0\x01kb\0", 2),  # a lone surrogate
]


@pytest.mark.parametrize(("raw", "n"), MALFORMED_FRONT)
def test_malformed_front_coded_keys_raise_the_same_in_both(raw: bytes, n: int) -> None:
    try:
        want = codec._unfront(raw, n)
    except DecodeError:
        with pytest.raises(ValueError):
            speedups.unfront(raw, n)
    else:  # the one valid case: prefixes count bytes, keys are checked whole
        assert want == speedups.unfront(raw, n) == ["é", "è"]


def _deflate(raw: bytes) -> bytes:
    z = zlib.compressobj(1, zlib.DEFLATED, -15)
    return z.compress(raw) + z.flush()


def _v3(keys: bytes) -> bytes:
    body = ((), (0, 2), (1, 1), keys, (1, 2), 0, (5, 1), ())
    return bytes(msgpack.packb((TAG, 3, ["a"], body)))


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize(
    "keys",
    [
        b"",  # no method byte
        b"\x02" + _deflate(b"\x01ka\0\x02b\0"),  # unknown method
        b"\x01" + _deflate(b"\x01ka\0\x04b\0"),
        b"\x01" + _deflate(b"\x01ka\0\x02b\0")[:-2],  # truncated DEFLATE
        b"\x01" + _deflate(b"\x01" + b"k" * 100_000 + b"\0\x02b\0"),  # past the inflation cap
        b"\x00" + _deflate(b"k" * 100_000 + b"\0kb"),
        b"\x00" + _deflate(b"ka\0kb\0kc"),
    ],
)
def test_malformed_format_3_key_columns_raise_decode_error(
    keys: bytes, compiled: bool, pure: Callable[[], None]
) -> None:
    if not compiled:
        pure()
    for good in (b"\x01" + _deflate(b"\x01ka\0\x02b\0"), b"\x00" + _deflate(b"ka\0kb")):
        m = decode(_v3(good))
        assert isinstance(m, AWLWWMap) and m.value == {"ka": 1, "kb": 2}
    with pytest.raises(DecodeError):
        decode(_v3(keys))


# encode(m) by the format-2 encoder (DEFLATE'd keys without a method byte), for _v2_map()
V2_WIRE = bytes.fromhex(
    "940c0291a172989200cd012a9200cd0103c50103020102010102010101010102010101010102010101010102"
    "0101010101020101010101020101010101020101010101020101010101020101010101020101010101020101"
    "0101010201010101010201010101010201010101010201010101010201010101010201010101010201010101"
    "0102010101010102010101010102010101010102010101010102010101010102010101010102010101010102"
    "0101010101020101010101020101010101020101010101020101010101020101010101020101010101020101"
    "0101010201010101010201010101010201010101010201010101010101010101010101010101010101010101"
    "010101010101010101010101010101c5020d35d5417284301043d11cc99231e003659513e4f6a9f9dfd9b098"
    "92d2801f9d9fefdf7cfd7cfff673b93e97f5b9dc9fcbfbb9eccf25832bc910cde417c2219d875f2885566995"
    "7cc99709a5555aa555f293fc64caa435694d5a93fc243f9932695db42e5a17f98bfcc5948bd645eba2b5c82f"
    "f28b298bd6f2e9692df2cb3c536e5a37ad9bd64dfe267f33e5a675d3ba693de41ff20f531e5a0fad87d643fe"
    "21ff32e5a5f5d27a69bde45ff22f535e5a2fad4d6b93dfe4375336ad4d6bd3dae43328643027836206cd0caa"
    "19b432a865302dc3fabf06eb4742ec859939248e8958d7436a4f1711469411694415e9e939561ed14704126d"
    "643a562311495412994421b97c5aa5442ad14ac4129de472ac5e2298282692c972ecf265a926b2c9b22e9c68"
    "26b72f593b114fd413f94439793c23054542d1504414fde4f18c741421454991525494d7335253e4143d4550"
    "d152b667a4a9882aaa8aaca2a86ccf4859555695556555521dbcac2aabcaaab2aaac86b175c5545955569555"
    "6555523d8be67fd3583f1be7ac9cb36dceba39fb465975ef545995545d3a5556955565555995545d3d555695"
    "5565555995545d405556955565555995545d4355569555655559c0f0cc394fbf279fc8bbf54e9ce25fd09da6"
    "f4a205cff99ca10794b3e07db5f1bdc597129f383e4ebcd7b815e3e28bbb2daeafb8a1e212aa3ba62e90ba1d"
    "7afe29f85dd78fb67e91f573ebda7fdc01030102040001030400010203000102030400020304000102040001"
    "0203040102030400010304000102030001020304000203040001020400010203040102030400010304000102"
    "0300010203040002030400010204000102030401020304000103040001020300010203040002030400010204"
    "0001020304010203040001030400010203000102030400020304000102040001020304010203040001030400"
    "0102030001020304000203040001020400010203040102030400010304000102030001020304000203040001"
    "02040001020304010203040001030400010203a178a178a178a178a178a178a178a178a178a178a178a178a1"
    "78a178a178a178a178a178a178a178a178a178a178a178a178a178a178a178a178a178a178a178a178a178a1"
    "78a178a178a1780393cf0000018bcfe56801dc01030001020101020101010101020101010101020101010101"
    "0201010101010201010101010201010101010201010101010201010101010201010101010201010101010201"
    "0101010102010101010102010101010102010101010102010101010102010101010102010101010102010101"
    "0101020101010101020101010101020101010101020101010101020101010101020101010101020101010101"
    "0201010101010201010101010201010101010201010101010201010101010201010101010201010101010201"
    "01010101020101010101020101010101020101010101cf000000174876e6fe07070707070707070707070707"
    "070707070707070707070707070707070707070707070707c501030000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000090"
)


def _v2_map() -> AWLWWMap:
    m = AWLWWMap()
    c = HLC("r")
    for i in range(260):
        m.put("r", f"key{i}", i % 5, c.now(wall=1_700_000_000_000 + i))
    for i in range(0, 260, 7):
        m.put("r", f"key{i}", "x", c.now(wall=1_800_000_000_000 + i))
    m.remove("key3")
    return m


@pytest.mark.parametrize("compiled", [True, False])
def test_format_2_still_decodes(compiled: bool, pure: Callable[[], None]) -> None:
    if not compiled:
        pure()
    raw = msgpack.unpackb(V2_WIRE, use_list=False)
    assert raw[1] == 2 and type(raw[3][3]) is bytes
    m = _v2_map()
    assert decode(V2_WIRE) == m
    assert body_of(encode(m))[3][0] == (1 if compiled else 0)
    assert msgpack.unpackb(encode(m))[1] == 3


def _merged(x: AWLWWMap, y: AWLWWMap, index: bool) -> AWLWWMap:
    out = x.copy()
    if index:
        out._build_index()  # the merge then keeps the dot -> key index up to date
    out.merge(y)
    if index and out._dix is not None:
        assert _index_covers(out)
    return out


def _index_covers(m: AWLWWMap) -> bool:
    """Every live dot is in the index (it may hold stale ones: they are checked on use)."""
    assert m._dix is not None
    return all(
        m._dix.get(r[0], {}).get(r[1]) == k
        for k, v in m._store.items()
        for r in ((v,) if v[0].__class__ is str else v)
    )


_SCANS = ("merge_scan", "diff_scan", "dropped_scan", "build_index")


def _both(fn: Callable[[], Any]) -> tuple[Any, Any]:
    """``fn()`` on the compiled path, then on the pure path."""
    fast = fn()
    saved = {name: getattr(_accel, name) for name in _SCANS}
    for name in _SCANS:
        setattr(_accel, name, None)
    try:
        slow = fn()
    finally:
        for name, f in saved.items():
            setattr(_accel, name, f)
    return fast, slow


@given(universes(AWLWWMAP_SPEC, max_steps=14), st.data())
def test_the_compiled_merge_diff_and_index_equal_the_pure_ones(u: Any, data: st.DataObject) -> None:
    x, y = pick(u, data, 2)
    for index in (False, True):
        fast, slow = _both(lambda: [_merged(x, y, index), _merged(y, x, index)])  # noqa: B023
        assert fast == slow
        assert fast[0] == fast[1]
        assert [m.value for m in fast] == [m.value for m in slow]
    fast, slow = _both(lambda: [x.diff(y), y.diff(x), x.leq(y), y.leq(x)])
    assert fast[:2] == slow[:2] and fast[2:] == slow[2:]
    assert [d.context for d in fast[:2]] == [d.context for d in slow[:2]]
    assert y.join(fast[0]) == x.join(y)
    fast, slow = _both(lambda: x.copy()._build_index())
    assert fast == slow


def test_the_compiled_merge_of_big_diverged_replicas(pure: Callable[[], None]) -> None:
    base = AWLWWMap()
    clocks = {r: HLC(r) for r in "abc"}
    for i in range(3_000):
        base.put("a", f"key{i}", i, clocks["a"].now(wall=i))
    replicas = {r: base.copy() for r in "abc"}
    for j in range(600):
        for r, m in replicas.items():
            k = f"key{(j * 7 + ord(r)) % 3_000}" if j % 3 else f"{r}-new-{j}"
            m.put(r, k, j, clocks[r].now(wall=10_000 + j))
        if j % 97 == 0:
            replicas["b"].remove(f"key{j}")
    a, b, c = replicas.values()
    c.merge(a.diff(base))  # c saw some of a's writes: clouds and concurrent entries follow
    parts = b.decompose()
    a.merge(parts[0])  # and a saw a little of b's
    a.merge(parts[-7])

    def work() -> list[Any]:
        out: list[Any] = [a.join(b), b.join(a), a.join(c), c.join(b), b.join(c).join(a)]
        out += [a.diff(b), b.diff(a), c.diff(a), a.diff(c), a.leq(out[0]), c.leq(a)]
        x = a.copy()
        x.merge(b.diff(a))  # a delta (a context of runs) into a state, through the index
        return [*out, x, x._dix]

    fast = work()
    pure()
    slow = work()
    assert fast == slow
    assert fast[-2] == fast[0]
    assert fast[0] == fast[1] and fast[4] == a.join(b).join(c)


def _shifted(m: AWLWWMap, off: int) -> AWLWWMap:
    """``m`` with every counter moved up by ``off`` (the dots below ``off`` seen by everyone
    and held by no one): the same lattice, with counters past a small int's range."""

    def rec(r: Any) -> Any:
        return (r[0], r[1] + off, *r[2:])

    store = {
        k: (tuple(rec(r) for r in v) if v[0].__class__ is not str else rec(v))
        for k, v in m._store.items()
    }
    cc = m._cc
    reps = set(cc.vv) | set(cc.cloud)
    dots = [(r, c + off) for r, s in cc.cloud.items() for c in s]
    return AWLWWMap._make(store, CausalContext({r: cc.vv.get(r, 0) + off for r in reps}, dots))


def test_the_compiled_merge_of_many_writers_and_big_counters(pure: Callable[[], None]) -> None:
    """merge_scan caches each replica's version-vector entry and cloud membership (a few
    slots; more writers than slots take the dict lookups) and reads small counters without the
    general int conversion (big ones take it): with 12 writers and counters past 2**30 and
    2**62, the compiled merge equals the pure one and the shifted lattice's join."""
    assert _accel.merge_scan is speedups.merge_scan  # the compiled scan runs below
    writers = [f"w{i:02}" for i in range(12)]
    clocks = {r: HLC(r) for r in writers}
    base = AWLWWMap()
    for i in range(400):
        r = writers[i % len(writers)]
        base.put(r, f"key{i}", i, clocks[r].now(wall=i))
    x, y = base.copy(), base.copy()
    for j in range(300):
        for side, m in ((0, x), (1, y)):
            r = writers[side * 6 + j % 6]  # each side's own writers: no dot on both sides
            k = f"key{(j * 13 + side * 7) % 400}" if j % 3 else f"{r}-{side}-{j}"
            m.put(r, k, j, clocks[r].now(wall=1_000 + j))
    y.merge(x.decompose()[5])  # a cloud on y's side, concurrent entries in the join
    cases = [(x, y), (y, x)]
    cases += [(_shifted(x, off), _shifted(y, off)) for off in (1 << 30, (1 << 62) - 500)]

    def work() -> list[AWLWWMap]:
        out = []
        for a, b in cases:
            out += [a.join(b), b.join(a), _merged(a, b, True)]
        return out

    fast = work()
    pure()
    slow = work()
    assert fast == slow
    joined = x.join(y)
    assert len({len(w) for w in fast}) == 1 and fast[0] == joined
    assert fast[6] == _shifted(joined, 1 << 30) and fast[9] == _shifted(joined, (1 << 62) - 500)
