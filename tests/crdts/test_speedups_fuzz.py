"""Fuzzing ``unfront`` (``crdts/_speedups.c``), the compiled reader of the front-coded keys of wire
format 3, against its pure-Python twin: it reads bytes from peers.

Arbitrary bytes and mutated valid encodings (bytes flipped, inserted, deleted, set to the values
the format gives meaning to, the buffer cut; the count off by one) go to both readers, directly
and through :func:`crdts.decode` of a whole version-3 body. Either both return the same keys
(the same map) or both raise, the compiled one ``ValueError`` and ``decode`` on either path the
typed :class:`~crdts.DecodeError`; anything else (another exception, a difference, a crash of
the worker) fails. Bounded for CI by the suite's Hypothesis profile (60 examples a test, 200
under ``CI``); the long run: ``DELTAMESH_FUZZ_EXAMPLES=200000 pytest THIS_FILE``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import zlib
from collections.abc import Iterator
from typing import Any

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crdts import TAGS, AWLWWMap, DecodeError, _accel, decode
from crdts import _awlwwmap_codec as codec

# the long run outside CI: DELTAMESH_FUZZ_EXAMPLES=200000 (examples per test)
LONG = int(os.environ.get("DELTAMESH_FUZZ_EXAMPLES", "0"))
budget = (
    settings(max_examples=LONG, suppress_health_check=list(HealthCheck)) if LONG else settings()
)

TAG = TAGS["AWLWWMap"]
ACCEL = [name for name in _accel.__all__ if name != "COMPILED"]  # every compiled loop
speedups: Any = importlib.import_module("crdts._speedups")  # ImportError: not built (a failure)
# the bytes the format gives meaning to: NUL ends a record, 1..65 is a shared prefix (0..64
# bytes), 66 one past the limit, then UTF-8 lead and continuation bytes and bytes never valid
SPECIAL = st.sampled_from(
    [0, 1, 2, 3, 64, 65, 66, 67, 0x7F, 0x80, 0xBF, 0xC0, 0xC3, 0xED, 0xF4, 0xFF]
)


@contextlib.contextmanager
def path(compiled: bool) -> Iterator[None]:
    """The library on the compiled loops or on the pure-Python code (what ``DELTAMESH_PURE=1``
    gives), whichever the environment chose, restored after."""
    saved = {name: getattr(_accel, name) for name in ACCEL}
    for name in ACCEL:
        setattr(_accel, name, getattr(speedups, name) if compiled else None)
    try:
        yield
    finally:
        for name, fn in saved.items():
            setattr(_accel, name, fn)


def front_code(keys: list[bytes], shares: list[int]) -> bytes:
    """The keys front-coded as ``unfront`` reads them, each sharing ``min(its share, the common
    prefix with the key before, 64)`` bytes (any such choice is valid, not only the longest)."""
    out = bytearray()
    prev = b""
    for key, want in zip(keys, shares, strict=True):
        common = 0
        while common < min(len(key), len(prev)) and key[common] == prev[common]:
            common += 1
        p = min(want, common, codec.MAX_SHARED_PREFIX)
        out += bytes((p + 1,)) + key[p:] + b"\0"
        prev = key
    return bytes(out)


@st.composite
def valid_front_coded(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    # keys that share prefixes (a small alphabet, multi-byte characters whose bytes a prefix
    # can split), sometimes repeated; no NUL (the encoder never front-codes a key with one)
    text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\0"), max_size=12)
    near = st.text(alphabet="ab/é🔑", max_size=12)
    # stems around the 64-byte limit of a shared prefix (and one that ends mid-character)
    stem = st.sampled_from(["", "", "k" * 63, "k" * 64, "k" * 65, "é" * 32, "ké" * 30])
    keys = draw(st.lists(st.one_of(st.builds(str.__add__, stem, near), text), max_size=24))
    share = st.one_of(st.just(80), st.integers(0, 80))  # often the longest (up to 64)
    shares = draw(st.lists(share, min_size=len(keys), max_size=len(keys)))
    return front_code([k.encode() for k in keys], shares), keys


def starts(buf: bytes | bytearray) -> list[int]:
    """Where each record (its shared-prefix byte) starts, if the buffer is still valid."""
    return [0] + [j + 1 for j, b in enumerate(buf[:-1]) if b == 0]


@st.composite
def mutated(draw: st.DrawFn) -> tuple[bytes, int]:
    """A valid encoding with a few edits, and the key count (sometimes off by one)."""
    raw, keys = draw(valid_front_coded())
    buf = bytearray(raw)
    at_bounds: bool = draw(st.booleans())
    if keys and at_bounds:
        # a shared prefix one past what it may be (more bytes than the key before has, or
        # 65 > 64), at it, or one short; most often after a key longer than the limit
        after_long = [j for j in range(1, len(keys)) if len(keys[j - 1].encode()) > 64]
        i = draw(st.sampled_from(after_long or [0]) | st.integers(0, len(keys) - 1))
        may = min(len(keys[i - 1].encode()), codec.MAX_SHARED_PREFIX) if i else 0
        buf[starts(buf)[i]] = may + 1 + draw(st.sampled_from([1, 0, -1, 2]))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["set", "special", "insert", "delete", "cut"]))
        at = draw(st.integers(0, len(buf)))
        byte = draw(st.integers(0, 255) if kind == "set" else SPECIAL)
        if kind in ("set", "special") and at < len(buf):
            buf[at] = byte
        elif kind == "insert":
            buf.insert(at, byte)
        elif kind == "delete" and at < len(buf):
            del buf[at]
        elif kind == "cut":
            del buf[at:]
    n = len(keys) + draw(st.sampled_from([0, 0, 0, 0, -1, 1]))
    return bytes(buf), n


def unfront_both(raw: bytes, n: int) -> list[str] | None:
    """The keys both readers agree on, or ``None`` when both reject the bytes."""
    try:
        want: list[str] | None = codec._unfront(raw, n)
    except DecodeError:
        want = None
    try:
        got: list[str] | None = speedups.unfront(raw, n)
    except ValueError:  # what _decode_key_blob turns into DecodeError (UnicodeDecodeError too)
        got = None
    assert got == want
    return got


@budget
@given(st.binary(max_size=300), st.integers(-2, 40))
def test_unfront_of_any_bytes_agrees_with_the_pure_reader(raw: bytes, n: int) -> None:
    unfront_both(raw, n)


@budget
@given(valid_front_coded())
def test_unfront_reads_every_valid_encoding(case: tuple[bytes, list[str]]) -> None:
    raw, keys = case
    assert unfront_both(raw, len(keys)) == keys


@budget
@given(mutated())
def test_unfront_of_mutated_encodings_agrees_with_the_pure_reader(case: tuple[bytes, int]) -> None:
    unfront_both(*case)


def version_3(raw: bytes, n: int) -> bytes:
    """A whole AWLWWMap body of format 3: ``n`` entries of replica ``a`` (dots 1..n, values
    0..n-1, int timestamps), the keys ``raw`` front-coded and DEFLATE'd (key method 1)."""
    z = zlib.compressobj(1, zlib.DEFLATED, -15)
    keys = bytes((1,)) + z.compress(raw) + z.flush()
    body = ((), (0, n), (1,) * n, keys, tuple(range(n)), 0, (5,) + (1,) * (n - 1), ())
    return bytes(msgpack.packb((TAG, 3, ["a"], body)))


def decode_on(compiled: bool, data: bytes) -> AWLWWMap | None:
    with path(compiled):
        try:
            m = decode(data)
        except DecodeError:
            return None
    assert isinstance(m, AWLWWMap)
    return m


@budget
@given(mutated())
def test_decode_of_mutated_front_coded_keys_is_the_same_on_both_paths(
    case: tuple[bytes, int],
) -> None:
    raw, n = case
    if n < 1:  # a body holds at least one entry here (the runs column counts them)
        return
    data = version_3(raw, n)
    fast, slow = decode_on(True, data), decode_on(False, data)
    assert (fast is None) is (slow is None)
    if fast is not None and slow is not None:
        assert fast == slow and fast.value == slow.value
