"""The codec: ``encode(x) -> bytes`` and ``decode(b) -> x`` for every CRDT type, by registration.

Wire format (format of the envelope: stable; each type versions its own body)::

    msgpack array [tag: int, version: int, replicas: array of str, body: any]

- ``tag`` names the type (see :data:`TAGS`), ``version`` the format of its body.
- ``replicas`` is the message's **replica table**: every replica id the body mentions, once;
  the body refers to a replica by its index in the table (``Writer.replica``/``Reader.replica``).
- ``body`` is whatever the type's body encoder returned: any msgpack value built of ints, floats,
  str, bytes, bool, None and tuples/lists (never maps: decoders reject them).

Decoding is hostile-input safe: the whole message is unpacked by msgpack with every size limit set
to the message length (so a length header cannot make it allocate more than the input justifies)
and nesting bounded by msgpack's own stack; then the type's body decoder validates every field
through the :class:`Reader` helpers. **Any** exception on the way (a malformed body tripping a
``KeyError``, ``TypeError``, ``IndexError``, even a ``RecursionError`` or ``MemoryError``) comes
out as :class:`~crdts.DecodeError`, and so do an unknown tag and a version newer than the
registered one. Nothing expands: dot lists are encoded dot by dot (delta-coded); a context's
long runs (at least :data:`RUN_MIN` consecutive counters) as ``(start, length)`` pairs and decoded
as runs, never listed, so decoding allocates in proportion to the input whatever the runs claim.

Registering a type (how every type of the package, ``AWLWWMap`` included, plugs in)::

    from crdts._codec import Reader, Writer, register

    def _encode_body(x: MyType, w: Writer) -> object:        # build a msgpack-able body
        return (w.context(x.cc), [w.replica(r) for r in x.replicas])

    def _decode_body(body: object, r: Reader, version: int) -> MyType:
        cc_obj, reps = r.array(body, 2)                       # r.* raise DecodeError on bad input
        ...

    register(MyType, tag=TAGS["MyType"], version=1, encode=_encode_body, decode=_decode_body)

``decode_body`` is called only with ``1 <= version <= registered``, so it can read
every older format it still supports. The tag table below reserves a tag for every type of the
package; third-party types use tags ``>= 128``.

Helpers on :class:`Writer` (encoding side, per message): ``replica(r) -> int`` (interning),
``dots(iterable) -> list[int]`` (dots grouped by replica, sorted, delta-coded),
``context(cc) -> tuple`` (``cloud(items)`` for a type that writes its own context), ``ts(t)``
(an ``int`` or an :class:`~crdts.HLCTimestamp`), ``value(v)`` (a msgpack-native value, passed
through). :class:`Reader` mirrors them (``replica``, ``dots``,
``context``, ``ts``, ``value``) and adds validators:
``integer(x, lo, hi)``, ``counter(x)``, ``text(x)``, ``array(x, n=None)``, ``runs(x)``,
``fail(msg)``.

Values (elements, keys, register values) must be msgpack-native: ``str``, ``int`` (64-bit),
``float`` (not NaN), ``bytes``, ``bool``, ``None`` and tuples of these (see :func:`check_value`).
They round-trip exactly: tuples stay tuples, bytes stay bytes, ``True`` stays ``True``.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, MutableSequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, NoReturn, TypeVar, cast

import msgpack

from crdts._causal import CausalContext, Counters, Dot
from crdts._errors import DecodeError, EncodeError, RegistrationError, UsageError
from crdts._hlc import HLCTimestamp

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MAX_VALUE_DEPTH",
    "RUN_MIN",
    "TAGS",
    "Reader",
    "Writer",
    "check_replica",
    "check_ts",
    "check_value",
    "decode",
    "encode",
    "register",
]

T = TypeVar("T")

MAX_MESSAGE_BYTES = 256 * 1024 * 1024
"""Messages longer than this are rejected unread (256 MiB)."""

MAX_VALUE_DEPTH = 32
"""Nesting depth allowed for tuple values (elements, keys, register values)."""

RUN_MIN = 16
"""Runs of at least this many consecutive counters in a context's cloud are written as one
``(start gap, length)`` pair, in the context's optional third element; shorter ones dot by dot as
ever, so a context without long runs encodes exactly as before this element existed."""

_MAX_U64 = (1 << 64) - 1
_MIN_I64 = -(1 << 63)
_MAX_COUNTER = (1 << 63) - 1

TAGS: dict[str, int] = {
    "GCounter": 1,
    "PNCounter": 2,
    "GSet": 3,
    "ORSet": 4,
    "LWWRegister": 5,
    "MVRegister": 6,
    "VectorClock": 7,
    "HLCTimestamp": 8,
    "CausalCounter": 9,
    "ORMap": 10,
    "CausalContext": 11,
    "AWLWWMap": 12,
}
"""The type tags of the package (one byte each on the wire). Third-party types use ``>= 128``."""


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


def _first(item: tuple[str, Any]) -> str:
    return item[0]


def check_value(v: object, what: str = "value", depth: int = 0) -> None:
    """Raise :class:`UsageError` unless ``v`` is msgpack-native and round-trips exactly."""
    t = type(v)
    if t is str or t is bytes or t is bool or v is None:
        return
    if t is int:
        if _MIN_I64 <= cast(int, v) <= _MAX_U64:
            return
        raise UsageError(f"{what} {v!r}: ints must fit in 64 bits")
    if t is float:
        if not math.isnan(cast(float, v)):
            return
        raise UsageError(f"{what} is NaN, which equals nothing (not even itself)")
    if t is tuple:
        if depth >= MAX_VALUE_DEPTH:
            raise UsageError(f"{what} nests tuples deeper than {MAX_VALUE_DEPTH}")
        for item in cast(tuple[object, ...], v):
            check_value(item, what, depth + 1)
        return
    raise UsageError(
        f"{what} {v!r} is a {t.__name__}: use str, int, float, bytes, bool, None or tuples of these"
    )


def check_replica(replica: object) -> None:
    """Raise :class:`UsageError` unless ``replica`` is a ``str``."""
    if type(replica) is not str:
        raise UsageError(f"replica id must be a str, not {type(replica).__name__}")


def check_ts(ts: object) -> None:
    """Raise :class:`UsageError` unless ``ts`` is an ``int`` (64-bit) or an ``HLCTimestamp``."""
    if type(ts) is int:
        if _MIN_I64 <= ts <= _MAX_U64:
            return
    elif type(ts) is HLCTimestamp:
        w, lg, r = ts
        if (
            type(w) is int
            and type(lg) is int
            and type(r) is str
            and _MIN_I64 <= w <= _MAX_U64
            and 0 <= lg <= _MAX_U64
        ):
            return
    raise UsageError(f"ts must be an int (64-bit) or an HLCTimestamp, not {ts!r}")


# ---------------------------------------------------------------------------------------------
# Writer / Reader
# ---------------------------------------------------------------------------------------------


class Writer:
    """Encoding helpers for one message; interns replica ids into the message's table.

    With ``canonical=True`` the encoders emit every unordered collection (dicts, sets, dot
    groups, version vectors) in one fixed order, so equal states encode to equal bytes; ``encode``
    seeds the replica table sorted. Type encoders get that for free by iterating through
    :meth:`ordered` and :meth:`ordered_items`."""

    __slots__ = ("_index", "canonical", "replicas")

    def __init__(self, *, canonical: bool = False, replicas: Iterable[str] = ()) -> None:
        self._index: dict[str, int] = {}
        self.replicas: list[str] = []
        self.canonical = canonical
        for r in replicas:
            self.replica(r)

    def ordered(self, xs: Iterable[Any]) -> Iterable[Any]:
        """``xs`` (msgpack-native values) as they are, or in canonical order when canonical."""
        return sorted(xs, key=_canonical_key) if self.canonical else xs

    def ordered_items(self, d: dict[Any, Any]) -> Iterable[tuple[Any, Any]]:
        """``d.items()``, in canonical key order when canonical."""
        if not self.canonical:
            return d.items()
        return sorted(d.items(), key=lambda kv: _canonical_key(kv[0]))

    def replica(self, r: str) -> int:
        """The index of ``r`` in this message's replica table (added on first use)."""
        i = self._index.get(r)
        if i is None:
            i = self._index[r] = len(self.replicas)
            self.replicas.append(r)
        return i

    def dots(self, dots: Iterable[Dot]) -> list[int]:
        """Flat ``[ri, n, c1, c2 - c1, ...]`` groups: per replica, ``n`` sorted counters,
        delta-coded. Read back with :meth:`Reader.dots`."""
        by: dict[str, list[int]] = {}
        for r, c in dots:
            lst = by.get(r)
            if lst is None:
                by[r] = [c]
            else:
                lst.append(c)
        out: list[int] = []
        for r, cs in sorted(by.items()) if self.canonical else by.items():
            cs.sort()
            out.append(self.replica(r))
            out.append(len(cs))
            prev = 0
            for c in cs:
                out.append(c - prev)
                prev = c
        return out

    def context(self, cc: CausalContext) -> tuple[list[int], ...]:
        """``(vv, cloud)`` or ``(vv, cloud, runs)``: ``vv`` flat ``[ri, n, ...]``, ``cloud`` as
        :meth:`dots`, ``runs`` (only when the cloud has runs of :data:`RUN_MIN` or more) as
        :meth:`cloud` writes them."""
        vv: list[int] = []
        for r, n in sorted(cc.vv.items()) if self.canonical else cc.vv.items():
            vv.append(self.replica(r))
            vv.append(n)
        dots, runs = self.cloud(cc.cloud.items())
        return (vv, dots, runs) if runs else (vv, dots)

    def cloud(self, items: Iterable[tuple[str, Counters]]) -> tuple[list[int], list[int]]:
        """A dot cloud as ``(dots, runs)``: runs shorter than :data:`RUN_MIN` dot by dot
        (:meth:`dots`), the others flat ``[ri, k, gap1, len1, gap2, len2, ...]`` per replica
        (run ``i`` is ``[lo_i, lo_i + len_i)``, ``lo_i = hi_(i-1) + gap_i``, ``hi_0 = 0``). Read
        back with :meth:`Reader.dots` and :meth:`Reader.runs`."""
        short: list[Dot] = []
        runs: list[int] = []
        for r, s in sorted(items, key=_first) if self.canonical else items:
            group: list[int] = []
            prev = 0
            for lo, hi in s.runs():
                if hi - lo >= RUN_MIN:
                    group.append(lo - prev)
                    group.append(hi - lo)
                    prev = hi
                else:
                    short.extend((r, c) for c in range(lo, hi))
            if group:
                runs.append(self.replica(r))
                runs.append(len(group) // 2)
                runs.extend(group)
        return self.dots(short), runs

    def ts(self, ts: int | HLCTimestamp) -> int | tuple[int, int, int]:
        """An ``int`` as itself, an ``HLCTimestamp`` as ``(wall, logical, replica index)``."""
        if type(ts) is int:
            return ts
        t = cast(HLCTimestamp, ts)
        return (t[0], t[1], self.replica(t[2]))

    def value(self, v: Any) -> Any:
        """A msgpack-native value (validated when it entered a state) as itself."""
        return v


class Reader:
    """Decoding helpers for one message: every method validates and raises :class:`DecodeError`."""

    __slots__ = ("replicas",)

    def __init__(self, replicas: tuple[str, ...]) -> None:
        self.replicas = replicas

    @staticmethod
    def fail(msg: str) -> NoReturn:
        raise DecodeError(msg)

    def integer(self, x: object, lo: int = _MIN_I64, hi: int = _MAX_U64) -> int:
        if type(x) is not int or not lo <= x <= hi:
            raise DecodeError(f"expected an int in [{lo}, {hi}], got {x!r:.40}")
        return x

    def text(self, x: object) -> str:
        if type(x) is not str:
            raise DecodeError(f"expected a str, got {type(x).__name__}")
        return x

    def array(self, x: object, n: int | None = None) -> tuple[Any, ...]:
        """``x`` as a tuple (msgpack arrays decode as tuples), of exactly ``n`` items if given."""
        if type(x) is not tuple:
            raise DecodeError(f"expected an array, got {type(x).__name__}")
        t = x
        if n is not None and len(t) != n:
            raise DecodeError(f"expected an array of {n}, got {len(t)}")
        return t

    def replica(self, i: object) -> str:
        if type(i) is not int or not 0 <= i < len(self.replicas):
            raise DecodeError(f"replica index {i!r:.40} out of range")
        return self.replicas[i]

    def counter(self, x: object) -> int:
        """A dot counter or version-vector entry: an int in ``[1, 2**63 - 1]``."""
        return self.integer(x, 1, _MAX_COUNTER)

    def dots(self, x: object) -> list[Dot]:
        """The inverse of :meth:`Writer.dots`; rejects duplicate dots and non-increasing runs."""
        flat = self.array(x)
        out: list[Dot] = []
        i, n = 0, len(flat)
        seen: set[str] = set()
        while i < n:
            if i + 2 > n:
                raise DecodeError("truncated dot group")
            r = self.replica(flat[i])
            if r in seen:
                raise DecodeError("replica appears twice in a dot list")
            seen.add(r)
            k = self.integer(flat[i + 1], 1, n - i - 2)
            c = 0
            for j in range(i + 2, i + 2 + k):
                step = flat[j]
                if type(step) is not int or step < 1:
                    raise DecodeError("dot counters must be strictly increasing")
                c += step
                out.append((r, c))
            if c > _MAX_COUNTER:
                raise DecodeError("dot counter out of range")
            i += 2 + k
        return out

    def runs(self, x: object) -> list[tuple[str, int, int]]:
        """The inverse of the ``runs`` of :meth:`Writer.cloud`: ``(replica, lo, hi)`` triples
        (never expanded: a run of any length is one triple)."""
        flat = self.array(x)
        out: list[tuple[str, int, int]] = []
        i, n = 0, len(flat)
        seen: set[str] = set()
        while i < n:
            if i + 2 > n:
                raise DecodeError("truncated run group")
            r = self.replica(flat[i])
            if r in seen:
                raise DecodeError("replica appears twice in a run list")
            seen.add(r)
            k = self.integer(flat[i + 1], 1, (n - i - 2) // 2)
            hi = 0
            for j in range(i + 2, i + 2 + 2 * k, 2):
                gap, length = flat[j], flat[j + 1]
                if type(gap) is not int or gap < 1 or type(length) is not int or length < 1:
                    raise DecodeError("runs must be ascending, disjoint and non-empty")
                lo = hi + gap
                hi = lo + length
                if hi - 1 > _MAX_COUNTER:
                    raise DecodeError("dot counter out of range")
                out.append((r, lo, hi))
            i += 2 + 2 * k
        return out

    def _cloud_bounds(self, x: object) -> list[tuple[str, MutableSequence[int]]]:
        """What :meth:`dots` checks and returns, as run bounds per replica."""
        flat = self.array(x)
        out: list[tuple[str, MutableSequence[int]]] = []
        i, n = 0, len(flat)
        seen: set[str] = set()
        while i < n:
            if i + 2 > n:
                raise DecodeError("truncated dot group")
            r = self.replica(flat[i])
            if r in seen:
                raise DecodeError("replica appears twice in a dot list")
            seen.add(r)
            k = self.integer(flat[i + 1], 1, n - i - 2)
            # bounds go to a short list, flushed into a packed array when long: a dense cloud
            # then costs 8 bytes a bound, never an int object per dot
            packed: array[int] | None = None
            b: list[int] = []
            c = hi = 0
            for step in islice(flat, i + 2, i + 2 + k):
                if type(step) is not int or step < 1:
                    raise DecodeError("dot counters must be strictly increasing")
                c += step
                if c == hi:
                    hi += 1
                else:
                    if hi:
                        b.append(hi)
                    b.append(c)
                    hi = c + 1
                    if len(b) >= 4096:
                        if c > _MAX_COUNTER:
                            raise DecodeError("dot counter out of range")
                        if packed is None:
                            packed = array("Q")
                        packed.extend(b)
                        b.clear()
            if c > _MAX_COUNTER:
                raise DecodeError("dot counter out of range")
            b.append(hi)
            if packed is not None:
                packed.extend(b)
            out.append((r, b if packed is None else packed))
            i += 2 + k
        return out

    def context(self, x: object) -> CausalContext:
        """The inverse of :meth:`Writer.context`."""
        parts = self.array(x)
        if len(parts) not in {2, 3}:
            raise DecodeError(f"a context is an array of 2 or 3, got {len(parts)}")
        vv_flat = self.array(parts[0])
        if len(vv_flat) % 2:
            raise DecodeError("odd version vector")
        cc = CausalContext()
        vv = cc.vv
        for i in range(0, len(vv_flat), 2):
            r = self.replica(vv_flat[i])
            if r in vv:
                raise DecodeError("replica appears twice in a version vector")
            vv[r] = self.counter(vv_flat[i + 1])
        # the cloud in bulk, straight into runs: each replica's counters arrive sorted, so its
        # runs are built in one pass with no (replica, counter) tuple per dot (a dense cloud of
        # 6.7 MiB took 2.5 GB that way)
        for r, bounds in self._cloud_bounds(parts[1]):
            cc.cloud[r] = Counters._of(bounds)
        cc.compact()
        if len(parts) == 3:
            runs = self.runs(parts[2])
            if not runs:
                raise DecodeError("an empty run list is written by leaving it out")
            for r, lo, hi in runs:
                cc.add_run(r, lo, hi)
        return cc

    def ts(self, x: object) -> int | HLCTimestamp:
        """The inverse of :meth:`Writer.ts`."""
        if type(x) is int:
            return x
        w, lg, r = self.array(x, 3)
        return HLCTimestamp(self.integer(w), self.integer(lg, 0), self.replica(r))

    def value(self, x: object, depth: int = 0) -> Any:
        """A msgpack-native value (tuples nested at most :data:`MAX_VALUE_DEPTH` deep)."""
        t = type(x)
        if t is str or t is bytes or t is int or t is bool or x is None:
            return x
        if t is float:
            if math.isnan(cast(float, x)):
                raise DecodeError("NaN is not a valid value")
            return x
        if t is tuple:
            if depth >= MAX_VALUE_DEPTH:
                raise DecodeError("value nests too deep")
            for item in cast(tuple[object, ...], x):
                self.value(item, depth + 1)
            return x
        raise DecodeError(f"{t.__name__} is not a valid value")


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Entry:
    cls: type[Any]
    tag: int
    version: int
    encode: Callable[[Any, Writer], Any]
    decode: Callable[[Any, Reader, int], Any]
    canonical: Callable[[Any], bytes | None] | None = None


_BY_CLASS: dict[type[Any], _Entry] = {}
_BY_TAG: dict[int, _Entry] = {}
# decoders of whole messages of a common shape, tried before the general path (see register)
_FAST_DECODERS: dict[int, Callable[[bytes], Any]] = {}


def register(
    cls: type[T],
    *,
    tag: int,
    version: int,
    encode: Callable[[T, Writer], Any],
    decode: Callable[[Any, Reader, int], T],
    canonical: Callable[[T], bytes | None] | None = None,
    decode_fast: Callable[[bytes], T | None] | None = None,
) -> None:
    """Register ``cls`` with its wire ``tag`` (``1..65535``), its current body ``version``
    (``>= 1``), its body encoder ``encode(x, writer) -> body`` and its body decoder
    ``decode(body, reader, version) -> x`` (called for ``1 <= version <= current``; it must
    validate through the reader, and may raise anything: :func:`decode` converts).
    ``canonical(x) -> bytes | None`` (optional): a faster way to the whole message
    ``encode(x, canonical=True)`` returns, byte for byte, or ``None`` to let the two passes
    of ``encode`` do it; :func:`encode` uses it for the plain encoding too.
    ``decode_fast(data) -> x | None`` (optional): tried on every message before the general
    path; it returns what :func:`decode` would for the messages of the shape it knows (it
    must check the tag and version itself, and raise only what the body decoder would raise
    for the same bytes), ``None`` for any other."""
    if type(tag) is not int or not 1 <= tag <= 0xFFFF:
        raise RegistrationError(f"tag must be an int in 1..65535, not {tag!r}")
    if type(version) is not int or version < 1:
        raise RegistrationError(f"version must be an int >= 1, not {version!r}")
    other = _BY_TAG.get(tag)
    if other is not None and other.cls.__qualname__ != cls.__qualname__:
        raise RegistrationError(f"tag {tag} is taken by {other.cls.__qualname__}")
    old = _BY_CLASS.get(cls)
    if old is not None and old.tag != tag:
        raise RegistrationError(f"{cls.__qualname__} is already registered with tag {old.tag}")
    entry = _Entry(cls, tag, version, encode, decode, canonical)
    if other is not None:
        _BY_CLASS.pop(other.cls, None)
    _BY_CLASS[cls] = entry
    _BY_TAG[tag] = entry
    _FAST_DECODERS.pop(tag, None)
    if decode_fast is not None:
        _FAST_DECODERS[tag] = decode_fast


def encode(x: object, *, canonical: bool = False) -> bytes:
    """``x`` (a registered type) as bytes: ``[tag, version, replicas, body]`` in msgpack.

    ``canonical=True``: equal states give equal bytes, whatever order their entries arrived in
    (for content hashes and digests, e.g. the sync engine's Merkle tree). It costs a sort and a
    second pass; both forms decode alike."""
    entry = _BY_CLASS.get(type(x))
    if entry is None:
        raise EncodeError(f"no codec registered for {type(x).__name__}")
    if entry.canonical is not None:
        # the canonical encoding is a valid plain one too: where a fast way to it exists, it
        # serves both (and copies of one delta relayed by different nodes are byte-identical)
        data = entry.canonical(x)
        if data is not None:
            return data
    w = Writer()
    body = entry.encode(x, w)
    if canonical:
        # the first pass found the replicas; the second numbers them in sorted order, so every
        # index (and every order that follows indexes) is the same for equal states
        w = Writer(canonical=True, replicas=sorted(w.replicas))
        body = entry.encode(x, w)
    try:
        return cast(bytes, msgpack.packb((entry.tag, entry.version, w.replicas, body)))
    except (TypeError, ValueError, OverflowError) as e:
        raise EncodeError(f"cannot encode {type(x).__name__}: {e}") from e


def _canonical_key(v: Any) -> bytes:
    # msgpack bytes order every msgpack-native value totally (mixed types, nested tuples);
    # 1, 1.0 and True are one key in a Python dict, so they never meet in one sort
    return cast(bytes, msgpack.packb(v))


def decode(data: bytes | bytearray | memoryview) -> Any:
    """The value :func:`encode` turned into ``data``. Raises :class:`DecodeError` (and nothing
    else) on any malformed, truncated or hostile input, an unknown tag or a future version."""
    try:
        return _decode(data)
    except DecodeError:
        raise
    except Exception as e:  # the contract: nothing but DecodeError escapes (MemoryError too)
        raise DecodeError(f"malformed input ({type(e).__name__}: {e})"[:200]) from e


def _decode(data: bytes | bytearray | memoryview) -> Any:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError(f"expected bytes, got {type(data).__name__}")
    n = len(data)
    if n == 0:
        raise DecodeError("empty input")
    if n > MAX_MESSAGE_BYTES:
        raise DecodeError(f"message of {n} bytes exceeds {MAX_MESSAGE_BYTES}")
    if _FAST_DECODERS and type(data) is bytes:
        for fast in _FAST_DECODERS.values():
            x = fast(data)
            if x is not None:
                return x
    obj = msgpack.unpackb(
        data,
        use_list=False,
        raw=False,
        strict_map_key=True,
        max_str_len=n,
        max_bin_len=n,
        max_array_len=n,
        max_map_len=n // 2,
        max_ext_len=n,
    )
    if type(obj) is not tuple or len(obj) != 4:
        raise DecodeError("not a crdts message (expected [tag, version, replicas, body])")
    tag, version, replicas, body = obj
    if type(tag) is not int or type(version) is not int:
        raise DecodeError("bad tag or version")
    entry = _BY_TAG.get(tag)
    if entry is None:
        raise DecodeError(f"unknown type tag {tag}")
    if not 1 <= version <= entry.version:
        raise DecodeError(
            f"{entry.cls.__name__} format version {version} (this library reads 1..{entry.version})"
        )
    if type(replicas) is not tuple or any(type(r) is not str for r in replicas):
        raise DecodeError("bad replica table")
    if len(set(replicas)) != len(replicas):
        raise DecodeError("replica table has duplicates")
    return entry.decode(body, Reader(replicas), version)


# ---------------------------------------------------------------------------------------------
# Codecs of the types defined below the types (the causal context and HLC timestamps)
# ---------------------------------------------------------------------------------------------


def _enc_cc(cc: CausalContext, w: Writer) -> Any:
    return w.context(cc)


def _dec_cc(body: Any, r: Reader, version: int) -> CausalContext:
    return r.context(body)


def _enc_ts(ts: HLCTimestamp, w: Writer) -> Any:
    return w.ts(ts)


def _dec_ts(body: Any, r: Reader, version: int) -> HLCTimestamp:
    ts = r.ts(body)
    if type(ts) is not HLCTimestamp:
        raise DecodeError("expected an HLC timestamp")
    return ts


register(CausalContext, tag=TAGS["CausalContext"], version=1, encode=_enc_cc, decode=_dec_cc)
register(HLCTimestamp, tag=TAGS["HLCTimestamp"], version=1, encode=_enc_ts, decode=_dec_ts)
