"""ORSet: the add-wins observed-remove set.

Theory of operation (Shapiro et al. 2011, "A comprehensive study of CRDTs"; the optimised,
tombstone-free form of Almeida et al. 2018 §7.1 / Bieniusa et al. 2012). The store is a DotMap
``elem -> set of dots``: every add creates a fresh dot and supersedes the dots of that element it
has seen; a remove supersedes the dots it has seen and adds none. Removed dots live on only in the
causal context, so a remove leaves no tombstone. An add concurrent with a remove survives: the
remove never saw the add's dot (**add wins**).

Delta of ``add(r, e)``: ``({e: {d}}, {d} + old dots of e)``; of ``remove(e)``: ``({}, dots of e)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, TypeAlias

from crdts._causal import CausalContext, Counters, Dot
from crdts._codec import TAGS, Reader, Writer, check_replica, check_value, register
from crdts._dotstore import Causal, causal_codec
from crdts._errors import DecodeError

__all__ = ["ORSet"]

_Store: TypeAlias = dict[Any, set[Dot]]
_MIN_I64 = -(1 << 63)
_MAX_U64 = (1 << 64) - 1
_new = object.__new__
_MISSING: Any = object()


def _drop_seen(s: _Store, os: _Store, occ: CausalContext) -> None:
    """Remove from ``s`` every dot ``occ`` has seen and ``os`` does not hold (a full scan)."""
    for e, ds in list(s.items()):
        ods = os.get(e)
        rm = [d for d in ds if (ods is None or d not in ods) and occ.contains(d)]
        if rm:
            ds.difference_update(rm)
            if not ds:
                del s[e]


def _drop_in(s: _Store, keys: Iterable[Any], cand: set[Dot]) -> None:
    """Remove the dots of ``cand`` live under ``keys`` of ``s`` (and from ``cand``)."""
    for e in keys:
        mine = s.get(e)
        if mine is not None and not mine.isdisjoint(cand):
            hit = mine & cand
            cand -= hit
            mine -= hit
            if not mine:
                del s[e]


class ORSet(Causal):
    """Add-wins observed-remove set. ``value`` is a ``frozenset`` of the elements."""

    __slots__ = ("_dix",)
    KIND = "orset"

    # ``_dix``: a dot -> element index, built the first time a merge must find removed dots
    # outside the elements the delta names (a remove's delta names none), then kept up to date
    # by ``add`` and ``merge``. It may hold stale dots (checked against the store on use) and is
    # rebuilt when they pile up. Sets that are only written to never pay for it.
    _dix: dict[Dot, Any] | None

    def __init__(self) -> None:
        super().__init__()
        self._dix = None

    @classmethod
    def _make(cls, store: Any, cc: CausalContext) -> ORSet:
        x = _new(cls)
        x._store = store
        x._cc = cc
        x._dix = None
        return x

    # -- mutators -----------------------------------------------------------------------------

    def add(self, replica: str, elem: Any) -> ORSet:
        """Add ``elem`` on behalf of ``replica``; returns the delta."""
        # Hot path: validation fast-paths for str/int elements, the dot allocated inline, the
        # delta built without the general constructors.
        if replica.__class__ is not str:
            check_replica(replica)
        t = elem.__class__
        if not (t is str or (t is int and _MIN_I64 <= elem <= _MAX_U64)):
            check_value(elem, "element")
        s: _Store = self._store
        cc = self._cc
        old = s.get(elem)
        if replica in cc.cloud:
            d = cc.make_dot(replica)
            c = d[1]
        else:
            vv = cc.vv
            c = vv.get(replica, 0) + 1
            vv[replica] = c
            d = (replica, c)
        s[elem] = {d}
        if self._dix is not None:
            self._dix[d] = elem
        if old is None:
            dcc = _new(CausalContext)
            if c == 1:
                dcc.vv, dcc.cloud = {replica: 1}, {}
            else:
                dcc.vv, dcc.cloud = {}, {replica: Counters.run(c, c + 1)}
        else:
            old.add(d)
            dcc = CausalContext.from_dots(old)
        delta = _new(ORSet)
        delta._store = {elem: {d}}
        delta._cc = dcc
        delta._dix = None
        return delta

    def remove(self, elem: Any) -> ORSet:
        """Remove ``elem`` (the adds of it this replica has seen); returns the delta (bottom if
        ``elem`` is absent)."""
        check_value(elem, "element")
        old = self._store.pop(elem, None)
        if old is None:
            return ORSet()
        return ORSet._make({}, CausalContext.from_dots(old))

    def merge(self, other: ORSet) -> None:
        """In place: ``self := self ⊔ other``. A small delta never scans a large set."""
        if other is self:
            return
        s: _Store = self._store
        cc, os, occ = self._cc, other._store, other._cc
        if s and occ:
            cand = self._removals(len(s), cc, os, occ)
            if cand is None:
                _drop_seen(s, os, occ)
            elif cand:
                _drop_in(s, os, cand)  # first where the delta points: an add's old dots
                if cand:
                    dix = self._index()
                    for d in cand:
                        e = dix.get(d, _MISSING)
                        if e is not _MISSING:
                            ds = s.get(e)
                            if ds is not None and d in ds:
                                ds.discard(d)
                                if not ds:
                                    del s[e]
        index = self._dix
        for e, ods in os.items():
            new = [d for d in ods if not cc.contains(d)]
            if new:
                mine = s.get(e)
                if mine is None:
                    s[e] = set(new)
                else:
                    mine.update(new)
                if index is not None:
                    for d in new:
                        index[d] = e
        cc.merge(occ)

    def _live_among(self, dots: list[Dot]) -> set[Dot]:
        s: _Store = self._store
        if len(dots) * 8 < len(s):
            dix = self._index()
            out: set[Dot] = set()
            for d in dots:
                e = dix.get(d, _MISSING)
                if e is not _MISSING:
                    ds = s.get(e)
                    if ds is not None and d in ds:
                        out.add(d)
            return out
        return super()._live_among(dots)

    def _index(self) -> dict[Dot, Any]:
        dix = self._dix
        if dix is None or len(dix) > 2 * len(self._store) + 1024:
            dix = self._dix = {d: e for e, ds in self._store.items() for d in ds}
        return dix

    def __contains__(self, elem: object) -> bool:
        return elem in self._store

    def __len__(self) -> int:
        return len(self._store)

    # -- store operations -------------------------------------------------------------------

    @classmethod
    def _s_copy(cls, s: _Store) -> _Store:
        return {e: ds.copy() for e, ds in s.items()}

    @classmethod
    def _s_dots(cls, s: _Store) -> Iterator[Dot]:
        for ds in s.values():
            yield from ds

    @classmethod
    def _s_join(cls, s: _Store, cc: CausalContext, os: _Store, occ: CausalContext) -> _Store:
        if s and occ:
            cand = cls._removals(len(s), cc, os, occ)
            if cand is None:  # a large context: check every dot we hold
                _drop_seen(s, os, occ)
            elif cand:
                # The removed dots usually belong to elements the delta names (an add supersedes
                # the element's older dots): look there first, then scan until every candidate
                # is accounted for (each dot is live at most once).
                _drop_in(s, os, cand)
                if cand:
                    _drop_in(s, [e for e, ds in s.items() if not ds.isdisjoint(cand)], cand)
        for e, ods in os.items():
            new = [d for d in ods if not cc.contains(d)]
            if new:
                mine = s.get(e)
                if mine is None:
                    s[e] = set(new)
                else:
                    mine.update(new)
        return s

    @classmethod
    def _s_singletons(cls, s: _Store) -> Iterator[tuple[Dot, Any]]:
        for e, ds in s.items():
            for d in ds:
                yield d, {e: {d}}

    @classmethod
    def _s_restrict(cls, s: _Store, keep: set[Dot]) -> _Store:
        out: _Store = {}
        for e, ds in s.items():
            k = ds & keep
            if k:
                out[e] = k
        return out

    @classmethod
    def _s_value(cls, s: _Store) -> frozenset[Any]:
        return frozenset(s)

    @classmethod
    def _s_encode(cls, s: _Store, w: Writer) -> Any:
        out: list[Any] = []
        for e, ds in w.ordered_items(s):
            out.append(e)
            out.append(w.dots(ds))
        return out

    @classmethod
    def _s_decode(cls, obj: Any, r: Reader) -> _Store:
        flat = r.array(obj)
        if len(flat) % 2:
            raise DecodeError("ORSet entries come in pairs")
        s: _Store = {}
        for i in range(0, len(flat), 2):
            e = r.value(flat[i])
            ds = set(r.dots(flat[i + 1]))
            if not ds:
                raise DecodeError("ORSet element without dots")
            if e in s:
                raise DecodeError("ORSet element appears twice")
            s[e] = ds
        return s


_enc, _dec = causal_codec(ORSet)
register(ORSet, tag=TAGS["ORSet"], version=1, encode=_enc, decode=_dec)
