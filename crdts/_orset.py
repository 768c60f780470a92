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

from collections.abc import Iterator
from typing import Any, TypeAlias

from crdts._causal import CausalContext, Dot
from crdts._codec import TAGS, Reader, Writer, check_replica, check_value, register
from crdts._dotstore import Causal, causal_codec
from crdts._errors import DecodeError

__all__ = ["ORSet"]

_Store: TypeAlias = dict[Any, set[Dot]]
_MIN_I64 = -(1 << 63)
_MAX_U64 = (1 << 64) - 1
_new = object.__new__


class ORSet(Causal):
    """Add-wins observed-remove set. ``value`` is a ``frozenset`` of the elements."""

    __slots__ = ()
    KIND = "orset"

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
        if old is None:
            dcc = _new(CausalContext)
            if c == 1:
                dcc.vv, dcc.cloud = {replica: 1}, {}
            else:
                dcc.vv, dcc.cloud = {}, {replica: {c}}
        else:
            old.add(d)
            dcc = CausalContext.from_dots(old)
        delta = _new(ORSet)
        delta._store = {elem: {d}}
        delta._cc = dcc
        return delta

    def remove(self, elem: Any) -> ORSet:
        """Remove ``elem`` (the adds of it this replica has seen); returns the delta (bottom if
        ``elem`` is absent)."""
        check_value(elem, "element")
        old = self._store.pop(elem, None)
        if old is None:
            return ORSet()
        return ORSet._make({}, CausalContext.from_dots(old))

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
            for e, ds in list(s.items()):
                ods = os.get(e)
                rm = [d for d in ds if (ods is None or d not in ods) and occ.contains(d)]
                if rm:
                    ds.difference_update(rm)
                    if not ds:
                        del s[e]
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
        for e, ds in s.items():
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
