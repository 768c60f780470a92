"""Dots and the causal context: a version vector **plus a dot cloud** (gaps allowed).

Theory of operation (Almeida, Shoker, Baquero, "Delta state replicated data types", JPDC 2018,
§5-6). Every causal CRDT (``ORSet``, ``MVRegister``, ``LWWRegister``, ``CausalCounter``,
``ORMap``, ``AWLWWMap``) is a pair *(dot store, causal context)*:

- a **dot** ``(replica, counter)`` names one event (an add, a set, a put); counters start at 1;
- the **causal context** is the set of every dot the state has *seen*; the dot store holds the
  dots that are still *live*. A dot seen but not live was removed (or superseded). Joining two
  states keeps a live dot iff both hold it, or one holds it and the other never saw it.

A context is stored compactly as ``vv`` (a version vector: ``vv[r] == n`` means dots ``(r, 1..n)``
are all in) plus ``cloud`` (``cloud[r]`` the counters of ``r`` seen beyond a gap). Deltas and
decomposition elements carry contexts with gaps (only the dots they hold), which is what makes
shipping a *part* of a state safe: a context never claims a dot its state did not see, so merging
any subset of a peer's decomposition never deletes a key the receiver has and the peer never saw.

Invariant (kept by every method, so ``==`` is structural): ``vv`` has no zero entries; every
``cloud[r]`` is a non-empty set of counters ``> vv.get(r, 0) + 1``. Code that edits ``vv`` or
``cloud`` directly (hot paths of the types) must restore it, e.g. by calling :meth:`compact`.

Stable API used by the other types (and by ``AWLWWMap``): :data:`Dot`, :class:`CausalContext`
with the attributes ``vv`` and ``cloud`` and the methods ``contains``/``in``, ``add``,
``next_dot``, ``make_dot``, ``compact``, ``join``/``merge``, ``leq``, ``restrict``,
``from_dots``, ``subtract``, ``dots``, ``copy``. ``CausalContext`` is itself a lattice (sets of
dots under union) and follows the full CRDT contract, so it has a codec tag of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TypeAlias

from crdts._errors import UsageError
from crdts._lattice import Lattice

__all__ = ["CausalContext", "Dot"]

Dot: TypeAlias = tuple[str, int]
"""``(replica id, counter)``: the identity of one event. Counters start at 1."""


class CausalContext(Lattice):
    """A set of dots: a version vector ``vv`` plus a dot cloud ``cloud`` (gaps allowed).

    ``CausalContext()`` is the empty context (bottom). Mutating methods work in place;
    ``join``, ``restrict``, ``subtract`` and ``from_dots`` build new contexts.
    """

    __slots__ = ("cloud", "vv")

    vv: dict[str, int]
    cloud: dict[str, set[int]]
    __hash__ = None  # type: ignore[assignment]

    def __init__(
        self, vv: Mapping[str, int] | None = None, dots: Iterable[Dot] | None = None
    ) -> None:
        self.vv = {}
        self.cloud = {}
        if vv:
            for r, n in vv.items():
                if type(r) is not str or type(n) is not int or n < 0:
                    raise UsageError(f"version vector entry {r!r}: {n!r} is not (str, int >= 0)")
                if n:
                    self.vv[r] = n
        if dots is not None:
            for d in dots:
                _check_dot(d)
                self.add(d)

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def from_dots(cls, dots: Iterable[Dot]) -> CausalContext:
        """The context holding exactly ``dots`` (unchecked: dots must be ``(str, int >= 1)``)."""
        cc = cls.__new__(cls)
        vv: dict[str, int] = {}
        cloud: dict[str, set[int]] = {}
        cc.vv, cc.cloud = vv, cloud
        for r, c in dots:
            s = cloud.get(r)
            if s is None:
                cloud[r] = {c}
            else:
                s.add(c)
        for r in list(cloud):
            _compact_one(vv, cloud, r)
        return cc

    def copy(self) -> CausalContext:
        cc = CausalContext.__new__(CausalContext)
        cc.vv = self.vv.copy()
        cc.cloud = {r: s.copy() for r, s in self.cloud.items()}
        return cc

    # -- queries ------------------------------------------------------------------------------

    def contains(self, dot: Dot) -> bool:
        """Whether ``dot`` was seen."""
        r, c = dot
        if c <= self.vv.get(r, 0):
            return True
        s = self.cloud.get(r)
        return s is not None and c in s

    __contains__ = contains

    def max_counter(self, replica: str) -> int:
        """The largest counter of ``replica`` seen (0 if none)."""
        s = self.cloud.get(replica)
        return max(s) if s else self.vv.get(replica, 0)

    def next_dot(self, replica: str) -> Dot:
        """A fresh dot for ``replica``: one past the largest counter seen. Does not add it."""
        return (replica, self.max_counter(replica) + 1)

    def make_dot(self, replica: str) -> Dot:
        """:meth:`next_dot` and :meth:`add` in one step (the usual way a mutator gets its dot)."""
        vv = self.vv
        if replica not in self.cloud:
            c = vv.get(replica, 0) + 1
            vv[replica] = c
            return (replica, c)
        dot = self.next_dot(replica)
        self.add(dot)
        return dot

    def dots(self) -> Iterator[Dot]:
        """Every dot in the context (the version vector expanded: may be long)."""
        for r, n in self.vv.items():
            for c in range(1, n + 1):
                yield (r, c)
        for r, s in self.cloud.items():
            for c in sorted(s):
                yield (r, c)

    def __len__(self) -> int:
        return sum(self.vv.values()) + sum(len(s) for s in self.cloud.values())

    def __bool__(self) -> bool:
        return bool(self.vv) or bool(self.cloud)

    def is_bottom(self) -> bool:
        return not self.vv and not self.cloud

    # -- mutation ---------------------------------------------------------------------------

    def add(self, dot: Dot) -> None:
        """Record ``dot`` as seen (unchecked: ``dot`` must be ``(str, int >= 1)``)."""
        r, c = dot
        vv = self.vv
        n = vv.get(r, 0)
        if c <= n:
            return
        if c == n + 1:
            vv[r] = c
            if r in self.cloud:
                _compact_one(vv, self.cloud, r)
            return
        s = self.cloud.get(r)
        if s is None:
            self.cloud[r] = {c}
        else:
            s.add(c)

    def compact(self) -> CausalContext:
        """Restore the invariant after direct edits of ``vv``/``cloud``: fold cloud runs that
        continue the version vector into it, drop counters it covers. Returns ``self``."""
        vv = self.vv
        for r in [r for r, n in vv.items() if n <= 0]:
            del vv[r]
        for r in list(self.cloud):
            _compact_one(vv, self.cloud, r)
        return self

    def merge(self, other: CausalContext) -> None:
        """In place: ``self := self | other``."""
        vv, cloud = self.vv, self.cloud
        touched: list[str] = []
        for r, n in other.vv.items():
            if n > vv.get(r, 0):
                vv[r] = n
                if r in cloud:
                    touched.append(r)
        for r, os in other.cloud.items():
            s = cloud.get(r)
            if s is None:
                cloud[r] = os.copy()
            else:
                s |= os
            touched.append(r)
        for r in touched:
            if r in cloud:
                _compact_one(vv, cloud, r)

    # -- lattice ------------------------------------------------------------------------------

    def leq(self, other: CausalContext) -> bool:
        """Whether every dot of ``self`` is in ``other``."""
        ovv, ocloud = other.vv, other.cloud
        for r, n in self.vv.items():
            on = ovv.get(r, 0)
            if n > on:
                s = ocloud.get(r)
                if s is None or len(s) < n - on:
                    return False
                if any(c not in s for c in range(on + 1, n + 1)):
                    return False
        for r, s in self.cloud.items():
            on = ovv.get(r, 0)
            os = ocloud.get(r, _EMPTY)
            if any(c > on and c not in os for c in s):
                return False
        return True

    def restrict(self, dots: Iterable[Dot]) -> CausalContext:
        """The context of those ``dots`` that ``self`` contains (what a part of a state claims)."""
        return CausalContext.from_dots(d for d in dots if self.contains(d))

    def subtract(self, other: CausalContext) -> CausalContext:
        """The dots of ``self`` not in ``other``."""
        out: list[Dot] = []
        whole: dict[str, int] = {}  # replicas other has never seen: copy the vv entry as is
        ovv, ocloud = other.vv, other.cloud
        for r, n in self.vv.items():
            on = ovv.get(r, 0)
            if n > on:
                os = ocloud.get(r, _EMPTY)
                if on == 0 and not os:
                    whole[r] = n
                else:
                    out.extend((r, c) for c in range(on + 1, n + 1) if c not in os)
        for r, s in self.cloud.items():
            on = ovv.get(r, 0)
            os = ocloud.get(r, _EMPTY)
            out.extend((r, c) for c in s if c > on and c not in os)
        cc = CausalContext.from_dots(out)
        if whole:
            cc.vv.update(whole)
            for r in whole:
                if r in cc.cloud:
                    _compact_one(cc.vv, cc.cloud, r)
        return cc

    def decompose(self) -> list[CausalContext]:
        """The irreducible decomposition: one single-dot context per dot."""
        return [CausalContext.from_dots((d,)) for d in self.dots()]

    def diff(self, other: CausalContext) -> CausalContext:
        """The minimal delta: the dots of ``self`` that ``other`` lacks."""
        return self.subtract(other)

    @property
    def value(self) -> frozenset[Dot]:
        return frozenset(self.dots())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CausalContext):
            return NotImplemented
        return self.vv == other.vv and self.cloud == other.cloud

    def __repr__(self) -> str:
        cloud = {r: sorted(s) for r, s in sorted(self.cloud.items())}
        return f"CausalContext(vv={dict(sorted(self.vv.items()))!r}, cloud={cloud!r})"


_EMPTY: frozenset[int] = frozenset()


def _compact_one(vv: dict[str, int], cloud: dict[str, set[int]], r: str) -> None:
    s = cloud[r]
    n = vv.get(r, 0)
    while n + 1 in s:
        n += 1
        s.discard(n)
    if n:
        vv[r] = n
    if s and min(s) <= n:
        s.difference_update([c for c in s if c <= n])
    if not s:
        del cloud[r]


def _check_dot(d: object) -> None:
    if (
        type(d) is not tuple
        or len(d) != 2
        or type(d[0]) is not str
        or type(d[1]) is not int
        or d[1] < 1
    ):
        raise UsageError(f"a dot is (replica: str, counter: int >= 1), not {d!r}")
