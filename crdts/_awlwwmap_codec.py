"""The compact body of an ``AWLWWMap`` on the wire (registered under ``TAGS["AWLWWMap"]``).

Body, format version 3 (inside the package envelope ``[tag, version, replicas, body]``, so
replica ids are indexes into the message's replica table)::

    [vv, runs, counters, keys, values, ts_kind, ts, extra]

One entry per live record; the columns ``counters``, ``keys``, ``values`` and ``ts`` list the
entries in one order, the order ``runs`` gives them replicas in:

- ``vv``: the context's version vector, flat ``[replica, n, ...]``;
- ``runs``: flat ``[replica, length, ...]``: the first ``length`` entries are that replica's,
  then the next run's, and so on (a map written by one replica is one run);
- ``counters``: the entries' dot counters, within each run strictly increasing: the run's
  first counter as itself, then the gaps (a run of consecutive puts costs one byte an entry).
  A replica may have several runs; its dots must still be distinct;
- ``keys``: an array: **front-coded**: a ``str`` key sharing ``p >= 2`` leading characters
  with the previous ``str`` key is written as ``p, suffix`` (two items), any other ``str`` key as
  itself, and a non-``str`` key wrapped in a one-item array (so an ``int`` item is never a key);
  or a ``bin``: one byte, the key method, then the raw DEFLATE (RFC 1951) of the keys' bytes,
  inflating to at most :data:`MAX_INFLATE_RATIO` times (its length + the entry count; every
  entry costs at least a byte elsewhere on the wire). Method ``0``: the UTF-8 of the ``str``
  keys joined by ``"\\0"`` (no key holds a NUL). Method ``1``: the keys **front-coded** as
  bytes, one record per key: ``1 + p`` (one byte, ``p`` the number of leading UTF-8 bytes shared
  with the previous key, ``p <= 64``), the rest of the key's UTF-8, ``"\\0"``. The compiled
  encoder (``crdts._speedups``) writes method 1 (sequential keys such as ``key0 .. key99999``
  deflate to ~4 KB instead of ~227 KB), the pure-Python one method 0 (a Python loop per key
  would cost it more than DEFLATE does); both decoders read both;
- ``values``: as they are (msgpack-native, validated on the way in and on the way out);
- ``ts_kind``/``ts``: ``0``: all ints, the first and then the signed differences along the
  entry order; ``1``: all ``HLCTimestamp`` naming the entry's own replica, flat
  ``[wall, logical, wall difference, logical, ...]``; ``2``: anything else, each timestamp as
  the envelope writes it (``int`` or ``[wall, logical, replica]``) or a ``float`` as itself;
- ``extra``: the context's dot cloud *minus* the live entries' dots (removed or superseded
  dots, as the codec's dot lists: ``[replica, count, c1, c2 - c1, ...]``). The decoder rebuilds
  the context as ``vv + extra + entry dots``: an entry's dot is always in the context, so it is
  never sent twice.

Why this shape (``python -m benchmarks.crdt_ops``): each column is built and read by C loops
(``map``/``itemgetter``, ``accumulate``, ``zlib``, ``str.join``/``split``), never by a Python
loop per entry. The columns come straight from the store in its own order when that order fits
(a map filled by puts of fresh keys is in dot order); otherwise (an overwrite moves a key's dot,
not its place; writers interleave) they are sorted by dot first, still by C loops (``sorted``
with a key, ``itemgetter``). Only a state holding concurrent entries (or mixing record shapes)
takes a Python loop. For the keys of big states, DEFLATE of the joined keys (level 1) is
smaller than front-coding them and ten times faster in both directions. Small bodies (deltas,
and every canonical encoding, whose bytes must not depend on the zlib build) front-code their
keys. A delta of 100 changed keys in a 100,000-key map is
~1.3 KB (the plain msgpack of dots, timestamps and keys is ~3.7 KB).

Version 2 (still read): the same, but a keys ``bin`` has no method byte (it is method 0) and
inflates to at most :data:`MAX_INFLATE_RATIO` times its own length.

Version 1 (still read): ``[vv, dots, keys, values, ts_kind, ts, extra]``, the same but for the
dots grouped per replica (``[replica, count, c1, c2 - c1, ...]``, the entries in that order, in
place of ``runs`` and ``counters``) and the keys always front-coded.

Hostile input: every field goes through the :class:`~crdts._codec.Reader` validators; prefix
sharing is capped at :data:`MAX_SHARED_PREFIX` characters and inflation at
:data:`MAX_INFLATE_RATIO`, so a small message cannot decode into huge keys; counts must agree
across columns.
"""

from __future__ import annotations

import math
import zlib
from bisect import bisect_right
from functools import partial
from itertools import accumulate, groupby, repeat
from operator import itemgetter, sub
from typing import Any

from crdts import _accel
from crdts._causal import CausalContext, Counters, Dot
from crdts._codec import Reader, Writer
from crdts._errors import DecodeError
from crdts._hlc import HLCTimestamp

__all__ = [
    "MAX_INFLATE_RATIO",
    "MAX_SHARED_PREFIX",
    "VERSION",
    "decode_one_message",
    "decode_parts",
    "encode_parts",
    "make_rec",
    "rec_ts",
]

VERSION = 3
"""The body format :func:`encode_parts` writes (:func:`decode_parts` reads 1, 2 and 3)."""

MAX_SHARED_PREFIX = 64
"""Longest key prefix a key may share with the previous one (characters)."""

MAX_INFLATE_RATIO = 64
"""A DEFLATE'd key column may inflate to at most this many times its length (the encoder falls
back to front-coding for keys that compress better than that)."""

BLOB_MIN_ENTRIES = 256
"""Bodies of fewer entries front-code their keys and write their int columns as arrays (DEFLATE
gains little on a few keys, its set-up costs more than the Python loop, and an array of small
ints is as short as their bytes)."""

_MIN_I64 = -(1 << 63)
_MAX_U64 = (1 << 64) - 1
_MAX_COUNTER = (1 << 63) - 1

_TS_INT = 0
_TS_HLC_OWN = 1
_TS_RAW = 2
_TS_HLC_COLS = 3
_TS_INT_COL = 4

_KEYS_JOINED = 0
_KEYS_FRONT = 1


_new_hlc = partial(tuple.__new__, HLCTimestamp)
_new_cc = object.__new__
_get0, _get1, _get2, _get3, _get4 = map(itemgetter, range(5))


def make_rec(replica: str, counter: int, value: Any, ts: Any) -> tuple[Any, ...]:
    """The record of one entry. An ``HLCTimestamp`` naming the entry's own replica (the normal
    case) is stored flat, ``(replica, counter, value, wall, logical)``: 56 bytes less per entry
    than a nested timestamp tuple. Any other ``ts``: ``(replica, counter, value, ts)``. The rule
    is deterministic, so equal entries always have equal records."""
    if ts.__class__ is HLCTimestamp and ts[2] == replica:
        return (replica, counter, value, ts[0], ts[1])
    return (replica, counter, value, ts)


def rec_ts(rec: tuple[Any, ...]) -> Any:
    """The ``ts`` a record was made with (the inverse of :func:`make_rec`)."""
    if len(rec) == 4:
        return rec[3]
    return _new_hlc((rec[3], rec[4], rec[0]))


# ---------------------------------------------------------------------------------------------
# encoding
# ---------------------------------------------------------------------------------------------


class _Cols:
    """The entries of a state as columns, in an order whose runs have increasing counters."""

    __slots__ = ("counters", "gaps", "keys", "recs", "runs", "ts", "ts_kind", "values")

    def __init__(self) -> None:
        self.runs: list[tuple[str, int]] = []
        self.counters: list[int] = []  # absolute
        self.gaps: list[int] | bytes = []  # on the wire: each run's first counter, then gaps
        self.keys: list[Any] | bytes = []  # bytes: the keys bin, ready
        self.values: list[Any] = []
        self.recs: list[tuple[Any, ...]] | None = None  # set when ts columns are still to do
        self.ts_kind = _TS_RAW
        self.ts: list[Any] | bytes = []


def _gaps(xs: list[int]) -> list[int]:
    """``[xs[0], xs[1] - xs[0], ...]`` (a C loop)."""
    return [xs[0], *map(sub, xs[1:], xs)] if xs else []


def _interleave(xs: list[Any], ys: list[Any]) -> list[Any]:
    out: list[Any] = [0] * (2 * len(xs))
    out[0::2] = xs
    out[1::2] = ys
    return out


def _blob(xs: list[int], n: int) -> bytes | None:
    """``xs`` as bytes when there are many and every one is in ``0..255`` (a C loop), else
    ``None``."""
    if n < BLOB_MIN_ENTRIES:
        return None
    try:
        return bytes(xs)
    except ValueError:
        return None


def _fits(xs: list[int]) -> bool:
    return not xs or (min(xs) >= _MIN_I64 and max(xs) <= _MAX_U64)


def _fast_cols(store: dict[Any, Any], canonical: bool) -> _Cols | None:
    """The columns of a state whose slots are single records of one shape, with C loops only:
    in the store's own order when its runs qualify (counters increasing within each, not too
    many; canonical: exactly dot order), else sorted by dot first. ``None`` for any other state
    (a key with concurrent entries, mixed record shapes or timestamp kinds, 64-bit overflow)."""
    recs = list(store.values())
    keys = list(store)
    n = len(recs)
    reps = list(map(_get0, recs))
    try:
        rset = set(reps)
    except TypeError:
        return None
    for r in rset:
        if r.__class__ is not str:  # a slot of concurrent entries (a tuple of records)
            return None
    counters = list(map(_get1, recs))
    order = _runs_of(reps, rset, counters, canonical)
    if order is None:  # sort by dot (C loops: a key function and itemgetter)
        dots = counters if len(rset) == 1 else list(zip(reps, counters, strict=True))
        key: Any = dots.__getitem__
        pick = itemgetter(*sorted(range(n), key=key))
        recs, keys = list(pick(recs)), list(pick(keys))
        reps, counters = list(pick(reps)), list(pick(counters))
        order = _runs_of(reps, rset, counters, canonical)
        if order is None:  # dots are unique: sorted, every run increases
            return None
    out = _Cols()
    out.runs, gaps = order
    blob = _blob(gaps, n)
    out.counters = counters
    out.gaps = gaps if blob is None else blob
    try:
        logicals = list(map(_get4, recs))
    except IndexError:  # some record has 4 items: every one must (all int timestamps)
        if set(map(len, recs)) != {4}:
            return None
        stamps = list(map(_get3, recs))
        if set(map(type, stamps)) != {int}:
            return None
        tgaps = _gaps(stamps)
        if n < BLOB_MIN_ENTRIES:
            if not _fits(tgaps):
                return None
            out.ts_kind, out.ts = _TS_INT, tgaps
        else:
            tgaps[0] = 0  # the first is the base
            col = _blob(tgaps, n)
            if col is None and not _fits(tgaps):
                return None
            out.ts_kind, out.ts = _TS_INT_COL, [stamps[0], tgaps if col is None else col]
    else:  # every record has 5 items (records have 4 or 5): HLC timestamps of their replicas
        walls = list(map(_get3, recs))
        tgaps = _gaps(walls)
        if n < BLOB_MIN_ENTRIES:
            if not _fits(tgaps):
                return None
            out.ts_kind, out.ts = _TS_HLC_OWN, _interleave(tgaps, logicals)
        else:
            tgaps[0] = 0  # the first is the base
            col = _blob(tgaps, n)
            if col is None and not _fits(tgaps):
                return None
            out.ts_kind = _TS_HLC_COLS
            out.ts = [walls[0], tgaps if col is None else col, _blob(logicals, n) or logicals]
    out.keys = keys
    out.values = list(map(_get2, recs))
    return out


def _runs_of(
    reps: list[str], rset: set[str], counters: list[int], canonical: bool
) -> tuple[list[tuple[str, int]], list[int]] | None:
    """``(runs, counter column)`` for entries in this order, or ``None`` if the order does not
    qualify (a run whose counters do not increase, too many runs, canonical: not dot order)."""
    n = len(reps)
    if len(rset) == 1:
        runs = [(reps[0], n)]
        gaps = _gaps(counters)
    else:
        runs = [(r, sum(1 for _ in g)) for r, g in groupby(reps)]
        if len(runs) > 16 + n // 16:  # interleaved writers: one run each after a sort
            return None
        if canonical and [r for r, _ in runs] != sorted(rset):
            return None
        gaps = _gaps(counters)
        i = 0
        for _, k in runs:
            gaps[i] = counters[i]
            i += k
    if min(gaps) < 1:
        return None
    return runs, gaps


def _sorted_cols(store: dict[Any, Any]) -> _Cols:
    """The columns in dot order (any state; Python loops)."""
    # rows never tie on (replica, counter): dots are unique, so the plain tuple sort never
    # compares keys or values
    rows = [(v[0], v[1], k, v) for k, v in store.items() if v[0].__class__ is str]
    if len(rows) != len(store):
        rows.extend(
            (r[0], r[1], k, r) for k, v in store.items() if v[0].__class__ is not str for r in v
        )
    rows.sort()
    out = _Cols()
    out.runs = [(r, sum(1 for _ in g)) for r, g in groupby(map(_get0, rows))]
    out.counters = counters = list(map(_get1, rows))
    out.gaps = gaps = _gaps(counters)
    i = 0
    for _, k in out.runs:
        gaps[i] = counters[i]
        i += k
    out.keys = list(map(_get2, rows))
    recs = list(map(_get3, rows))
    out.values = list(map(_get2, recs))
    out.recs = recs
    return out


def _ts_cols(cols: _Cols, recs: list[tuple[Any, ...]], w: Writer) -> None:
    """The most compact timestamp columns these records allow (differences must stay 64-bit)."""
    lens = set(map(len, recs))
    if lens == {5}:  # all HLC timestamps of the entries' own replicas
        walls = _gaps(list(map(_get3, recs)))
        if _fits(walls):
            cols.ts_kind = _TS_HLC_OWN
            cols.ts = _interleave(walls, list(map(_get4, recs)))
            return
    elif lens <= {4}:
        stamps = list(map(_get3, recs))
        if set(map(type, stamps)) <= {int}:
            gaps = _gaps(stamps)
            if _fits(gaps):
                cols.ts_kind, cols.ts = _TS_INT, gaps
                return
    cols.ts_kind = _TS_RAW
    cols.ts = [t if t.__class__ is float else w.ts(t) for t in map(rec_ts, recs)]


def encode_parts(store: dict[Any, Any], cc: CausalContext, w: Writer) -> Any:
    """The body (format :data:`VERSION`) of the map ``(store, cc)``; ``store`` values are
    records (see :func:`make_rec`) or sorted tuples of them."""
    canonical = w.canonical
    if len(store) == 1:
        body = _encode_one(store, cc, w)
        if body is not None:
            return body
    cols = None
    if _accel.cols is not None and len(store) >= BLOB_MIN_ENTRIES:
        cols = _compiled_cols(store, canonical, bool(cc.cloud))
    if cols is None and len(store) > 1:
        cols = _fast_cols(store, canonical)
    if cols is None:
        cols = _sorted_cols(store)
    if cols.recs is not None:
        _ts_cols(cols, cols.recs, w)
    vv_flat = _vv(cc, w)
    runs: list[int] = []
    cloud = cc.cloud
    live_in_cloud: dict[str, list[int]] = {}
    i = 0
    counters = cols.counters
    for r, k in cols.runs:
        runs.append(w.replica(r))
        runs.append(k)
        if r in cloud:
            lst = live_in_cloud.get(r)
            if lst is None:
                live_in_cloud[r] = counters[i : i + k]
            else:
                lst.extend(counters[i : i + k])
        i += k
    keys = cols.keys if isinstance(cols.keys, bytes) else _encode_keys(cols.keys, canonical)
    # the cloud minus the live entries' dots, as runs (a long run is two numbers, never listed)
    extra, extra_runs = w.cloud(
        [
            (r, s if r not in live_in_cloud else s - Counters(live_in_cloud[r]))
            for r, s in cloud.items()
        ]
    )
    body = (vv_flat, runs, cols.gaps, keys, cols.values, cols.ts_kind, cols.ts, extra)
    return (*body, extra_runs) if extra_runs else body


def _compiled_cols(store: dict[Any, Any], canonical: bool, want_counters: bool) -> _Cols | None:
    """:func:`_fast_cols` by the compiled module, in one pass (``None``: not a state it takes),
    keys front-coded and DEFLATE'd (method 1) unless canonical; the counters column only when
    asked for (the context has a cloud to subtract the live dots from)."""
    assert _accel.cols is not None
    got = _accel.cols(store, canonical, not canonical, want_counters, BLOB_MIN_ENTRIES)
    if got is None:
        return None
    out = _Cols()
    out.runs, counters, out.gaps, keys, out.values, out.ts_kind, out.ts = got
    if want_counters:
        out.counters = counters
    n = len(store)
    if type(keys) is bytes:
        blob = _deflate(_KEYS_FRONT, keys)
        if len(keys) <= MAX_INFLATE_RATIO * (len(blob) - 1 + n):
            out.keys = blob
            return out
        assert _accel.unfront is not None
        keys = _accel.unfront(keys, n)
    out.keys = keys
    return out


def _deflate(method: int, raw: bytes) -> bytes:
    z = zlib.compressobj(1, zlib.DEFLATED, -15)
    return bytes((method,)) + z.compress(raw) + z.flush()


def _vv(cc: CausalContext, w: Writer) -> list[int]:
    vv_flat: list[int] = []
    for r, c in sorted(cc.vv.items()) if w.canonical else cc.vv.items():
        vv_flat.append(w.replica(r))
        vv_flat.append(c)
    return vv_flat


def _encode_one(store: dict[Any, Any], cc: CausalContext, w: Writer) -> Any:
    """The body of a one-entry state (a put's delta: the common message), without the column
    machinery; ``None`` unless the entry is one record with an int or own-HLC timestamp."""
    ((key, rec),) = store.items()
    rep = rec[0]
    if rep.__class__ is not str:
        return None
    if len(rec) == 5:
        ts_kind, ts = _TS_HLC_OWN, [rec[3], rec[4]]
    elif rec[3].__class__ is int:
        ts_kind, ts = _TS_INT, [rec[3]]
    else:
        return None
    c = rec[1]
    vv_flat = _vv(cc, w)
    cloud = cc.cloud
    if not cloud:
        extra: list[int] = []
        extra_runs: list[int] = []
    elif len(cloud) == 1 and rep in cloud and cloud[rep].covers(c, c + 1) and len(cloud[rep]) == 1:
        extra, extra_runs = [], []  # a put's delta: the cloud is the entry's own dot
    else:
        live = Counters.run(c, c + 1)
        extra, extra_runs = w.cloud([(r, s - live if r == rep else s) for r, s in cloud.items()])
    body = (
        vv_flat,
        [w.replica(rep), 1],
        [c],
        [key] if key.__class__ is str else [(key,)],
        [rec[2]],
        ts_kind,
        ts,
        extra,
    )
    return (*body, extra_runs) if extra_runs else body


def _encode_keys(keys: list[Any], canonical: bool) -> Any:
    if len(keys) >= BLOB_MIN_ENTRIES and not canonical:
        try:
            text = "\0".join(keys)
            raw = text.encode("utf-8") if text.count("\0") == len(keys) - 1 else None
        except (TypeError, UnicodeEncodeError):  # a key that is not a str, or not UTF-8
            raw = None
        if raw is not None:
            blob = _deflate(_KEYS_JOINED, raw)
            if len(raw) <= MAX_INFLATE_RATIO * (len(blob) - 1 + len(keys)):
                return blob
    return _front_code(keys)


def _front_code(keys: list[Any]) -> list[Any]:
    out: list[Any] = []
    append = out.append
    prev = ""
    for key in keys:
        if key.__class__ is str:
            if key[:2] == prev[:2] and len(key) >= 2:
                m = min(len(key), len(prev), MAX_SHARED_PREFIX)
                p = 2
                while p < m and key[p] == prev[p]:
                    p += 1
                append(p)
                append(key[p:])
            else:
                append(key)
            prev = key
        else:
            append((key,))
    return out


# ---------------------------------------------------------------------------------------------
# decoding
# ---------------------------------------------------------------------------------------------

_SIMPLE = {int, str, bytes, bool, type(None)}


def decode_parts(body: Any, r: Reader, version: int) -> tuple[dict[Any, Any], CausalContext]:
    """The inverse of :func:`encode_parts`, for body formats 1, 2 and 3 (validating everything;
    raises ``DecodeError``)."""
    if version == 1:
        return _decode_v1(body, r)
    parts = r.array(body)
    if len(parts) not in {8, 9}:
        raise DecodeError(f"an AWLWWMap body is an array of 8 or 9, got {len(parts)}")
    one = _decode_one(parts, r)
    if one is not None:
        return one
    (vv_flat, runs_flat, counters_in, keys_in, values_in, ts_kind, ts_in, extra_flat) = parts[:8]
    cc = _decode_vv(vv_flat, r)
    runs_flat = r.array(runs_flat)
    if len(runs_flat) % 2:
        raise DecodeError("odd run list")
    steps = _int_col(counters_in, r)
    n = len(steps)
    if steps and (not set(map(type, steps)) <= {int} or min(steps) < 1):
        raise DecodeError("dot counters must be strictly increasing within a run")
    reps: list[str] = []
    counters: list[int] = []
    groups: dict[str, list[int]] = {}
    shared: list[str] = []
    i = 0
    for j in range(0, len(runs_flat), 2):
        rep = r.replica(runs_flat[j])
        k = r.integer(runs_flat[j + 1], 1, n - i)
        cs = list(accumulate(steps if k == n else steps[i : i + k]))
        if cs[-1] > _MAX_COUNTER:
            raise DecodeError("dot counter out of range")
        reps.extend(repeat(rep, k))
        counters.extend(cs)
        g = groups.get(rep)
        if g is None:
            groups[rep] = cs
        else:
            g.extend(cs)
            shared.append(rep)
        i += k
    if i != n:
        raise DecodeError(f"runs cover {i} of {n} entries")
    for rep in shared:
        g = groups[rep]
        g.sort()
        if len(set(g)) != len(g):
            raise DecodeError("a dot appears twice")
    values = _decode_values(values_in, n, r)
    if type(keys_in) is bytes:
        keys = _inflate(keys_in, n) if version == 2 else _decode_key_blob(keys_in, n)
    else:
        keys = _decode_front(r.array(keys_in), n, r)
    store = _build_store(
        keys, _decode_ts(ts_kind, ts_in, reps=reps, counters=counters, values=values, r=r, v1=False)
    )
    _build_context(
        cc, list(groups.items()), _decode_dot_groups(r.array(extra_flat), r), _runs(parts, 8, r)
    )
    return store, cc


def _decode_one(parts: tuple[Any, ...], r: Reader) -> tuple[dict[Any, Any], CausalContext] | None:
    """A body of one entry with a ``str`` key and an int or own-HLC timestamp (a put's delta, a
    small cart), validated as the general path does but without its column machinery; ``None``
    for any other body (the general path then reads it, or rejects it)."""
    vv_flat, runs_flat, counters_in, keys_in, values_in, ts_kind, ts_in, extra_flat = parts[:8]
    if not (
        type(runs_flat) is tuple
        and len(runs_flat) == 2
        and runs_flat[1] == 1
        and type(runs_flat[1]) is int
        and type(counters_in) is tuple
        and len(counters_in) == 1
        and type(keys_in) is tuple
        and len(keys_in) == 1
        and type(keys_in[0]) is str
        and type(values_in) is tuple
        and len(values_in) == 1
        and type(ts_in) is tuple
    ):
        return None
    rep = r.replica(runs_flat[0])
    c = r.counter(counters_in[0])
    value = values_in[0]
    if type(value) not in _SIMPLE:
        value = r.value(value)
    if ts_kind == _TS_HLC_OWN and type(ts_kind) is int and len(ts_in) == 2:
        rec: tuple[Any, ...] = (rep, c, value, r.integer(ts_in[0]), r.integer(ts_in[1], 0))
    elif ts_kind == _TS_INT and type(ts_kind) is int and len(ts_in) == 1:
        rec = (rep, c, value, r.integer(ts_in[0]))
    else:
        return None
    cc = _decode_vv(vv_flat, r)
    extra = r.array(extra_flat)
    if extra or len(parts) == 9:
        _build_context(cc, [(rep, [c])], _decode_dot_groups(extra, r), _runs(parts, 8, r))
    else:
        cc.add((rep, c))
    return {keys_in[0]: rec}, cc


def decode_one_message(data: bytes, tag: int) -> tuple[dict[Any, Any], CausalContext] | None:
    """A whole message of a one-entry body (a put's delta), parsed by the compiled module
    (``decode_one`` in ``crdts/_speedups_pack.c``: what ``msgpack.unpackb`` and
    :func:`_decode_one` accept and build for that shape), its extra dots and runs validated
    here as :func:`_decode_one` does; ``None`` for anything else (and without the module):
    the general path decodes it, or rejects it."""
    fast = _accel.decode_one
    if fast is None:
        return None
    got = fast(data, tag, VERSION)
    if got is None:
        return None
    replicas, key, rec, vv, rep, c, extra, runs = got
    cc = _new_cc(CausalContext)
    cc.vv = vv
    cc.cloud = {}
    if (
        runs is None
        and len(extra) == 3
        and extra[1] == 1
        and 0 <= extra[0] < len(replicas)
        and 1 <= extra[2] <= _MAX_COUNTER
    ):
        # a put that superseded one entry: its extra is that one dot, valid as
        # _decode_dot_groups reads it (the compiled reader made every item an int)
        cc.add((rep, c))
        cc.add((replicas[extra[0]], extra[2]))
    elif extra or runs is not None:
        r = Reader(replicas)
        _build_context(
            cc,
            [(rep, [c])],
            _decode_dot_groups(extra, r),
            [] if runs is None else _runs((runs,), 0, r),
        )
    else:  # cc.add((rep, c)) into an empty cloud
        n = vv.get(rep, 0)
        if c == n + 1:
            vv[rep] = c
        elif c > n:
            cc.cloud[rep] = Counters.run(c, c + 1)
    return {key: rec}, cc


def _decode_v1(body: Any, r: Reader) -> tuple[dict[Any, Any], CausalContext]:
    parts = r.array(body)
    if len(parts) not in {7, 8}:
        raise DecodeError(f"an AWLWWMap body is an array of 7 or 8, got {len(parts)}")
    vv_flat, dots_flat, keys_flat, values_in, ts_kind, ts_in, extra_flat = parts[:7]
    cc = _decode_vv(vv_flat, r)
    groups = _decode_dot_groups(r.array(dots_flat), r)
    reps: list[str] = []
    counters: list[int] = []
    for rep, cs in groups:
        reps.extend([rep] * len(cs))
        counters.extend(cs)
    n = len(counters)
    values = _decode_values(values_in, n, r)
    keys = _decode_front(r.array(keys_flat), n, r)
    store = _build_store(
        keys, _decode_ts(ts_kind, ts_in, reps=reps, counters=counters, values=values, r=r, v1=True)
    )
    _build_context(cc, groups, _decode_dot_groups(r.array(extra_flat), r), _runs(parts, 7, r))
    return store, cc


def _decode_ts(
    ts_kind: Any,
    ts_in: Any,
    *,
    reps: list[str],
    counters: list[int],
    values: list[Any],
    r: Reader,
    v1: bool,
) -> list[tuple[Any, ...]]:
    kind = r.integer(ts_kind, 0, _TS_RAW if v1 else _TS_INT_COL)
    base = 0
    if kind == _TS_HLC_COLS:
        base_in, walls_in, logicals_in = r.array(ts_in, 3)
        base = r.integer(base_in)
        ts, logicals = _int_col(walls_in, r), _int_col(logicals_in, r)
        kind = _TS_HLC_OWN
    elif kind == _TS_INT_COL:
        base_in, ts_col = r.array(ts_in, 2)
        base = r.integer(base_in)
        ts, logicals = _int_col(ts_col, r), ()
        kind = _TS_INT
    elif kind == _TS_HLC_OWN:
        flat = r.array(ts_in)
        if len(flat) != 2 * len(reps):
            raise DecodeError("timestamp count mismatch")
        ts, logicals = flat[0::2], flat[1::2]
    elif kind == _TS_INT:
        ts, logicals = r.array(ts_in) if v1 else _int_col(ts_in, r), ()
    else:
        ts, logicals = r.array(ts_in), ()
    return _decode_recs(
        kind, ts, logicals, reps=reps, counters=counters, values=values, r=r, base=base
    )


def _sums(xs: tuple[int, ...], base: int) -> list[int]:
    if not base:
        return list(accumulate(xs))
    out = list(accumulate(xs, initial=base))
    del out[0]
    return out


def _int_col(x: Any, r: Reader) -> tuple[Any, ...]:
    """An int column: an array, or a ``bin`` of one byte each."""
    if type(x) is bytes:
        return tuple(x)
    return r.array(x)


def _decode_vv(vv_flat: Any, r: Reader) -> CausalContext:
    cc = CausalContext()
    vv_flat = r.array(vv_flat)
    if len(vv_flat) % 2:
        raise DecodeError("odd version vector")
    vv = cc.vv
    for i in range(0, len(vv_flat), 2):
        rep = r.replica(vv_flat[i])
        if rep in vv:
            raise DecodeError("replica appears twice in a version vector")
        vv[rep] = r.counter(vv_flat[i + 1])
    return cc


def _decode_values(values_in: Any, n: int, r: Reader) -> list[Any]:
    values = list(r.array(values_in, n))
    if not set(map(type, values)) <= _SIMPLE:  # floats (NaN?), tuples (depth, contents)
        values = [v if type(v) in _SIMPLE else r.value(v) for v in values]
    return values


def _build_store(keys: list[Any], recs: list[tuple[Any, ...]]) -> dict[Any, Any]:
    store: dict[Any, Any] = dict(zip(keys, recs, strict=True))
    if len(store) != len(recs):  # some key has concurrent entries
        multi: dict[Any, list[tuple[Any, ...]]] = {}
        for key, rec in zip(keys, recs, strict=True):
            lst = multi.get(key)
            if lst is None:
                multi[key] = [rec]
            else:
                lst.append(rec)
        store = {}
        for key, lst in multi.items():
            if len(lst) == 1:
                store[key] = lst[0]
            else:
                lst.sort(key=_rec_dot)
                store[key] = tuple(lst)
    return store


def _runs(parts: tuple[Any, ...], i: int, r: Reader) -> list[tuple[str, int, int]]:
    """The optional extra runs at ``parts[i]`` (present only when not empty)."""
    if len(parts) == i:
        return []
    runs = r.runs(parts[i])
    if not runs:
        raise DecodeError("an empty run list is written by leaving it out")
    return runs


def _build_context(
    cc: CausalContext,
    groups: list[tuple[str, list[int]]],
    extra: list[tuple[str, list[int]]],
    runs: list[tuple[str, int, int]],
) -> None:
    """``cc`` (holding the version vector) plus the entry dots, the extra dots and the extra
    runs, compacted (each group's counters sorted)."""
    vv, cloud = cc.vv, cc.cloud
    for rep, cs in [*groups, *extra]:
        top = vv.get(rep, 0)
        k = bisect_right(cs, top)
        if k == len(cs):
            continue
        s = cloud.get(rep)
        if s is None:
            cloud[rep] = Counters.from_sorted(cs[k:])
        else:
            s |= Counters.from_sorted(cs[k:])
    for rep, lo, hi in runs:
        cc.add_run(rep, lo, hi)
    cc.compact()


def _decode_key_blob(blob: bytes, n: int) -> list[str]:
    """A version-3 keys ``bin``: the method byte, then the DEFLATE'd keys."""
    if not blob:
        raise DecodeError("empty keys bin")
    method = blob[0]
    if method == _KEYS_JOINED:
        return _inflate(blob[1:], n, MAX_INFLATE_RATIO * (len(blob) - 1 + n))
    if method != _KEYS_FRONT:
        raise DecodeError(f"unknown key method {method}")
    raw = _raw_inflate(blob[1:], MAX_INFLATE_RATIO * (len(blob) - 1 + n))
    if _accel.unfront is not None:
        try:
            return _accel.unfront(raw, n)
        except ValueError as e:  # UnicodeDecodeError included
            raise DecodeError(f"bad front-coded keys ({e})") from e
    return _unfront(raw, n)


def _unfront(raw: bytes, n: int) -> list[str]:
    """Front-coded key bytes (method 1) as keys: the pure-Python twin of ``unfront`` in
    ``crdts/_speedups.c`` (the same errors for the same input)."""
    parts = raw.split(b"\0")
    if len(parts) != n + 1 or parts[-1]:
        raise DecodeError(f"front-coded keys: {len(parts) - 1} keys for {n} entries")
    del parts[-1]
    out: list[bytes] = []
    append = out.append
    prev = b""
    for part in parts:
        if not part:
            raise DecodeError("front-coded keys: bad shared prefix")
        p = part[0] - 1
        if p > MAX_SHARED_PREFIX or p > len(prev):
            raise DecodeError("front-coded keys: bad shared prefix")
        prev = prev[:p] + part[1:]
        append(prev)
    try:
        return [k.decode("utf-8") for k in out]
    except UnicodeDecodeError as e:
        raise DecodeError("front-coded keys are not UTF-8") from e


def _raw_inflate(blob: bytes, cap: int) -> bytes:
    z = zlib.decompressobj(-15)
    try:
        raw = z.decompress(blob, cap)
    except zlib.error as e:
        raise DecodeError(f"bad deflated keys ({e})") from e
    if not z.eof or z.unconsumed_tail or z.unused_data:
        raise DecodeError("deflated keys: truncated, trailing bytes or past the inflation cap")
    return raw


def _inflate(blob: Any, n: int, cap: int = 0) -> list[str]:
    if type(blob) is not bytes:
        raise DecodeError("deflated keys must be a bin")
    raw = _raw_inflate(blob, cap or MAX_INFLATE_RATIO * len(blob))
    try:
        keys = raw.decode("utf-8").split("\0")
    except UnicodeDecodeError as e:
        raise DecodeError("deflated keys are not UTF-8") from e
    if len(keys) != n:
        raise DecodeError(f"{len(keys)} keys for {n} entries")
    return keys


def _decode_dot_groups(flat: tuple[Any, ...], r: Reader) -> list[tuple[str, list[int]]]:
    """``[replica, count, c1, c2 - c1, ...]`` groups as ``(replica, sorted counters)``."""
    out: list[tuple[str, list[int]]] = []
    seen: set[str] = set()
    i, m = 0, len(flat)
    while i < m:
        if i + 2 > m:
            raise DecodeError("truncated dot group")
        rep = r.replica(flat[i])
        if rep in seen:
            raise DecodeError("replica appears twice in a dot list")
        seen.add(rep)
        k = r.integer(flat[i + 1], 1, m - i - 2)
        steps = flat[i + 2 : i + 2 + k]
        if not set(map(type, steps)) <= {int} or min(steps) < 1:
            raise DecodeError("dot counters must be strictly increasing")
        cs = list(accumulate(steps))
        if cs[-1] > _MAX_COUNTER:
            raise DecodeError("dot counter out of range")
        out.append((rep, cs))
        i += 2 + k
    return out


def _rec_dot(rec: tuple[Any, ...]) -> Dot:
    return (rec[0], rec[1])


def _decode_front(flat: tuple[Any, ...], n: int, r: Reader) -> list[Any]:
    keys: list[Any] = []
    append = keys.append
    prev = ""
    i, m = 0, len(flat)
    while i < m:
        x = flat[i]
        t = x.__class__
        if t is str:
            prev = x
            append(x)
            i += 1
        elif t is int:
            if not 2 <= x <= min(MAX_SHARED_PREFIX, len(prev)) or i + 1 >= m:
                raise DecodeError("bad shared key prefix")
            suffix = flat[i + 1]
            if suffix.__class__ is not str:
                raise DecodeError("key suffix is not a str")
            prev = prev[:x] + suffix
            append(prev)
            i += 2
        elif t is tuple and len(x) == 1 and x[0].__class__ is not str:
            append(r.value(x[0]))
            i += 1
        else:
            raise DecodeError("bad key")
        if len(keys) > n:
            break
    if len(keys) != n:
        raise DecodeError(f"{len(keys)} keys for {n} entries")
    return keys


def _decode_recs(
    kind: int,
    ts: tuple[Any, ...],
    logicals: tuple[Any, ...],
    *,
    reps: list[str],
    counters: list[int],
    values: list[Any],
    r: Reader,
    base: int = 0,
) -> list[tuple[Any, ...]]:
    """The records, from the timestamp columns and the other columns (as :func:`make_rec`);
    ``base`` is added to the first difference of kinds 0 and 1."""
    n = len(reps)
    if len(ts) != n:
        raise DecodeError("timestamp count mismatch")
    if kind == _TS_INT:
        if not set(map(type, ts)) <= {int}:
            raise DecodeError("timestamps must be ints")
        stamps = _sums(ts, base)
        if not _fits(stamps):
            raise DecodeError("timestamp out of range")
        return list(zip(reps, counters, values, stamps, strict=True))
    if kind == _TS_HLC_OWN:
        if len(logicals) != n:
            raise DecodeError("timestamp count mismatch")
        if not set(map(type, ts)) <= {int} or not set(map(type, logicals)) <= {int}:
            raise DecodeError("timestamps must be ints")
        walls = _sums(ts, base)
        if not _fits(walls) or (logicals and (min(logicals) < 0 or max(logicals) > _MAX_U64)):
            raise DecodeError("timestamp out of range")
        return list(zip(reps, counters, values, walls, logicals, strict=True))
    stamps2 = [x if x.__class__ is float and not math.isnan(x) else r.ts(x) for x in ts]
    return list(map(make_rec, reps, counters, values, stamps2))
