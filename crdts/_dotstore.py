"""Dot stores and the base class of every causal CRDT.

Theory of operation (Almeida, Shoker, Baquero, "Delta state replicated data types", JPDC 2018,
§6: "causal δ-CRDTs"). A causal CRDT is a pair *(dot store, causal context)*. Three dot stores
compose every causal type of the package:

- **DotSet**: a set of dots (``ORSet`` keeps one per element: ``dict[elem, set[Dot]]``);
- **DotFun**: ``dict[Dot, V]`` with ``V`` immutable (``MVRegister``: the value;
  ``LWWRegister``: ``(ts, value)``; ``CausalCounter``: the replica's running total);
- **DotMap**: ``dict[K, dot store]`` (``ORSet`` over DotSets, ``ORMap`` over any causal type).

The join of two causal states keeps a dot iff both stores hold it, or one holds it and the other's
context never saw it; contexts join by union. Because every dot identifies one immutable entry,
the lattice is easy to reason about per dot:

- ``x ⊑ y`` iff ``cc(x) ⊆ cc(y)`` and ``y`` holds no dot that ``x`` saw but removed;
- the irreducible decomposition has one element per dot of ``cc(x)``: ``(entry of d, {d})`` for a
  live dot, ``(bottom, {d})`` for a removed one (a "tombstone-free tombstone": the context alone);
- an element ``z`` with dot ``d`` is ``⊑ y`` iff ``d ∈ cc(y)`` (and, for a removed dot, ``d`` is not
  live in ``y``), which gives the minimal ``diff`` without materialising the decomposition.

:class:`Causal` implements the whole contract (``join``/``merge``/``leq``/``==``/``copy``/
``decompose``/``diff``/``value``/codec body) once, in terms of a handful of *store operations*
(``_s_*`` static methods) that each subclass provides for its store shape. :class:`DotFunCausal`
provides them for DotFun-shaped types. ``ORMap`` embeds any :class:`Causal` subclass through the
same operations (``KIND`` names the subclass inside a map).

Invariants of a state (kept by mutators and checked by the decoder): every live dot is in the
context; a dot is live at most once; no store holds an empty entry (so ``==`` is structural).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Self

from crdts._causal import CausalContext, Dot
from crdts._codec import Reader, Writer
from crdts._errors import DecodeError
from crdts._lattice import Lattice

__all__ = ["Causal", "DotFunCausal", "causal_codec"]


class Causal(Lattice):
    """Base of the causal CRDTs: a dot store ``_store`` and a :class:`CausalContext` ``_cc``."""

    __slots__ = ("_cc", "_store")
    __hash__ = None  # type: ignore[assignment]

    KIND: ClassVar[str] = ""
    """The name of this type inside an ``ORMap`` field (``"orset"``, ``"mvregister"``, ...)."""

    _store: Any
    _cc: CausalContext

    def __init__(self) -> None:
        self._store = self._s_bottom()
        self._cc = CausalContext()

    @classmethod
    def _make(cls, store: Any, cc: CausalContext) -> Self:
        x = cls.__new__(cls)
        x._store = store
        x._cc = cc
        return x

    # -- store operations (overridden per store shape) ------------------------------------------

    @classmethod
    def _s_bottom(
        cls,
    ) -> Any:
        return {}

    @classmethod
    def _s_copy(cls, s: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def _s_dots(cls, s: Any) -> Iterator[Dot]:
        raise NotImplementedError

    @classmethod
    def _s_join(cls, s: Any, cc: CausalContext, os: Any, occ: CausalContext) -> Any:
        """The join of stores ``(s, cc)`` and ``(os, occ)``: may reuse (mutate) ``s``, must never
        alias a mutable container of ``os``."""
        raise NotImplementedError

    @classmethod
    def _s_singletons(cls, s: Any) -> Iterator[tuple[Dot, Any]]:
        """Each live dot with the store holding only that dot's entry."""
        raise NotImplementedError

    @classmethod
    def _s_restrict(cls, s: Any, keep: set[Dot]) -> Any:
        """A new store with only the entries whose dot is in ``keep``."""
        raise NotImplementedError

    @classmethod
    def _s_value(cls, s: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def _s_check(cls, s: Any) -> None:
        """Extra validation of a decoded store (raise :class:`DecodeError`)."""

    @classmethod
    def _s_encode(cls, s: Any, w: Writer) -> Any:
        raise NotImplementedError

    @classmethod
    def _s_decode(cls, obj: Any, r: Reader) -> Any:
        """A store from its encoding; must reject empty entries (dots are checked by the caller)."""
        raise NotImplementedError

    @classmethod
    def _removals(
        cls, size: int, cc: CausalContext, os: Any, occ: CausalContext
    ) -> set[Dot] | None:
        """The dots that joining ``(os, occ)`` may remove from a store of ``size`` entries whose
        context is ``cc``: those ``occ`` holds as removed and ``cc`` has seen. ``None`` when
        ``occ`` is too large to enumerate cheaply (then the caller scans its whole store).

        This is what lets a small delta (or one decomposition element) merge into a large state
        without scanning it: most deltas remove nothing the receiver holds."""
        if len(occ) > 4 * size + 64:
            return None
        live = set(cls._s_dots(os))
        return {d for d in occ.dots() if d not in live and cc.contains(d)}

    # -- the contract -------------------------------------------------------------------------

    @property
    def context(self) -> CausalContext:
        """The causal context (read-only: mutating it corrupts the state)."""
        return self._cc

    @property
    def value(self) -> Any:
        return self._s_value(self._store)

    def is_bottom(self) -> bool:
        return not self._store and not self._cc

    def copy(self) -> Self:
        return self._make(self._s_copy(self._store), self._cc.copy())

    def merge(self, other: Self) -> None:
        """In place: ``self := self ⊔ other``."""
        if other is self:
            return
        self._store = self._s_join(self._store, self._cc, other._store, other._cc)
        self._cc.merge(other._cc)

    def leq(self, other: Self) -> bool:
        if not self._cc.leq(other._cc):
            return False
        return not self._removed_but_live_in(other)

    def _removed_but_live_in(self, other: Self) -> set[Dot]:
        """The dots ``self`` has seen and removed that ``other`` still holds live.

        With a small context (a delta, a part), list its removed dots and ask ``other`` about
        those only (``_live_among``: ``ORSet`` answers from its dot index), so a small delta is
        compared with a large state without scanning it; else scan ``other``'s live dots."""
        cc = self._cc
        if len(cc) <= 4 * len(other._store) + 64:
            live = set(self._s_dots(self._store))
            occ = other._cc
            removed = [d for d in cc.dots() if d not in live and occ.contains(d)]
            return other._live_among(removed) if removed else set()
        mine: set[Dot] | None = None
        out: set[Dot] = set()
        for d in other._s_dots(other._store):
            if cc.contains(d):
                if mine is None:
                    mine = set(self._s_dots(self._store))
                if d not in mine:
                    out.add(d)
        return out

    def _live_among(self, dots: list[Dot]) -> set[Dot]:
        """Those of ``dots`` that are live here."""
        live = set(self._s_dots(self._store))
        return {d for d in dots if d in live}

    def decompose(self) -> list[Self]:
        out: list[Self] = []
        live: set[Dot] = set()
        for d, s in self._s_singletons(self._store):
            live.add(d)
            out.append(self._make(s, CausalContext.from_dots((d,))))
        for d in self._cc.dots():
            if d not in live:
                out.append(self._make(self._s_bottom(), CausalContext.from_dots((d,))))
        return out

    def coarse_parts(self, max_runs: int = 1024) -> Iterator[Self]:
        """Parts that join back to ``self``, none claiming a dot it does not carry or has not
        seen: one per live dot (as in :meth:`decompose`), then the removed dots as contexts of
        at most ``max_runs`` runs. What the sync engine splits an oversized object into: unlike
        ``decompose`` it never lists the removed dots one by one (a context may claim 10**12)."""
        live: list[Dot] = []
        for d, s in self._s_singletons(self._store):
            live.append(d)
            yield self._make(s, CausalContext.from_dots((d,)))
        for cc in self._cc.subtract(CausalContext.from_dots(live)).chunks(max_runs):
            yield self._make(self._s_bottom(), cc)

    def diff(self, other: Self) -> Self:
        """The minimal delta ``Δ(self, other)``: ``other ⊔ self.diff(other) == self ⊔ other``."""
        occ, cc = other._cc, self._cc
        out_cc = cc.subtract(occ)
        keep = {d for d in self._s_dots(self._store) if not occ.contains(d)}
        for d in self._removed_but_live_in(other):
            out_cc.add(d)  # we removed it, other still holds it: ship the removal
        store = self._s_restrict(self._store, keep) if keep else self._s_bottom()
        return self._make(store, out_cc)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Causal)
        return bool(self._store == other._store) and self._cc == other._cc

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r}, {self._cc!r})"


class DotFunCausal(Causal):
    """A causal type whose store is a DotFun ``dict[Dot, V]`` (``V`` immutable)."""

    __slots__ = ()

    @classmethod
    def _s_copy(cls, s: dict[Dot, Any]) -> dict[Dot, Any]:
        return s.copy()

    @classmethod
    def _s_dots(cls, s: dict[Dot, Any]) -> Iterator[Dot]:
        return iter(s)

    @classmethod
    def _s_join(
        cls, s: dict[Dot, Any], cc: CausalContext, os: dict[Dot, Any], occ: CausalContext
    ) -> dict[Dot, Any]:
        if s:
            for d in [d for d in s if d not in os and occ.contains(d)]:
                del s[d]
        for d, v in os.items():
            if d not in s and not cc.contains(d):
                s[d] = v
        return s

    @classmethod
    def _s_singletons(cls, s: dict[Dot, Any]) -> Iterator[tuple[Dot, Any]]:
        for d, v in s.items():
            yield d, {d: v}

    @classmethod
    def _s_restrict(cls, s: dict[Dot, Any], keep: set[Dot]) -> dict[Dot, Any]:
        return {d: v for d, v in s.items() if d in keep}

    # DotFun values: subclasses define how one value is encoded and validated.
    @classmethod
    def _v_encode(cls, v: Any, w: Writer) -> Any:
        return v

    @classmethod
    def _v_decode(cls, obj: Any, r: Reader) -> Any:
        return r.value(obj)

    @classmethod
    def _s_encode(cls, s: dict[Dot, Any], w: Writer) -> Any:
        out: list[Any] = []
        ve = cls._v_encode
        for (rep, c), v in sorted(s.items()) if w.canonical else s.items():
            out.append(w.replica(rep))
            out.append(c)
            out.append(ve(v, w))
        return out

    @classmethod
    def _s_decode(cls, obj: Any, r: Reader) -> dict[Dot, Any]:
        flat = r.array(obj)
        if len(flat) % 3:
            raise DecodeError("DotFun entries come in threes")
        vd = cls._v_decode
        s: dict[Dot, Any] = {}
        for i in range(0, len(flat), 3):
            s[(r.replica(flat[i]), r.counter(flat[i + 1]))] = vd(flat[i + 2], r)
        if len(s) * 3 != len(flat):
            raise DecodeError("duplicate dot in a DotFun")
        return s


def causal_codec(cls: type[Causal]) -> tuple[Any, Any]:
    """The body encoder and decoder of a causal type: ``(store, context)``, validated."""

    def enc(x: Causal, w: Writer) -> Any:
        return (cls._s_encode(x._store, w), w.context(x._cc))

    def dec(body: Any, r: Reader, version: int) -> Causal:
        s_obj, cc_obj = r.array(body, 2)
        store = cls._s_decode(s_obj, r)
        cc = r.context(cc_obj)
        check_store(cls, store, cc)
        cls._s_check(store)
        return cls._make(store, cc)

    return enc, dec


def check_store(cls: type[Causal], store: Any, cc: CausalContext) -> None:
    """Raise :class:`DecodeError` unless every live dot is unique and in the context."""
    n = 0
    seen: set[Dot] = set()
    for d in cls._s_dots(store):
        n += 1
        seen.add(d)
        if not cc.contains(d):
            raise DecodeError(f"live dot {d!r} is missing from the causal context")
    if len(seen) != n:
        raise DecodeError("a dot is live twice")
