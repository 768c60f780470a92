"""The compact body of an ``AWLWWMap`` on the wire (registered under ``TAGS["AWLWWMap"]``).

Body, format version 1 (inside the package envelope ``[tag, version, replicas, body]``, so
replica ids are indexes into the message's replica table)::

    [vv, dots, keys, values, ts_kind, ts, extra]

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
  ``[wall, logical, replica]``);
- ``extra``: the context's dot cloud *minus* the live entries' dots (removed or superseded
  dots, delta-coded as ``dots``). The decoder rebuilds the context as
  ``vv + extra + entry dots``: an entry's dot is always in the context, so it is never sent twice.

Why this shape: a delta of 100 changed keys in a 100,000-key map is then ~1.3 KB (the plain
msgpack of dots, timestamps and keys is ~3.7 KB): the new dots and their timestamps are runs that
delta-code to a byte or two, keys share their prefixes, and superseded dots cost a gap each.

Hostile input: every field goes through the :class:`~crdts._codec.Reader` validators; prefix
sharing is capped at :data:`MAX_SHARED_PREFIX` characters so a small message cannot decode into
huge keys; counts must agree across columns.
"""

from __future__ import annotations

from typing import Any

from crdts._causal import CausalContext, Dot
from crdts._codec import Reader, Writer
from crdts._errors import DecodeError
from crdts._hlc import HLCTimestamp

__all__ = ["MAX_SHARED_PREFIX", "decode_parts", "encode_parts"]

MAX_SHARED_PREFIX = 64
"""Longest key prefix a key may share with the previous one (characters)."""

_MIN_I64 = -(1 << 63)
_MAX_U64 = (1 << 64) - 1

_TS_INT = 0
_TS_HLC_OWN = 1
_TS_RAW = 2


def encode_parts(store: dict[Any, Any], cc: CausalContext, w: Writer) -> Any:
    """The body of the map ``(store, cc)``; ``store`` values are records
    ``(replica, counter, value, ts)`` or sorted tuples of them."""
    rows: list[tuple[str, int, Any, Any, Any]] = []
    append = rows.append
    for key, v in store.items():
        if v[0].__class__ is str:
            append((v[0], v[1], key, v[2], v[3]))
        else:
            for r in v:
                append((r[0], r[1], key, r[2], r[3]))
    rows.sort(key=_dot_key)
    cloud = cc.cloud
    vv_flat: list[int] = []
    for r, n in cc.vv.items():
        vv_flat.append(w.replica(r))
        vv_flat.append(n)
    dots: list[int] = []
    keys: list[Any] = []
    values: list[Any] = []
    live_in_cloud: dict[str, set[int]] = {}
    ts_kind = _ts_kind(rows)
    ts: list[Any] = []
    prev_key = ""
    prev_ts: Any = 0
    prev_wall = 0
    group_at = -1
    group_replica: str | None = None
    prev_c = 0
    for replica, c, key, value, t in rows:
        if replica != group_replica:
            group_replica = replica
            dots.append(w.replica(replica))
            group_at = len(dots)
            dots.append(0)
            prev_c = 0
        dots.append(c - prev_c)
        dots[group_at] += 1
        prev_c = c
        if replica in cloud:
            s = live_in_cloud.get(replica)
            if s is None:
                live_in_cloud[replica] = {c}
            else:
                s.add(c)
        if key.__class__ is str:
            p = 0
            m = min(len(key), len(prev_key), MAX_SHARED_PREFIX)
            while p < m and key[p] == prev_key[p]:
                p += 1
            if p >= 2:
                keys.append(p)
                keys.append(key[p:])
            else:
                keys.append(key)
            prev_key = key
        else:
            keys.append((key,))
        values.append(value)
        if ts_kind == _TS_INT:
            ts.append(t - prev_ts)
            prev_ts = t
        elif ts_kind == _TS_HLC_OWN:
            ts.append(t[0] - prev_wall)
            ts.append(t[1])
            prev_wall = t[0]
        else:
            ts.append(w.ts(t))
    extra: list[Dot] = []
    for r, s in cloud.items():
        live = live_in_cloud.get(r)
        extra.extend((r, c) for c in s if live is None or c not in live)
    return (vv_flat, dots, keys, values, ts_kind, ts, w.dots(extra))


def _dot_key(row: tuple[str, int, Any, Any, Any]) -> tuple[str, int]:
    return (row[0], row[1])


def _ts_kind(rows: list[tuple[str, int, Any, Any, Any]]) -> int:
    """The most compact timestamp column these rows allow (deltas must stay 64-bit)."""
    if not rows:
        return _TS_INT
    if all(row[4].__class__ is int for row in rows):
        prev = 0
        for row in rows:
            if not _MIN_I64 <= row[4] - prev <= _MAX_U64:
                return _TS_RAW
            prev = row[4]
        return _TS_INT
    if all(row[4].__class__ is HLCTimestamp and row[4][2] == row[0] for row in rows):
        prev = 0
        for row in rows:
            if not _MIN_I64 <= row[4][0] - prev <= _MAX_U64:
                return _TS_RAW
            prev = row[4][0]
        return _TS_HLC_OWN
    return _TS_RAW


def decode_parts(body: Any, r: Reader, version: int) -> tuple[dict[Any, Any], CausalContext]:
    """The inverse of :func:`encode_parts` (validating everything; raises ``DecodeError``)."""
    vv_flat, dots_flat, keys_flat, values_in, ts_kind, ts_in, extra_flat = r.array(body, 7)
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
    dots = r.dots(dots_flat)
    n = len(dots)
    values = r.array(values_in, n)
    keys = _decode_keys(r.array(keys_flat), n, r)
    stamps = _decode_ts(r.integer(ts_kind, 0, _TS_RAW), r.array(ts_in), dots, r)
    store: dict[Any, Any] = {}
    multi: dict[Any, list[tuple[str, int, Any, Any]]] = {}
    add = cc.add
    for i in range(n):
        rep, c = dots[i]
        rec = (rep, c, r.value(values[i]), stamps[i])
        key = keys[i]
        old = store.get(key)
        if old is None:
            store[key] = rec
        else:  # concurrent entries of one key
            lst = multi.get(key)
            if lst is None:
                multi[key] = [old, rec]
            else:
                lst.append(rec)
        add((rep, c))
    for key, lst in multi.items():
        lst.sort(key=_rec_dot)
        store[key] = tuple(lst)
    for d in r.dots(extra_flat):
        add(d)
    return store, cc


def _rec_dot(rec: tuple[str, int, Any, Any]) -> Dot:
    return (rec[0], rec[1])


def _decode_keys(flat: tuple[Any, ...], n: int, r: Reader) -> list[Any]:
    keys: list[Any] = []
    prev = ""
    i, m = 0, len(flat)
    while i < m:
        x = flat[i]
        t = x.__class__
        if t is str:
            prev = x
            keys.append(x)
            i += 1
        elif t is int:
            if not 2 <= x <= min(MAX_SHARED_PREFIX, len(prev)) or i + 1 >= m:
                raise DecodeError("bad shared key prefix")
            suffix = flat[i + 1]
            if suffix.__class__ is not str:
                raise DecodeError("key suffix is not a str")
            prev = prev[:x] + suffix
            keys.append(prev)
            i += 2
        elif t is tuple and len(x) == 1 and x[0].__class__ is not str:
            keys.append(r.value(x[0]))
            i += 1
        else:
            raise DecodeError("bad key")
        if len(keys) > n:
            break
    if len(keys) != n:
        raise DecodeError(f"{len(keys)} keys for {n} entries")
    return keys


def _decode_ts(kind: int, flat: tuple[Any, ...], dots: list[Dot], r: Reader) -> list[Any]:
    n = len(dots)
    out: list[Any] = []
    if kind == _TS_INT:
        if len(flat) != n:
            raise DecodeError("timestamp count mismatch")
        t = 0
        for x in flat:
            t += r.integer(x)
            if not _MIN_I64 <= t <= _MAX_U64:
                raise DecodeError("timestamp out of range")
            out.append(t)
    elif kind == _TS_HLC_OWN:
        if len(flat) != 2 * n:
            raise DecodeError("timestamp count mismatch")
        wall = 0
        for i in range(n):
            wall += r.integer(flat[2 * i])
            if not _MIN_I64 <= wall <= _MAX_U64:
                raise DecodeError("timestamp out of range")
            out.append(HLCTimestamp(wall, r.integer(flat[2 * i + 1], 0), dots[i][0]))
    else:
        if len(flat) != n:
            raise DecodeError("timestamp count mismatch")
        out = [r.ts(x) for x in flat]
    return out
