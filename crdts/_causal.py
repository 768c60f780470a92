"""Dots and the causal context: a version vector **plus a dot cloud** (gaps allowed).

Theory of operation (Almeida, Shoker, Baquero, "Delta state replicated data types", JPDC 2018,
§5-6). Every causal CRDT (``ORSet``, ``MVRegister``, ``LWWRegister``, ``CausalCounter``,
``ORMap``, ``AWLWWMap``) is a pair *(dot store, causal context)*:

- a **dot** ``(replica, counter)`` names one event (an add, a set, a put); counters start at 1;
- the **causal context** is the set of every dot the state has *seen*; the dot store holds the
  dots that are still *live*. A dot seen but not live was removed (or superseded). Joining two
  states keeps a live dot iff both hold it, or one holds it and the other never saw it.

A context is stored compactly as ``vv`` (a version vector: ``vv[r] == n`` means dots ``(r, 1..n)``
are all in) plus ``cloud`` (``cloud[r]`` the counters of ``r`` seen beyond a gap, a
:class:`Counters`: sorted disjoint *runs* ``[lo, hi)``, so a gap-free stretch of any length is
two numbers). Deltas and
decomposition elements carry contexts with gaps (only the dots they hold), which is what makes
shipping a *part* of a state safe: a context never claims a dot its state did not see, so merging
any subset of a peer's decomposition never deletes a key the receiver has and the peer never saw.

**Cost is in intervals, never in events.** A peer holding the cluster key may send a context
claiming ``10**12`` events of a replica in a few bytes (issue 12). Every operation a receiver
runs on contexts (``contains``, ``add``, ``merge``, ``leq``, ``subtract``/``diff``, ``restrict``,
``len``, the codec) costs O(runs held) (times a log), however many events the runs stand for:
``subtract`` of ``vv[r] == 10**12`` from ``vv[r] == 5`` is the one run ``[6, 10**12 + 1)``.
Only what is by definition a list of dots is not: ``dots()``, ``value``, ``decompose()`` (one
element per dot); the sync engine never calls them on a received object.

Invariant (kept by every method, so ``==`` is structural): ``vv`` has no zero entries; every
``cloud[r]`` is a non-empty :class:`Counters` whose smallest counter is ``> vv.get(r, 0) + 1``.
Code that edits ``vv`` or ``cloud`` directly (hot paths of the types) must restore it, e.g. by
calling :meth:`compact`.

Stable API used by the other types (and by ``AWLWWMap``): :data:`Dot`, :class:`CausalContext`
with the attributes ``vv`` and ``cloud`` and the methods ``contains``/``in``, ``add``,
``next_dot``, ``make_dot``, ``compact``, ``join``/``merge``, ``leq``, ``restrict``,
``from_dots``, ``subtract``, ``dots``, ``copy``. A ``cloud[r]`` behaves as a set of ints
(``in``, ``len``, iteration in order, ``add``, ``discard``, ``copy``, ``==`` with a ``set``) and
adds the run operations (``runs()``, ``first()``, ``last()``, ``add_run``, ``remove_run``,
``covers``, ``|=``, ``-``). ``CausalContext`` is itself a lattice (sets of
dots under union) and follows the full CRDT contract, so it has a codec tag of its own.
"""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, MutableSequence
from typing import TypeAlias, cast

from crdts._errors import UsageError
from crdts._lattice import Lattice

__all__ = ["CausalContext", "Counters", "Dot"]

Dot: TypeAlias = tuple[str, int]
"""``(replica id, counter)``: the identity of one event. Counters start at 1."""


_new = object.__new__
_PACK = 64  # bounds from which a Counters keeps them in a packed array


def _clamp(n: int) -> int:
    # len() must fit in a C ssize_t; a context may claim more events than that
    return n if n < sys.maxsize else sys.maxsize


class Counters:
    """A set of ints kept as sorted, disjoint, non-adjacent runs ``[lo, hi)`` (flat ``_b``:
    ``[lo0, hi0, lo1, hi1, ...]``). Membership and one-run edits cost O(log runs); unions and
    differences O(runs). Iterating yields every int (as many as it holds): use :meth:`runs`."""

    __slots__ = ("_b",)
    __hash__ = None  # type: ignore[assignment]

    # a list while short (the mutators' one-run deltas: fast to build), a packed array of
    # unsigned 64-bit bounds once long (8 bytes a bound instead of ~36: a peer's dense cloud)
    _b: MutableSequence[int]

    def __init__(self, items: Iterable[int] = ()) -> None:
        b: list[int] = []
        for c in sorted(set(items)):
            if b and b[-1] == c:
                b[-1] = c + 1
            else:
                b.append(c)
                b.append(c + 1)
        self._b = array("Q", b) if len(b) >= _PACK else b

    @staticmethod
    def from_sorted(cs: Iterable[int]) -> Counters:
        """The set of ``cs``, given in strictly increasing order (unchecked), in one pass."""
        b: list[int] = []
        hi = -1
        for c in cs:
            if c == hi:
                hi += 1
            else:
                if hi >= 0:
                    b.append(hi)
                b.append(c)
                hi = c + 1
        if hi >= 0:
            b.append(hi)
        return Counters._of(b)

    @staticmethod
    def run(lo: int, hi: int) -> Counters:
        """The ints ``lo..hi-1`` (empty if ``hi <= lo``). On the hot path of every mutator."""
        x = _new(Counters)
        x._b = [lo, hi] if lo < hi else []
        return x

    @staticmethod
    def _of(b: MutableSequence[int]) -> Counters:
        x = _new(Counters)
        x._b = array("Q", b) if len(b) >= _PACK and b.__class__ is list else b
        return x

    # -- set protocol ---------------------------------------------------------------------------

    def __contains__(self, c: object) -> bool:
        return bool(bisect_right(self._b, c) & 1)  # type: ignore[call-overload]

    def __len__(self) -> int:
        return _clamp(self.count())

    def count(self) -> int:
        """How many ints (may exceed what ``len()`` can return)."""
        b = self._b
        return sum(b[1::2]) - sum(b[0::2])

    def __bool__(self) -> bool:
        return bool(self._b)

    def __iter__(self) -> Iterator[int]:
        b = self._b
        for i in range(0, len(b), 2):
            yield from range(b[i], b[i + 1])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Counters):
            a, b = self._b, other._b
            return a == b if a.__class__ is b.__class__ else len(a) == len(b) and list(a) == list(b)
        if isinstance(other, set | frozenset):
            return self.count() == len(other) and all(c in self for c in other)
        return NotImplemented

    def copy(self) -> Counters:
        x = _new(Counters)
        x._b = self._b[:]
        return x

    def add(self, c: int) -> None:
        self.add_run(c, c + 1)

    def discard(self, c: int) -> None:
        self.remove_run(c, c + 1)

    def update(self, items: Iterable[int]) -> None:
        for c in items:
            self.add_run(c, c + 1)

    def __ior__(self, other: Counters) -> Counters:
        if len(other._b) * 8 < len(self._b):  # a few runs into many: insert them one by one
            ob = other._b
            for i in range(0, len(ob), 2):
                self.add_run(ob[i], ob[i + 1])
        else:
            self._b = Counters._of(_union(self._b, other._b))._b
        return self

    def __sub__(self, other: Counters) -> Counters:
        if len(other._b) * 8 < len(self._b):
            out = self.copy()
            ob = other._b
            for i in range(0, len(ob), 2):
                out.remove_run(ob[i], ob[i + 1])
            return out
        return Counters._of(_difference(self._b, other._b))

    # -- runs -----------------------------------------------------------------------------------

    def runs(self) -> Iterator[tuple[int, int]]:
        """The runs ``(lo, hi)``, ascending: ``lo..hi-1`` are in, ``hi`` is not."""
        b = self._b
        for i in range(0, len(b), 2):
            yield b[i], b[i + 1]

    def nruns(self) -> int:
        return len(self._b) // 2

    def first(self) -> int:
        """The smallest int (the set must not be empty)."""
        return self._b[0]

    def last(self) -> int:
        """The largest int (the set must not be empty)."""
        return self._b[-1] - 1

    def covers(self, lo: int, hi: int) -> bool:
        """Whether every int of ``[lo, hi)`` is in."""
        if hi <= lo:
            return True
        b = self._b
        i = bisect_right(b, lo)
        return bool(i & 1) and b[i] >= hi

    def add_run(self, lo: int, hi: int) -> None:
        """Add ``lo..hi-1``."""
        if hi <= lo:
            return
        b = self._b
        i = bisect_left(b, lo)  # a run ending at lo (adjacent) is joined too
        j = bisect_right(b, hi)  # and one starting at hi
        if i & 1:
            i -= 1
            lo = b[i]
        if j & 1:
            hi = b[j]
            j += 1
        b[i:j] = [lo, hi] if b.__class__ is list else array("Q", (lo, hi))

    def remove_run(self, lo: int, hi: int) -> None:
        """Remove ``lo..hi-1``."""
        if hi <= lo:
            return
        b = self._b
        i = bisect_right(b, lo)
        j = bisect_left(b, hi)
        new: list[int] = []
        if i & 1:  # lo falls in a run: its left part stays (unless empty)
            if b[i - 1] == lo:
                i -= 1
            else:
                new.append(lo)
        if j & 1:  # hi falls in a run: its right part stays (unless empty)
            if b[j] == hi:
                j += 1
            else:
                new.append(hi)
        b[i:j] = new if b.__class__ is list else array("Q", new)

    def __repr__(self) -> str:
        parts = [str(lo) if hi == lo + 1 else f"{lo}..{hi - 1}" for lo, hi in self.runs()]
        return "{" + ", ".join(parts) + "}"


def _union(a: MutableSequence[int], b: MutableSequence[int]) -> list[int]:
    runs = sorted(
        [(a[i], a[i + 1]) for i in range(0, len(a), 2)]
        + [(b[i], b[i + 1]) for i in range(0, len(b), 2)]
    )
    out: list[int] = []
    for lo, hi in runs:
        if out and lo <= out[-1]:
            out[-1] = max(out[-1], hi)
        else:
            out.append(lo)
            out.append(hi)
    return out


def _difference(a: MutableSequence[int], b: MutableSequence[int]) -> list[int]:
    """``a - b`` by one sweep over both run lists."""
    out: list[int] = []
    j, m = 0, len(b)
    for i in range(0, len(a), 2):
        lo, hi = a[i], a[i + 1]
        while j < m and b[j + 1] <= lo:
            j += 2
        k = j
        while k < m and b[k] < hi:
            if b[k] > lo:
                out.append(lo)
                out.append(b[k])
            lo = max(lo, b[k + 1])
            if lo >= hi:
                break
            k += 2
        if lo < hi:
            out.append(lo)
            out.append(hi)
    return out


class CausalContext(Lattice):
    """A set of dots: a version vector ``vv`` plus a dot cloud ``cloud`` (gaps allowed).

    ``CausalContext()`` is the empty context (bottom). Mutating methods work in place;
    ``join``, ``restrict``, ``subtract`` and ``from_dots`` build new contexts.
    """

    __slots__ = ("cloud", "vv")

    vv: dict[str, int]
    cloud: dict[str, Counters]
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
        cloud: dict[str, Counters] = {}
        cc.vv, cc.cloud = vv, cloud
        by: dict[str, list[int]] = {}
        for r, c in dots:
            lst = by.get(r)
            if lst is None:
                by[r] = [c]
            else:
                lst.append(c)
        for r, cs in by.items():
            cloud[r] = Counters(cs)
            _compact_one(vv, cloud, r)
        return cc

    @classmethod
    def from_runs(cls, runs: Iterable[tuple[str, int, int]]) -> CausalContext:
        """The context holding the dots ``(r, lo..hi-1)`` of each ``(r, lo, hi)`` (unchecked:
        ``1 <= lo``)."""
        cc = cls.__new__(cls)
        cc.vv, cc.cloud = {}, {}
        for r, lo, hi in runs:
            cc.add_run(r, lo, hi)
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
        return s.last() if s else self.vv.get(replica, 0)

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
        """Every dot in the context (the version vector and the runs expanded: as many as the
        context claims; never called on a received context in the sync engine)."""
        for r, n in self.vv.items():
            for c in range(1, n + 1):
                yield (r, c)
        for r, s in self.cloud.items():
            for c in s:
                yield (r, c)

    def runs(self) -> Iterator[tuple[str, int, int]]:
        """``(replica, lo, hi)``: the dots ``(replica, lo..hi-1)``, one run per version-vector
        entry and per cloud run (what :meth:`dots` lists, in O(runs))."""
        for r, n in self.vv.items():
            yield r, 1, n + 1
        for r, s in self.cloud.items():
            for lo, hi in s.runs():
                yield r, lo, hi

    def chunks(self, max_runs: int) -> Iterator[CausalContext]:
        """Contexts of at most ``max_runs`` runs each whose union is ``self`` (disjoint): how a
        context claiming any number of events is cut into message-sized parts."""
        batch: list[tuple[str, int, int]] = []
        for run in self.runs():
            batch.append(run)
            if len(batch) >= max_runs:
                yield CausalContext.from_runs(batch)
                batch = []
        if batch:
            yield CausalContext.from_runs(batch)

    def __len__(self) -> int:
        return _clamp(self.count())

    def count(self) -> int:
        """How many dots (may exceed what ``len()`` can return)."""
        return sum(self.vv.values()) + sum(s.count() for s in self.cloud.values())

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
            self.cloud[r] = Counters.run(c, c + 1)
        else:
            s.add_run(c, c + 1)

    def add_run(self, replica: str, lo: int, hi: int) -> None:
        """Record the dots ``(replica, lo..hi-1)`` as seen, in O(log runs)."""
        n = self.vv.get(replica, 0)
        if hi <= n + 1:
            return
        s = self.cloud.get(replica)
        if s is None:
            s = self.cloud[replica] = Counters.run(max(lo, n + 1), hi)
        else:
            s.add_run(max(lo, n + 1), hi)
        _compact_one(self.vv, self.cloud, replica)

    def compact(self) -> CausalContext:
        """Restore the invariant after direct edits of ``vv``/``cloud``: fold cloud runs that
        continue the version vector into it, drop counters it covers. Returns ``self``."""
        vv = self.vv
        for r in [r for r, n in vv.items() if n <= 0]:
            del vv[r]
        for r in list(self.cloud):
            s: object = self.cloud[r]
            if not isinstance(s, Counters):  # a plain set of ints put there by hand
                self.cloud[r] = Counters(cast(Iterable[int], s))
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
                if s is None or not s.covers(on + 1, n + 1):
                    return False
        for r, s in self.cloud.items():
            on = ovv.get(r, 0)
            os = ocloud.get(r)
            for lo, hi in s.runs():
                lo = max(lo, on + 1)
                if lo < hi and (os is None or not os.covers(lo, hi)):
                    return False
        return True

    def restrict(self, dots: Iterable[Dot]) -> CausalContext:
        """The context of those ``dots`` that ``self`` contains (what a part of a state claims)."""
        return CausalContext.from_dots(d for d in dots if self.contains(d))

    def subtract(self, other: CausalContext) -> CausalContext:
        """The dots of ``self`` not in ``other``, in O(runs of both) (never per dot)."""
        cc = CausalContext.__new__(CausalContext)
        vv: dict[str, int] = {}
        cloud: dict[str, Counters] = {}
        cc.vv, cc.cloud = vv, cloud
        ovv, ocloud = other.vv, other.cloud
        for r in {**self.vv, **self.cloud}:
            n = self.vv.get(r, 0)
            s = self.cloud.get(r)
            on = ovv.get(r, 0)
            os = ocloud.get(r)
            if on == 0 and os is None:  # other has never seen r: copy as is
                if n:
                    vv[r] = n
                if s is not None:
                    cloud[r] = s.copy()
                continue
            mine = Counters.run(1, n + 1) if n else Counters()
            if s is not None:
                mine |= s
            mine.remove_run(1, on + 1)
            if os is not None:
                mine = mine - os
            if mine:
                cloud[r] = mine
                _compact_one(vv, cloud, r)
        return cc

    def decompose(self) -> list[CausalContext]:
        """The irreducible decomposition: one single-dot context per dot (one element per dot by
        definition: as long as the context claims)."""
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
        cloud = {r: s for r, s in sorted(self.cloud.items())}
        return f"CausalContext(vv={dict(sorted(self.vv.items()))!r}, cloud={cloud!r})"


def _compact_one(vv: dict[str, int], cloud: dict[str, Counters], r: str) -> None:
    """Restore the invariant for replica ``r``: drop cloud counters the version vector covers,
    fold a run that continues it (at most one can: runs are non-adjacent)."""
    s = cloud[r]
    n = vv.get(r, 0)
    b = s._b
    if b and b[0] <= n:
        s.remove_run(b[0], n + 1)
        b = s._b
    if b and b[0] == n + 1:
        n = b[1] - 1
        del b[0:2]
    if n:
        vv[r] = n
    if not b:
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
