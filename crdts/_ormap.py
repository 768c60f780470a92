"""ORMap: an observed-remove map whose values are themselves causal CRDTs.

Theory of operation (Almeida et al. 2018 §7.4, "map embedding"; the shape of riak_dt's
``riak_dt_map`` and Akka's ``ORMap``). The store is a DotMap ``field -> dot store of the field's
type``, and the whole map shares **one** causal context: a nested value is the pair
*(its sub-store, the map's context)*, so an update of a nested value is the nested type's own
delta-mutator, run on that embedded pair, whose delta is lifted into the map as
``({field: delta store}, delta context)``. Removing a field ships ``({}, the dots it holds)``:
it removes exactly what the remover observed, so an update concurrent with a remove survives
(**add/update wins**), and a removed nested counter, set or register restarts from what the
concurrent updates left. A field whose nested store becomes empty disappears.

As in riak_dt, a field is identified by its key **and** its type: ``(key, kind)`` where ``kind``
is one of ``"orset"``, ``"counter"`` (:class:`CausalCounter`), ``"mvregister"``,
``"lwwregister"``, ``"ormap"``; two replicas creating the same key with different types get two
fields rather than a type clash. ``value`` is ``{(key, kind): nested value}``.

Use::

    m = ORMap()
    d1 = m.update("tags", ORSet, lambda s: s.add("alice", "red"))
    d2 = m.update("visits", CausalCounter, lambda c: c.increment("alice", 3))
    d3 = m.update("profile", ORMap, lambda p: p.update("name", MVRegister,
                                                        lambda r: r.set("alice", "Al")))
    m.value == {("tags", "orset"): frozenset({"red"}), ("visits", "counter"): 3,
                ("profile", "ormap"): {("name", "mvregister"): frozenset({"Al"})}}
    m.remove("tags", ORSet)     # or m.remove("tags"): every field of that key

``fn`` receives the embedded value and must return the delta of what it did (the mutator's return
value; join them if it calls several mutators).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeAlias, TypeVar

from crdts._causal import CausalContext, Dot
from crdts._ccounter import CausalCounter
from crdts._codec import TAGS, Reader, Writer, check_value, register
from crdts._dotstore import Causal, causal_codec
from crdts._errors import DecodeError, UsageError
from crdts._lwwregister import LWWRegister
from crdts._mvregister import MVRegister
from crdts._orset import ORSet

__all__ = ["ORMap"]

C = TypeVar("C", bound=Causal)
_Field: TypeAlias = tuple[Any, str]
_Store: TypeAlias = dict[_Field, Any]


class ORMap(Causal):
    """Observed-remove map of causal CRDTs; fields are ``(key, kind)``."""

    __slots__ = ()
    KIND = "ormap"

    # -- mutators ---------------------------------------------------------------------------

    def update(self, key: Any, kind: type[C], fn: Callable[[C], C]) -> ORMap:
        """Apply ``fn`` (a mutator call) to the ``kind`` value at ``key``, creating it if absent;
        returns the map's delta (bottom if ``fn``'s delta is bottom)."""
        check_value(key, "key")
        name = _kind_name(kind)
        field = (key, name)
        s: _Store = self._store
        sub = s.get(field)
        child = kind._make(sub if sub is not None else kind._s_bottom(), self._cc)
        delta = fn(child)
        new = child._store
        if new:
            s[field] = new
        else:
            s.pop(field, None)
        if type(delta) is not kind:
            raise UsageError(f"fn must return the {kind.__name__} delta of its mutation")
        if not delta._cc:
            return ORMap()
        return ORMap._make({field: delta._store} if delta._store else {}, delta._cc)

    def remove(self, key: Any, kind: type[Causal] | None = None) -> ORMap:
        """Remove the field ``(key, kind)``, or every field of ``key`` if ``kind`` is None, as far
        as this replica has seen it; returns the delta (bottom if there was nothing to remove)."""
        check_value(key, "key")
        names = [_kind_name(kind)] if kind is not None else list(_KINDS)
        s: _Store = self._store
        dots: list[Dot] = []
        for name in names:
            sub = s.pop((key, name), None)
            if sub is not None:
                dots.extend(_KINDS[name]._s_dots(sub))
        if not dots:
            return ORMap()
        return ORMap._make({}, CausalContext.from_dots(dots))

    def get(self, key: Any, kind: type[C]) -> C:
        """A standalone copy of the ``kind`` value at ``key`` (bottom if absent)."""
        sub = self._store.get((key, _kind_name(kind)))
        if sub is None:
            return kind()
        return kind._make(kind._s_copy(sub), self._cc.copy())

    def __contains__(self, field: object) -> bool:
        """``(key, kind)`` in the map, ``kind`` a class or its name."""
        if type(field) is not tuple or len(field) != 2:
            return False
        key, kind = field
        name = kind if isinstance(kind, str) else getattr(kind, "KIND", None)
        try:
            return (key, name) in self._store
        except TypeError:
            return False

    def __len__(self) -> int:
        return len(self._store)

    # -- store operations -------------------------------------------------------------------

    @classmethod
    def _s_copy(cls, s: _Store) -> _Store:
        return {f: _KINDS[f[1]]._s_copy(sub) for f, sub in s.items()}

    @classmethod
    def _s_dots(cls, s: _Store) -> Iterator[Dot]:
        for f, sub in s.items():
            yield from _KINDS[f[1]]._s_dots(sub)

    @classmethod
    def _s_join(cls, s: _Store, cc: CausalContext, os: _Store, occ: CausalContext) -> _Store:
        if s and occ and cls._removals(len(s), cc, os, occ) != set():
            for f in [f for f in s if f not in os]:
                kind = _KINDS[f[1]]
                sub = kind._s_join(s[f], cc, kind._s_bottom(), occ)
                if sub:
                    s[f] = sub
                else:
                    del s[f]
        for f, osub in os.items():
            kind = _KINDS[f[1]]
            sub = s.get(f)
            sub = kind._s_join(kind._s_bottom() if sub is None else sub, cc, osub, occ)
            if sub:
                s[f] = sub
            else:
                s.pop(f, None)
        return s

    @classmethod
    def _s_singletons(cls, s: _Store) -> Iterator[tuple[Dot, Any]]:
        for f, sub in s.items():
            for d, one in _KINDS[f[1]]._s_singletons(sub):
                yield d, {f: one}

    @classmethod
    def _s_restrict(cls, s: _Store, keep: set[Dot]) -> _Store:
        out: _Store = {}
        for f, sub in s.items():
            r = _KINDS[f[1]]._s_restrict(sub, keep)
            if r:
                out[f] = r
        return out

    @classmethod
    def _s_value(cls, s: _Store) -> dict[_Field, Any]:
        return {f: _KINDS[f[1]]._s_value(sub) for f, sub in s.items()}

    @classmethod
    def _s_check(cls, s: _Store) -> None:
        if _depth(s) > MAX_NESTING:
            raise DecodeError(f"ORMaps nested deeper than {MAX_NESTING}")

    @classmethod
    def _s_encode(cls, s: _Store, w: Writer) -> Any:
        out: list[Any] = []
        for (key, name), sub in w.ordered_items(s):
            kind = _KINDS[name]
            out.append(key)
            out.append(_TAG_OF[name])
            out.append(kind._s_encode(sub, w))
        return out

    @classmethod
    def _s_decode(cls, obj: Any, r: Reader) -> _Store:
        flat = r.array(obj)
        if len(flat) % 3:
            raise DecodeError("ORMap entries come in threes")
        s: _Store = {}
        for i in range(0, len(flat), 3):
            key = r.value(flat[i])
            tag = flat[i + 1]
            kind = _BY_TAG.get(tag) if type(tag) is int else None
            if kind is None:
                raise DecodeError(f"unknown ORMap value type {tag!r:.20}")
            sub = kind._s_decode(flat[i + 2], r)
            if not sub:
                raise DecodeError("ORMap field with an empty value")
            field = (key, kind.KIND)
            if field in s:
                raise DecodeError("ORMap field appears twice")
            s[field] = sub
        return s


_KINDS: dict[str, type[Causal]] = {
    k.KIND: k for k in (ORSet, CausalCounter, MVRegister, LWWRegister, ORMap)
}
_TAG_OF: dict[str, int] = {name: TAGS[k.__name__] for name, k in _KINDS.items()}
_BY_TAG: dict[int, type[Causal]] = {TAGS[k.__name__]: k for k in _KINDS.values()}


MAX_NESTING = 32
"""ORMaps nest at most this deep on the wire (a deeper one from a peer is a DecodeError, so that
merging what a peer sent can never exhaust the stack)."""


def _depth(s: _Store) -> int:
    return 1 + max((_depth(sub) for (_, name), sub in s.items() if name == "ormap"), default=0)


def _kind_name(kind: object) -> str:
    name = getattr(kind, "KIND", None)
    if not isinstance(name, str) or _KINDS.get(name) is not kind:
        raise UsageError(
            f"an ORMap value type is one of {', '.join(k.__name__ for k in _KINDS.values())}"
        )
    return name


_enc, _dec = causal_codec(ORMap)
register(ORMap, tag=TAGS["ORMap"], version=1, encode=_enc, decode=_dec)
