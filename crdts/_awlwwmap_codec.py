"""The compact body of an ``AWLWWMap`` on the wire (registered under ``TAGS["AWLWWMap"]``).

Body, format version 1 (inside the package envelope ``[tag, version, replicas, body]``, so
replica ids are indexes into the message's replica table)::

    [vv, dots, keys, values, ts_kind, ts, extra(, extra_runs)]

- ``vv``: the context's version vector, flat ``[replica, n, ...]``;
- ``dots``: the dots of the live entries, grouped by replica and sorted, each group
  ``[replica, count, c1, c2 - c1, ...]`` (delta-coded: consecutive puts cost one byte each).
  The entries are listed in this order, and the next three columns follow it;
- ``keys``: **front-coded**: a ``str`` key sharing ``p >= 2`` leading characters with the
  previous ``str`` key is written as ``p, suffix`` (two items), any other ``str`` key as itself,
  and a non-``str`` key wrapped in a one-item array (so an ``int`` item is never a key);
- ``values``: as they are (msgpack-native, validated on the way in and on the way out);
- ``ts_kind``/``ts``: ``0``: all ints, delta-coded along the entry order; ``1``: all
  ``HLCTimestamp`` naming the entry's own replica, flat ``[wall delta, logical, ...]``;
  ``2``: anything else, each timestamp as the envelope writes it (``int`` or
  ``[wall, logical, replica]``) or a ``float`` as itself;
- ``extra``: the context's dot cloud *minus* the live entries' dots (removed or superseded
  dots, delta-coded as ``dots``). The decoder rebuilds the context as
  ``vv + extra + entry dots``: an entry's dot is always in the context, so it is never sent twice.
- ``extra_runs`` (optional, present only when the cloud has runs of ``RUN_MIN`` or more
  counters): those runs as ``Writer.cloud`` writes them, ``(start gap, length)`` pairs, so a
  context claiming any number of events costs a few bytes and is decoded as runs, never listed.

Why this shape: a delta of 100 changed keys in a 100,000-key map is then ~1.3 KB (the plain
msgpack of dots, timestamps and keys is ~3.7 KB): the new dots and their timestamps are runs that
delta-code to a byte or two, keys share their prefixes, and superseded dots cost a gap each.

Hostile input: every field goes through the :class:`~crdts._codec.Reader` validators; prefix
sharing is capped at :data:`MAX_SHARED_PREFIX` characters so a small message cannot decode into
huge keys; counts must agree across columns.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from functools import partial
from itertools import accumulate
from operator import sub
from typing import Any

from crdts._causal import CausalContext, Counters, Dot
from crdts._codec import Reader, Writer
from crdts._errors import DecodeError
from crdts._hlc import HLCTimestamp

__all__ = ["MAX_SHARED_PREFIX", "decode_parts", "encode_parts", "make_rec", "rec_ts"]

MAX_SHARED_PREFIX = 64
"""Longest key prefix a key may share with the previous one (characters)."""

_MIN_I64 = -(1 << 63)
_MAX_U64 = (1 << 64) - 1
_MAX_COUNTER = (1 << 63) - 1

_TS_INT = 0
_TS_HLC_OWN = 1
_TS_RAW = 2

_new_hlc = partial(tuple.__new__, HLCTimestamp)


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


def encode_parts(store: dict[Any, Any], cc: CausalContext, w: Writer) -> Any:
    """The body of the map ``(store, cc)``; ``store`` values are records
    ``(replica, counter, value, ts)`` or sorted tuples of them."""
    # one row per entry, in dot order (rows never tie on (replica, counter): dots are unique,
    # so the plain tuple sort never compares keys or values)
    rows = [(v[0], v[1], k, v) for k, v in store.items() if v[0].__class__ is str]
    if len(rows) != len(store):
        rows.extend(
            (r[0], r[1], k, r) for k, v in store.items() if v[0].__class__ is not str for r in v
        )
    rows.sort()
    n = len(rows)
    reps = [row[0] for row in rows]
    counters = [row[1] for row in rows]
    cloud = cc.cloud
    vv_flat: list[int] = []
    for r, c in sorted(cc.vv.items()) if w.canonical else cc.vv.items():
        vv_flat.append(w.replica(r))
        vv_flat.append(c)
    dots: list[int] = []
    live_in_cloud: dict[str, list[int]] = {}
    i = 0
    while i < n:
        rep = reps[i]
        j = bisect_right(reps, rep, i)
        cs = counters[i:j]
        dots.append(w.replica(rep))
        dots.append(j - i)
        dots.append(cs[0])
        dots.extend(map(sub, cs[1:], cs))
        if rep in cloud:
            live_in_cloud[rep] = cs
        i = j
    keys = _encode_keys([row[2] for row in rows])
    recs = [row[3] for row in rows]
    values = [rec[2] for rec in recs]
    ts_kind, ts = _encode_ts(recs, w)
    # the cloud minus the live entries' dots, as runs (a long run is two numbers, never listed)
    extra_cloud = [
        (r, s if r not in live_in_cloud else s - Counters(live_in_cloud[r]))
        for r, s in cloud.items()
    ]
    extra, extra_runs = w.cloud(extra_cloud)
    if extra_runs:
        return (vv_flat, dots, keys, values, ts_kind, ts, extra, extra_runs)
    return (vv_flat, dots, keys, values, ts_kind, ts, extra)


def _encode_keys(keys: list[Any]) -> list[Any]:
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


def _fits(xs: list[int]) -> bool:
    return not xs or (min(xs) >= _MIN_I64 and max(xs) <= _MAX_U64)


def _encode_ts(recs: list[tuple[Any, ...]], w: Writer) -> tuple[int, list[Any]]:
    """The most compact timestamp column these records allow (deltas must stay 64-bit)."""
    lens = set(map(len, recs))
    if lens == {5}:  # all HLC timestamps of the entries' own replicas
        walls = [rec[3] for rec in recs]
        gaps = [walls[0], *map(sub, walls[1:], walls)]
        if _fits(gaps):
            flat: list[Any] = [0] * (2 * len(recs))
            flat[0::2] = gaps
            flat[1::2] = [rec[4] for rec in recs]
            return _TS_HLC_OWN, flat
    elif lens <= {4}:
        stamps = [rec[3] for rec in recs]
        if set(map(type, stamps)) <= {int}:
            gaps = [stamps[0], *map(sub, stamps[1:], stamps)] if stamps else []
            if _fits(gaps):
                return _TS_INT, gaps
    stamps = [rec_ts(rec) for rec in recs]
    return _TS_RAW, [t if t.__class__ is float else w.ts(t) for t in stamps]


_SIMPLE = {int, str, bytes, bool, type(None)}


def decode_parts(body: Any, r: Reader, version: int) -> tuple[dict[Any, Any], CausalContext]:
    """The inverse of :func:`encode_parts` (validating everything; raises ``DecodeError``)."""
    parts = r.array(body)
    if len(parts) not in {7, 8}:
        raise DecodeError(f"an AWLWWMap body is an array of 7 or 8, got {len(parts)}")
    vv_flat, dots_flat, keys_flat, values_in, ts_kind, ts_in, extra_flat = parts[:7]
    runs = r.runs(parts[7]) if len(parts) == 8 else []
    if len(parts) == 8 and not runs:
        raise DecodeError("an empty run list is written by leaving it out")
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
    groups = _decode_dot_groups(r.array(dots_flat), r)
    reps: list[str] = []
    counters: list[int] = []
    for rep, cs in groups:
        reps.extend([rep] * len(cs))
        counters.extend(cs)
    n = len(counters)
    values = list(r.array(values_in, n))
    kinds = set(map(type, values))
    if not kinds <= _SIMPLE:  # floats (NaN?) and tuples (depth, contents) need a closer look
        values = [v if type(v) in _SIMPLE else r.value(v) for v in values]
    keys = _decode_keys(r.array(keys_flat), n, r)
    recs = _decode_recs(
        r.integer(ts_kind, 0, _TS_RAW),
        r.array(ts_in),
        reps=reps,
        counters=counters,
        values=values,
        r=r,
    )
    store: dict[Any, Any] = dict(zip(keys, recs, strict=True))
    if len(store) != n:  # some key has concurrent entries
        multi: dict[Any, list[tuple[str, int, Any, Any]]] = {}
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
    # the context: vv + entry dots + extra dots (+ extra runs)
    cloud = cc.cloud
    extra = _decode_dot_groups(r.array(extra_flat), r)
    for rep, cs in [*groups, *extra]:
        top = vv.get(rep, 0)
        k = bisect_right(cs, top)
        if k == len(cs):
            continue
        s = cloud.get(rep)
        if s is None:
            cloud[rep] = Counters(cs[k:])
        else:
            s |= Counters(cs[k:])
    for rep, lo, hi in runs:
        cc.add_run(rep, lo, hi)
    cc.compact()
    return store, cc


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


def _rec_dot(rec: tuple[str, int, Any, Any]) -> Dot:
    return (rec[0], rec[1])


def _decode_keys(flat: tuple[Any, ...], n: int, r: Reader) -> list[Any]:
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
    flat: tuple[Any, ...],
    *,
    reps: list[str],
    counters: list[int],
    values: list[Any],
    r: Reader,
) -> list[tuple[Any, ...]]:
    """The records, from the timestamp column and the other columns (as :func:`make_rec`)."""
    n = len(reps)
    if kind == _TS_INT:
        if len(flat) != n:
            raise DecodeError("timestamp count mismatch")
        if not set(map(type, flat)) <= {int}:
            raise DecodeError("timestamps must be ints")
        stamps = list(accumulate(flat))
        if not _fits(stamps):
            raise DecodeError("timestamp out of range")
        return list(zip(reps, counters, values, stamps, strict=True))
    if kind == _TS_HLC_OWN:
        if len(flat) != 2 * n:
            raise DecodeError("timestamp count mismatch")
        if not set(map(type, flat)) <= {int}:
            raise DecodeError("timestamps must be ints")
        walls = list(accumulate(flat[0::2]))
        logicals = flat[1::2]
        if not _fits(walls) or (logicals and (min(logicals) < 0 or max(logicals) > _MAX_U64)):
            raise DecodeError("timestamp out of range")
        return list(zip(reps, counters, values, walls, logicals, strict=True))
    if len(flat) != n:
        raise DecodeError("timestamp count mismatch")
    stamps = [x if x.__class__ is float and not math.isnan(x) else r.ts(x) for x in flat]
    return list(map(make_rec, reps, counters, values, stamps))
