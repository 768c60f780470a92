"""``AWLWWMap``: an add-wins map whose values are last-writer-wins registers (the shopping cart).

Theory of operation (Almeida, Shoker, Baquero, "Delta state replicated data types", JPDC 2018,
§6-7: causal CRDTs as a dot store plus a causal context; the map is the one Elixir's delta_crdt
calls ``AWLWWMap``). The state is a pair *(store, context)*:

- ``store`` maps each key to its **live entries**, each an immutable record
  ``(replica, counter, value, ts)`` named by its dot ``(replica, counter)``;
- ``context`` (:class:`~crdts.CausalContext`) holds every dot the state has *seen*.

``put`` makes a fresh dot and **supersedes every entry it has observed for that key** (their dots
go into the delta's context, so they die wherever the delta lands). ``remove`` kills exactly the
entries it observed: a concurrent put survives it (add-wins). Joining keeps a live entry iff both
sides hold it or one side holds it and the other never saw its dot. Entries that are *concurrent*
(neither put saw the other) stay side by side, and the key's value is the one with the largest
``(ts, replica)``: the same on every replica, whatever the order of delivery. Causality first:
a later put wins over an earlier one it observed even when its ``ts`` is smaller.

Deltas never over-claim: a put's delta holds the new entry and the context of exactly the new dot
plus the dots it superseded; a decomposition element holds one entry and its dot, or one removed
dot. So merging any subset of a peer's decomposition never deletes an entry the peer never saw.

Performance notes (why the code looks as it does; ``python -m benchmarks.crdt_ops``):

- one record per entry, a plain tuple, shared by the state and the delta (it is immutable);
  a key with a single live entry (the normal case) maps straight to its record, a key with
  concurrent entries to a tuple of records sorted by dot (``rec[0]`` is a ``str`` only for a
  record, which is how the two are told apart);
- ``put`` allocates its dot inline from the version vector and builds its delta with
  ``__new__`` and slot assignment, never through the general constructors;
- merging a small delta into a large state must not scan the state: a dot -> key index
  (``_dix``, per replica ``counter -> key``) is built the first time a merge needs it and then
  kept up to date; replicas that only write never pay for it. The index may hold stale counters
  (it is checked against the store on use) and is dropped when they pile up.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any, TypeAlias, cast

from crdts import _accel
from crdts._awlwwmap_absorb import NOT_MINE, absorb_few, absorb_put
from crdts._awlwwmap_codec import (
    VERSION,
    decode_one_message,
    decode_parts,
    encode_parts,
    rec_ts,
)
from crdts._causal import CausalContext, Counters, Dot
from crdts._codec import TAGS, Reader, Writer, check_replica, check_ts, check_value, register
from crdts._hlc import HLCTimestamp
from crdts._lattice import Lattice

__all__ = ["AWLWWMap"]

Rec: TypeAlias = tuple[Any, ...]
"""One live entry: ``(replica, counter, value, ts)``, or ``(replica, counter, value, wall,
logical)`` for an HLC timestamp of its own replica (see ``make_rec``); its dot is
``(rec[0], rec[1])``."""

_MIN_I64 = -(1 << 63)
_MAX_U64 = (1 << 64) - 1
_MISSING: Any = object()
_new = object.__new__
_TAG = TAGS["AWLWWMap"]


def _recs(v: Any) -> tuple[Rec, ...]:
    """The live records of a store slot (one record, or a sorted tuple of them)."""
    return (v,) if v[0].__class__ is str else cast(tuple[Rec, ...], v)


def _slot(recs: list[Rec]) -> Any:
    """The store slot for ``recs`` (``None`` when empty): canonical, so ``==`` is structural."""
    if not recs:
        return None
    if len(recs) == 1:
        return recs[0]
    recs.sort(key=_dot_of)
    return tuple(recs)


def _check_ts(ts: object) -> None:
    """``check_ts`` (an int or an ``HLCTimestamp``), and floats too: any totally ordered
    number is a timestamp here (NaN is not: it equals nothing)."""
    if isinstance(ts, float) and type(ts) is float and not math.isnan(ts):
        return
    check_ts(ts)


def _dot_of(rec: Rec) -> Dot:
    return (rec[0], rec[1])


def _rank(rec: Rec) -> tuple[bool, Any, str]:
    # numbers (int, float) sort before HLC timestamps, so a map whose writers mixed the two
    # still has one deterministic winner instead of a TypeError
    ts = rec_ts(rec)
    return (ts.__class__ is HLCTimestamp, ts, rec[0])


def _winner(v: Any) -> Rec:
    if v[0].__class__ is str:
        return cast(Rec, v)
    return max(cast(tuple[Rec, ...], v), key=_rank)


def _cc_has(cc: CausalContext, r: str, c: int) -> bool:
    if c <= cc.vv.get(r, 0):
        return True
    s = cc.cloud.get(r)
    return s is not None and c in s


def _dropped(xs: dict[Any, Any], xc: CausalContext, ys: dict[Any, Any]) -> Iterator[Dot]:
    """The dots of the entries in ``ys`` that ``(xs, xc)`` has seen but no longer holds."""
    if _accel.dropped_scan is not None:
        # the compiled scan decides the single records the version vector covers; the loop
        # below sees only the rest
        dots, deferred = _accel.dropped_scan(xs, ys, xc.vv, xc.cloud)
        yield from dots
        yield from _dropped_items(xs, xc, [(key, ys[key]) for key in deferred])
    else:
        yield from _dropped_items(xs, xc, ys.items())


def _dropped_items(
    xs: dict[Any, Any], xc: CausalContext, items: Iterable[tuple[Any, Any]]
) -> Iterator[Dot]:
    xvv, xcloud = xc.vv, xc.cloud
    for key, yv in items:
        if yv[0].__class__ is str:
            r = yv[0]
            c = yv[1]
            if c > xvv.get(r, 0):
                s = xcloud.get(r)
                if s is None or c not in s:
                    continue  # never seen
            xv = xs.get(key)
            if xv is yv:
                continue
            if xv is not None and xv[0].__class__ is str:
                if xv[1] != c or xv[0] != r:
                    yield (r, c)
                continue
        xv = xs.get(key)
        for q in _recs(yv):
            if _cc_has(xc, q[0], q[1]) and (
                xv is None or all(e[0] != q[0] or e[1] != q[1] for e in _recs(xv))
            ):
                yield (q[0], q[1])


def _cc_merge(cc: CausalContext, other: CausalContext) -> None:
    """``cc := cc | other`` in time proportional to ``other``'s runs (a receiver of many small
    deltas must not scan its whole cloud): ``CausalContext.merge`` inserts a few runs into many
    one by one, O(log runs) each."""
    cc.merge(other)


def _one_dot(m: AWLWWMap) -> Rec | None:
    """The record of ``m`` when ``m`` is one record whose context is exactly its dot (the delta
    of a put that superseded nothing: what a node receives most), else ``None``. Joining,
    comparing or diffing such a delta needs one dot lookup (a dot names one put of one key),
    not the general scans and context arithmetic (the receive path's biggest cost after the
    decode). Only the cheap shape checks here; anything else takes the general code."""
    store = m._store
    if len(store) != 1:
        return None
    for rec in store.values():
        r = rec[0]
        if r.__class__ is not str:
            return None  # concurrent entries
        c = rec[1]
        cc = m._cc
        cloud = cc.cloud
        if cloud:
            if cc.vv or len(cloud) != 1:
                return None
            s = cloud.get(r)
            # Counters keeps short run lists as a list: [c, c + 1) is the one dot
            if s is None or s._b != [c, c + 1]:
                return None
        elif c != 1 or cc.vv != {r: 1}:
            return None
        return cast(Rec, rec)
    return None


class AWLWWMap(Lattice):
    """An add-wins map of last-writer-wins values; ``AWLWWMap()`` is the empty map (bottom).

    Mutators apply in place and return the delta (itself an ``AWLWWMap``)::

        d = cart.put("alice-phone", "apple", 2, ts)   # ts: HLCTimestamp, int or float; increasing
        cart.remove("apple")                           # bottom if absent
        cart.get("apple"), cart.value                  # value: a plain dict
    """

    __slots__ = ("_cc", "_dix", "_dixn", "_store")

    _store: dict[Any, Any]
    _cc: CausalContext
    _dix: dict[str, dict[int, Any]] | None
    _dixn: int

    def __init__(self) -> None:
        self._store = {}
        self._cc = CausalContext()
        self._dix = None
        self._dixn = 0

    @classmethod
    def _make(cls, store: dict[Any, Any], cc: CausalContext) -> AWLWWMap:
        m = _new(cls)
        m._store = store
        m._cc = cc
        m._dix = None
        m._dixn = 0
        return m

    # -- mutators -------------------------------------------------------------------------------

    def put(self, replica: str, key: Any, value: Any, ts: Any) -> AWLWWMap:
        """Set ``key`` to ``value`` at timestamp ``ts`` (an ``HLCTimestamp``, an ``int`` or a
        ``float``, strictly increasing per replica). Supersedes every entry of ``key`` seen
        here; returns the delta."""
        # validation first (an invalid put raises ValueError and changes nothing); the common
        # types are recognised inline, anything else goes through the full checks
        if replica.__class__ is not str:
            check_replica(replica)
        if key.__class__ is not str:
            check_value(key, "key")
        tv = value.__class__
        if tv is not str and (tv is not int or not _MIN_I64 <= value <= _MAX_U64):
            check_value(value)
        if ts.__class__ is not int or not _MIN_I64 <= ts <= _MAX_U64:
            _check_ts(ts)
        cc = self._cc
        vv = cc.vv
        cloud = cc.cloud
        # the dot, inline (CausalContext.make_dot without the call)
        if replica in cloud:
            c = cc.max_counter(replica) + 1
            cc.add((replica, c))
        else:
            c = vv.get(replica, 0) + 1
            vv[replica] = c
        if ts.__class__ is HLCTimestamp and ts[2] == replica:  # as make_rec, inline
            rec: Rec = (replica, c, value, ts[0], ts[1])
        else:
            rec = (replica, c, value, ts)
        store = self._store
        old = store.get(key)
        store[key] = rec
        dix = self._dix
        if dix is not None:
            self._index_add(dix, rec, key)
        # the delta: the new entry; context = the new dot plus the dots it superseded
        d = _new(AWLWWMap)
        d._store = {key: rec}
        d._dix = None
        d._dixn = 0
        dcc = _new(CausalContext)
        if old is None:
            if c != 1:
                dcc.vv = {}
                dcc.cloud = {replica: Counters.run(c, c + 1)}
            else:
                dcc.vv = {replica: 1}
                dcc.cloud = {}
        elif old[0].__class__ is str and c != 1 and old[1] != 1:
            r0 = old[0]
            dcc.vv = {}
            if r0 == replica:
                dcc.cloud = {replica: Counters((old[1], c))}
            else:
                dcc.cloud = {replica: Counters.run(c, c + 1), r0: Counters.run(old[1], old[1] + 1)}
        else:
            dcc = CausalContext.from_dots([(replica, c), *(_dot_of(o) for o in _recs(old))])
        d._cc = dcc
        return d

    def remove(self, key: Any) -> AWLWWMap:
        """Remove ``key``: kills the entries seen here (a concurrent put survives). Returns the
        delta (bottom if ``key`` is absent). A ``key`` no put could have used (not
        msgpack-native) is a misuse: ``ValueError``, as for every type's mutators."""
        if key.__class__ is not str:
            check_value(key, "key")
        v = self._store.pop(key, None)
        if v is None:
            return AWLWWMap()
        return AWLWWMap._make({}, CausalContext.from_dots(_dot_of(r) for r in _recs(v)))

    # -- queries --------------------------------------------------------------------------------

    def get(self, key: Any, default: Any = None) -> Any:
        """The value of ``key`` (the winning entry's), or ``default``."""
        try:
            v = self._store.get(key, _MISSING)
        except TypeError:  # unhashable: cannot be a key
            return default
        if v is _MISSING:
            return default
        return v[2] if v[0].__class__ is str else _winner(v)[2]

    @property
    def value(self) -> dict[Any, Any]:
        """The map as a plain ``dict`` key -> value."""
        return {
            k: (v[2] if v[0].__class__ is str else _winner(v)[2]) for k, v in self._store.items()
        }

    @property
    def context(self) -> CausalContext:
        """A copy of the causal context (every dot this state has seen)."""
        return self._cc.copy()

    def entries(self, key: Any) -> list[tuple[Dot, Any, Any]]:
        """The live entries of ``key`` as ``(dot, value, ts)``, sorted by dot: more than one
        only while concurrent puts have not been superseded."""
        v = self._store.get(key)
        if v is None:
            return []
        return [((r[0], r[1]), r[2], rec_ts(r)) for r in _recs(v)]

    def timestamp(self, key: Any) -> Any:
        """The ``ts`` of the winning entry of ``key`` (``None`` if absent)."""
        v = self._store.get(key)
        return None if v is None else rec_ts(_winner(v))

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, key: object) -> bool:
        try:
            return key in self._store
        except TypeError:
            return False

    def __iter__(self) -> Iterator[Any]:
        return iter(self._store)

    def is_bottom(self) -> bool:
        return not self._store and self._cc.is_bottom()

    # -- lattice --------------------------------------------------------------------------------

    def copy(self) -> AWLWWMap:
        return AWLWWMap._make(self._store.copy(), self._cc.copy())

    def join(self, other: AWLWWMap) -> AWLWWMap:
        """``self ⊔ other`` (pure)."""
        if len(other._store) > len(self._store):  # same result; work on the smaller side
            out = other.copy()
            out._merge(self)
            return out
        out = self.copy()
        out._merge(other)
        return out

    def merge(self, other: AWLWWMap) -> None:
        """In place: ``self := self ⊔ other``."""
        if not isinstance(other, AWLWWMap):
            raise TypeError(f"cannot merge {type(other).__name__} into AWLWWMap")
        self._merge(other)

    def absorb(self, d: AWLWWMap) -> AWLWWMap | None:
        """In place: ``self := self ⊔ d``; returns what ``self`` lacked (``d.diff(old self)`` in
        value, ``d`` itself when all of it was new) or ``None`` when ``d <= self`` (see
        :meth:`Lattice.absorb`). A put's delta (one record, its dot and the few dots it
        superseded: what a node receives most) takes one fused pass (``_awlwwmap_absorb.py``,
        compiled when built), a small state or diff of several records the same rules in
        Python; anything bigger ``leq``, ``diff`` and ``merge``."""
        if not isinstance(d, AWLWWMap):
            raise TypeError(f"cannot absorb {type(d).__name__} into AWLWWMap")
        if d is self:
            return None
        fast = _accel.absorb_put
        if fast is not None:
            xc, dc = self._cc, d._cc
            got = fast(self._store, xc.vv, xc.cloud, self._dix, d._store, dc.vv, dc.cloud)
            if got is None:
                return None
            if got is True and self._dix is None:  # the usual answer: all of d was new
                return d
            if got is not NotImplemented:
                return self._absorbed(d, got)
        rec = _one_dot(d)
        if rec is not None:  # the commonest delta: one dot lookup decides
            if _cc_has(self._cc, rec[0], rec[1]):
                return None
            self._merge_one(d, rec)
            return d
        got = absorb_put(self, d)
        if got is NOT_MINE:  # several records (a small state or diff)?
            got = absorb_few(self, d)
        if got is not NOT_MINE:
            return cast(AWLWWMap | None, got)
        return Lattice.absorb(self, d)

    def _absorbed(self, d: AWLWWMap, got: Any) -> AWLWWMap:
        """The rest of a compiled ``absorb_put`` that changed ``self`` (``True``, or
        ``(whole, new, dots, pending)``: see ``crdts/_speedups_absorb.c``)."""
        dix = self._dix
        if got is True:
            if dix is not None:
                ((key, rec),) = d._store.items()
                self._index_add(dix, rec, key)
            return d
        whole, new, dots, pending = got
        if pending is not None:
            add = self._cc.add
            for dot in pending:
                add(dot)
        ((key, rec),) = d._store.items()
        if new and dix is not None:
            self._index_add(dix, rec, key)
        if whole:
            return d
        return AWLWWMap._make({key: rec} if new else {}, CausalContext.from_dots(dots))

    def _merge(self, other: AWLWWMap) -> None:
        yrec = _one_dot(other)
        if yrec is not None and other is not self:
            self._merge_one(other, yrec)
            return
        xs, xc = self._store, self._cc
        ys, yc = other._store, other._cc
        xvv, xcloud = xc.vv, xc.cloud
        yvv, ycloud = yc.vv, yc.cloud
        dix = self._dix
        items: Any = ys.items()
        # step 2's scan, when it is the way (see below); the compiled module does it in step 1
        scan = len(yc) != len(ys) and dix is None and len(yc) * 4 >= len(xs)
        cand: list[Any] | None = None
        if _accel.merge_scan is not None and xs is not ys:
            # the compiled scans settle every key that needs no decision (most of them); the
            # loops below see only the rest (the same code, fewer keys)
            deferred, cand, added = _accel.merge_scan(
                xs, ys, xvv, xcloud, yvv, ycloud, dix is not None, scan
            )
            if added and dix is not None:
                for key in added:
                    self._index_add(dix, xs[key], key)
            items = [(key, ys[key]) for key in deferred]
            if not scan:
                cand = None
        # 1. every key the other side holds: the join of that key's entries
        for key, yv in items:
            xv = xs.get(key)
            if yv[0].__class__ is str:
                yr = yv[0]
                yn = yv[1]
                if xv is None:
                    if yn > xvv.get(yr, 0):
                        s = xcloud.get(yr)
                        if s is None or yn not in s:
                            xs[key] = yv
                            if dix is not None:
                                self._index_add(dix, yv, key)
                    continue
                if xv is yv:
                    continue
                if xv[0].__class__ is str:
                    xr = xv[0]
                    xn = xv[1]
                    if xn == yn and xr == yr:
                        continue
                    keep_y = not _cc_has(xc, yr, yn)
                    if _cc_has(yc, xr, xn):  # x's entry was seen (and superseded) by y
                        if keep_y:
                            xs[key] = yv
                            if dix is not None:
                                self._index_add(dix, yv, key)
                        else:
                            del xs[key]
                        continue
                    if keep_y:  # concurrent: both stay
                        xs[key] = (xv, yv) if (xr, xn) < (yr, yn) else (yv, xv)
                        if dix is not None:
                            self._index_add(dix, yv, key)
                    continue
            self._merge_key(key, xv, yv, xc, yc)
        # 2. entries only this side holds die if the other side saw their dots
        if len(yc) == len(ys):
            pass  # other's context is exactly its entries' dots: nothing else to kill
        elif not scan:
            self._kill_seen_by_index(other)
        elif cand is not None:  # scanned by the compiled module: what needs the cloud is left
            for key in cand:
                xv = xs[key]
                if xv[0].__class__ is str:
                    if _cc_has(yc, xv[0], xv[1]):
                        del xs[key]
                else:
                    self._set_slot(key, [r for r in xv if not _cc_has(yc, r[0], r[1])])
        else:
            dead = []
            for key in xs.keys() - ys.keys():
                xv = xs[key]
                if xv[0].__class__ is str:
                    xn = xv[1]
                    if xn <= yvv.get(xv[0], 0):
                        dead.append(key)
                    else:
                        s = ycloud.get(xv[0])
                        if s is not None and xn in s:
                            dead.append(key)
                else:
                    dead.append(key)  # re-examined below (rare: concurrent entries)
            for key in dead:
                xv = xs[key]
                if xv[0].__class__ is str:
                    del xs[key]
                else:
                    self._set_slot(key, [r for r in xv if not _cc_has(yc, r[0], r[1])])
        _cc_merge(xc, yc)

    def _merge_one(self, other: AWLWWMap, yv: Rec) -> None:
        """:meth:`_merge` of a one-dot delta (see :func:`_one_dot`): a dot seen here is held
        or was superseded (nothing to do); an unseen one joins its key's entries (they are
        concurrent with it: the delta saw nothing else)."""
        r, c = yv[0], yv[1]
        xc = self._cc
        if _cc_has(xc, r, c):
            return
        xs = self._store
        ((key, _),) = other._store.items()
        xv = xs.get(key)
        if xv is None:
            xs[key] = yv
        elif xv[0].__class__ is str:
            xs[key] = (xv, yv) if (xv[0], xv[1]) < (r, c) else (yv, xv)
        else:
            self._set_slot(key, [*xv, yv])
            xc.add((r, c))
            return
        dix = self._dix
        if dix is not None:
            self._index_add(dix, yv, key)
        xc.add((r, c))

    def _merge_key(self, key: Any, xv: Any, yv: Any, xc: CausalContext, yc: CausalContext) -> None:
        """The general join of one key's entries (either side may hold several)."""
        yrecs = _recs(yv)
        if xv is None:
            self._set_slot(key, [r for r in yrecs if not _cc_has(xc, r[0], r[1])], old=None)
            return
        xrecs = _recs(xv)
        xdots = {(r[0], r[1]) for r in xrecs}
        ydots = {(r[0], r[1]) for r in yrecs}
        out = [r for r in xrecs if (r[0], r[1]) in ydots or not _cc_has(yc, r[0], r[1])]
        out += [r for r in yrecs if (r[0], r[1]) not in xdots and not _cc_has(xc, r[0], r[1])]
        self._set_slot(key, out)

    def _set_slot(self, key: Any, recs: list[Rec], old: Any = _MISSING) -> None:
        v = _slot(recs)
        if v is None:
            if old is not None:
                self._store.pop(key, None)
            return
        self._store[key] = v
        dix = self._dix
        if dix is not None:
            for r in recs:
                self._index_add(dix, r, key)

    # -- the dot -> key index (for merging small deltas into large states) ----------------------

    def _index_add(self, dix: dict[str, dict[int, Any]], rec: Rec, key: Any) -> None:
        m = dix.get(rec[0])
        if m is None:
            dix[rec[0]] = {rec[1]: key}
        else:
            m[rec[1]] = key
        self._dixn += 1
        if self._dixn > 2 * len(self._store) + 4096:  # mostly stale: rebuild on next need
            self._dix = None

    def _build_index(self) -> dict[str, dict[int, Any]]:
        if _accel.build_index is not None:
            self._dix, self._dixn = _accel.build_index(self._store)
            return self._dix
        dix: dict[str, dict[int, Any]] = {}
        n = 0
        for key, v in self._store.items():
            for r in _recs(v):
                m = dix.get(r[0])
                if m is None:
                    dix[r[0]] = {r[1]: key}
                else:
                    m[r[1]] = key
                n += 1
        self._dix = dix
        self._dixn = n
        return dix

    def _kill_seen_by_index(self, other: AWLWWMap) -> None:
        """Step 2 of a merge, in time proportional to the other side's context."""
        dix = self._dix if self._dix is not None else self._build_index()
        xs, ys = self._store, other._store
        yc = other._cc
        hit: set[Any] = set()
        for r, n in yc.vv.items():
            m = dix.get(r)
            if m is None:
                continue
            if n < len(m):
                for c in range(1, n + 1):
                    k = m.get(c, _MISSING)
                    if k is not _MISSING:
                        hit.add(k)
            else:
                hit.update(k for c, k in m.items() if c <= n)
        for r, s in yc.cloud.items():
            m = dix.get(r)
            if m is None:
                continue
            if s.count() < len(m):
                for c in s:
                    k = m.get(c, _MISSING)
                    if k is not _MISSING:
                        hit.add(k)
            else:  # a long run (any number of claimed events): ask the index instead
                hit.update(k for c, k in m.items() if c in s)
        for key in hit:
            if key in ys:
                continue
            xv = xs.get(key)
            if xv is None:
                continue
            if xv[0].__class__ is str:
                if _cc_has(yc, xv[0], xv[1]):
                    del xs[key]
            else:
                self._set_slot(key, [r for r in xv if not _cc_has(yc, r[0], r[1])])

    def leq(self, other: AWLWWMap) -> bool:
        """``self ⊑ other``: other has seen every dot of self, and holds none that self saw
        and dropped."""
        one = _one_dot(self)
        if one is not None:  # other holds that dot, or superseded it
            return _cc_has(other._cc, one[0], one[1])
        xc = self._cc
        if not xc.leq(other._cc):
            return False
        return next(_dropped(self._store, xc, other._store), None) is None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AWLWWMap):
            return NotImplemented
        return self._store == other._store and self._cc == other._cc

    __hash__ = None  # type: ignore[assignment]

    def decompose(self) -> list[AWLWWMap]:
        """The irreducible join-decomposition: one element per live entry (with its dot) and
        one per dot seen but no longer live (an empty store and that dot)."""
        out: list[AWLWWMap] = []
        live: set[Dot] = set()
        for key, v in self._store.items():
            for r in _recs(v):
                dot = (r[0], r[1])
                live.add(dot)
                out.append(AWLWWMap._make({key: r}, CausalContext.from_dots((dot,))))
        for dot in self._cc.dots():
            if dot not in live:
                out.append(AWLWWMap._make({}, CausalContext.from_dots((dot,))))
        return out

    def coarse_parts(self, max_runs: int = 1024) -> Iterator[AWLWWMap]:
        """Parts that join back to ``self``: one per live entry (as in :meth:`decompose`), then
        the dots seen and no longer live as contexts of at most ``max_runs`` runs (never listed
        one by one: a context may claim any number of events)."""
        live: list[Dot] = []
        for key, v in self._store.items():
            for r in _recs(v):
                dot = (r[0], r[1])
                live.append(dot)
                yield AWLWWMap._make({key: r}, CausalContext.from_dots((dot,)))
        for cc in self._cc.subtract(CausalContext.from_dots(live)).chunks(max_runs):
            yield AWLWWMap._make({}, cc)

    def diff(self, other: AWLWWMap) -> AWLWWMap:
        """The minimal delta ``Δ(self, other)``: the entries whose dots ``other`` has not
        seen, and the removals ``other`` has not applied; ``other ⊔ Δ == self ⊔ other``."""
        one = _one_dot(self)
        if one is not None:  # all of self, or nothing
            if _cc_has(other._cc, one[0], one[1]):
                return AWLWWMap()
            return AWLWWMap._make(dict(self._store), self._cc.copy())
        xc, yc = self._cc, other._cc
        xs = self._store
        store: dict[Any, Any] = {}
        yvv, ycloud = yc.vv, yc.cloud
        items: Any = xs.items()
        if _accel.diff_scan is not None:  # the single records yvv decides, compiled
            store, deferred = _accel.diff_scan(xs, yvv, ycloud)
            items = [(key, xs[key]) for key in deferred]
        for key, v in items:
            if v[0].__class__ is str:
                r = v[0]
                c = v[1]
                if c <= yvv.get(r, 0):
                    continue
                cs = ycloud.get(r)
                if cs is None or c not in cs:
                    store[key] = v
            else:
                keep = [r for r in v if not _cc_has(yc, r[0], r[1])]
                if keep:
                    store[key] = _slot(keep)
        # every dot self has seen and other has not (the live ones are among them), as runs:
        # O(runs of both contexts), however many events they claim
        cc = xc.subtract(yc)
        for d in _dropped(xs, xc, other._store):
            cc.add(d)  # entries other still holds that self has seen and dropped
        return AWLWWMap._make(store, cc)

    def __repr__(self) -> str:
        return f"AWLWWMap({self.value!r}, context={self._cc!r})"

    # -- codec hooks ------------------------------------------------------------------------------

    def _encode_body(self, w: Writer) -> Any:
        return encode_parts(self._store, self._cc, w)

    def _canonical_bytes(self) -> bytes | None:
        # the compiled one-pass canonical encoding of a small map (None: the codec's two passes)
        fast = _accel.canonical
        if fast is None:
            return None
        cc = self._cc
        return fast(self._store, cc.vv, cc.cloud, _TAG, VERSION)

    @classmethod
    def _decode_fast(cls, data: bytes) -> AWLWWMap | None:
        # a one-entry message (a put's delta), parsed by the compiled module (None: the
        # general path)
        got = decode_one_message(data, _TAG)
        return None if got is None else cls._make(*got)

    @classmethod
    def _decode_body(cls, body: Any, r: Reader, version: int) -> AWLWWMap:
        store, cc = decode_parts(body, r, version)
        return cls._make(store, cc)


register(
    AWLWWMap,
    tag=TAGS["AWLWWMap"],
    version=VERSION,
    encode=AWLWWMap._encode_body,
    decode=AWLWWMap._decode_body,
    canonical=AWLWWMap._canonical_bytes,
    decode_fast=AWLWWMap._decode_fast,
)
