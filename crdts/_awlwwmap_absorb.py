"""``AWLWWMap.absorb`` for the deltas a node receives most: one record plus a few dots.

Theory of operation. A put's delta is one record ``rec`` (dot ``(r, c)``) under one key whose
context is that dot plus the dots of the entries the put superseded, ``S`` (usually none or one).
Against a receiver ``x`` (store ``xs``, context ``xc``) everything ``leq``, ``diff`` and
``merge`` would compute follows from a handful of dot lookups:

- ``new``: ``(r, c)`` not in ``xc`` (the record joins ``x``);
- for each ``s`` in ``S``: unseen by ``x`` (it joins ``xc``), or seen and held by ``x`` (the
  entry dies: ``d`` saw it and dropped it), or seen and not held (nothing);
- ``d <= x`` iff not ``new``, no ``s`` unseen and none held (one lookup when ``S`` is empty);
- the minimal delta ``d.diff(x)`` is the record if ``new``, with the context of the dots that
  were unseen or held: all of ``d`` (returned as ``d`` itself) in the usual case.

A dot names one entry of one key, so an ``s`` is looked for under ``d``'s key first (where a
put's superseded entries are); only a seen ``s`` not found there (a duplicate delivery, or a
delta that also removed entries of other keys) needs the rest of the store: scanned when small,
else through the dot -> key index ``_dix`` (built here when missing, as ``_merge`` builds it).
A delta of several records (a small cart's state or diff, as catch-up ships them) takes the same
rules per record (:func:`absorb_few`, at most ``FEW_STATE`` dots in all). Anything else (a
bigger context, a record whose dot its context lacks) is left to the general code
(:data:`NOT_MINE`).

The compiled ``absorb_put`` (``crdts/_speedups_absorb.c``) does the same for the common cases
and answers ``NotImplemented`` for the rest, which then come here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crdts._causal import CausalContext, Dot

if TYPE_CHECKING:
    from crdts._awlwwmap import AWLWWMap

__all__ = ["FEW", "FEW_STATE", "NOT_MINE", "SCAN", "absorb_few", "absorb_put"]

FEW = 8
"""The most dots a delta's context may hold for the fused path (a put that superseded up to
seven concurrent entries)."""

FEW_STATE = 16
"""The most dots of a delta with several records for :func:`absorb_few` (a small cart's state or
diff: its entries and the dots they superseded)."""

SCAN = 32
"""Stores up to this many keys are scanned for a superseded dot held under another key; bigger
ones use (and build) the dot -> key index."""

NOT_MINE: Any = object()
"""What :func:`absorb_put` returns for a shape it does not take (nothing was changed)."""


def few_dots(cc: CausalContext, few: int = FEW) -> list[Dot] | None:
    """The dots of ``cc`` in order, or ``None`` when there are more than ``few``."""
    out: list[Dot] = []
    for r, n in cc.vv.items():
        if n + len(out) > few:
            return None
        out += [(r, i) for i in range(1, n + 1)]
    for r, s in cc.cloud.items():
        b = s._b
        if len(b) > 2 * few:
            return None
        for i in range(0, len(b), 2):
            lo = b[i]
            hi = b[i + 1]
            if hi - lo == 1:  # the usual run: one dot
                out.append((r, lo))
            elif hi - lo + len(out) > few:
                return None
            else:
                out += [(r, c) for c in range(lo, hi)]
    return out if len(out) <= few else None


def _has(cc: CausalContext, r: str, c: int) -> bool:
    if c <= cc.vv.get(r, 0):
        return True
    s = cc.cloud.get(r)
    return s is not None and c in s


def _recs(v: Any) -> tuple[Any, ...]:
    return (v,) if v[0].__class__ is str else v


def _slot(recs: list[Any]) -> Any:
    # as _awlwwmap._slot: canonical, so == is structural
    if not recs:
        return None
    if len(recs) == 1:
        return recs[0]
    recs.sort(key=lambda q: (q[0], q[1]))
    return tuple(recs)


def _held_elsewhere(m: AWLWWMap, rest: set[Dot]) -> list[tuple[Any, Dot]]:
    """``(key, dot)`` for each dot of ``rest`` that ``m`` holds (under a key not looked at yet):
    a scan of a small store, else through the dot -> key index (built when missing)."""
    xs = m._store
    out: list[tuple[Any, Dot]] = []
    dix = m._dix
    if dix is None and len(xs) > SCAN:
        dix = m._build_index()
    if dix is None:
        counters = {dot[1] for dot in rest}  # an int test first: most entries fail it
        for k2, v2 in xs.items():
            if v2[0].__class__ is str:
                if v2[1] in counters and (v2[0], v2[1]) in rest:
                    out.append((k2, (v2[0], v2[1])))
                continue
            for q in v2:
                if q[1] in counters and (q[0], q[1]) in rest:
                    out.append((k2, (q[0], q[1])))
        return out
    for dot in rest:
        mm = dix.get(dot[0])
        if mm is None or dot[1] not in mm:
            continue
        k2 = mm[dot[1]]
        v2 = xs.get(k2)  # the index may be stale: the store decides
        if v2 is not None and any(q[:2] == dot for q in _recs(v2)):
            out.append((k2, dot))
    return out


def absorb_put(m: AWLWWMap, d: AWLWWMap) -> Any:
    """``m.absorb(d)`` when ``d`` is one record plus at most :data:`FEW` dots (``d``'s context
    holding the record's dot), else :data:`NOT_MINE` with nothing changed."""
    ds = d._store
    if len(ds) != 1:
        return NOT_MINE
    ((key, rec),) = ds.items()
    r = rec[0]
    if r.__class__ is not str:
        return NOT_MINE  # concurrent records
    c = rec[1]
    dots = few_dots(d._cc)
    if dots is None:
        return NOT_MINE
    xc = m._cc
    xs = m._store
    xvv = xc.vv
    xcloud = xc.cloud
    own = False
    unseen: list[Dot] = []
    seen: set[Dot] = set()
    for dot in dots:
        q, n = dot
        if n == c and q == r:
            own = True
        elif n <= xvv.get(q, 0) or (q in xcloud and n in xcloud[q]):  # seen (_has, inline)
            seen.add(dot)
        else:
            unseen.append(dot)
    if not own:
        return NOT_MINE  # a record whose dot its context lacks: not a state we make
    new = not _has(xc, r, c)
    # the seen dots x still holds: under d's key first, then (rarely) anywhere else
    xv = xs.get(key)
    here: list[Dot] = []
    if seen and xv is not None:
        if xv[0].__class__ is str:
            if (xv[0], xv[1]) in seen:
                here = [(xv[0], xv[1])]
        else:
            here = [(q[0], q[1]) for q in xv if (q[0], q[1]) in seen]
    elsewhere = _held_elsewhere(m, seen.difference(here)) if len(here) < len(seen) else []
    if not new and not unseen and not here and not elsewhere:
        return None  # d <= x
    # apply: d's key, then any other key holding a dot d saw and dropped, then the context
    if new or here:
        kill = set(here)
        recs = [q for q in _recs(xv) if q[:2] not in kill] if xv is not None else []
        if new:
            recs.append(rec)
        v = _slot(recs)
        if v is None:
            del xs[key]
        else:
            xs[key] = v
        dix = m._dix
        if new and dix is not None:
            m._index_add(dix, rec, key)
    for k2, dot in elsewhere:
        v = _slot([q for q in _recs(xs[k2]) if q[:2] != dot])
        if v is None:
            del xs[k2]
        else:
            xs[k2] = v
    for dot in unseen:
        xc.add(dot)
    if new:
        xc.add((r, c))
    if new and len(here) + len(elsewhere) == len(seen):
        return d  # all of d was new (the usual case)
    held = [*here, *(dot for _, dot in elsewhere)]
    out = [*unseen, *held, (r, c)] if new else [*unseen, *held]
    return d._make({key: rec} if new else {}, CausalContext.from_dots(out))


def absorb_few(m: AWLWWMap, d: AWLWWMap) -> Any:
    """``m.absorb(d)`` when ``d`` holds at most :data:`FEW_STATE` dots in all (records of any keys,
    concurrent ones included, and the dots they superseded: a small cart's state or diff, as
    catch-up ships them), each record's dot among them; else :data:`NOT_MINE`, nothing
    changed. The rules of :func:`absorb_put`, per record."""
    ds = d._store
    if not ds or len(ds) > FEW_STATE:
        return NOT_MINE
    dots = few_dots(d._cc, FEW_STATE)
    if dots is None:
        return NOT_MINE
    xc = m._cc
    xs = m._store
    xvv = xc.vv
    xcloud = xc.cloud
    held_d: dict[Dot, tuple[Any, Any]] = {}  # d's records by dot, with their key
    for key, v in ds.items():
        for q in _recs(v):
            held_d[(q[0], q[1])] = (key, q)
    if len(held_d) > len(dots):
        return NOT_MINE
    new: list[Dot] = []  # d's records x never saw
    unseen: list[Dot] = []  # dots d dropped that x never saw
    seen: set[Dot] = set()  # dots d dropped that x saw (it may still hold them)
    n_held = 0
    for dot in dots:
        q, n = dot
        was = n <= xvv.get(q, 0) or (q in xcloud and n in xcloud[q])
        if dot in held_d:
            n_held += 1
            if not was:
                new.append(dot)
        elif was:
            seen.add(dot)
        else:
            unseen.append(dot)
    if n_held != len(held_d):
        return NOT_MINE  # a record whose dot its context lacks: not a state we make
    kill: dict[Any, set[Dot]] = {}  # key -> the dots d dropped that x holds there
    found = 0
    if seen:
        for key in ds:
            xv = xs.get(key)
            if xv is None:
                continue
            for q in _recs(xv):
                dot = (q[0], q[1])
                if dot in seen:
                    kill.setdefault(key, set()).add(dot)
                    found += 1
        if found < len(seen):
            rest = seen.difference(*kill.values())
            for k2, dot in _held_elsewhere(m, rest):
                kill.setdefault(k2, set()).add(dot)
                found += 1
    if not new and not unseen and not found:
        return None  # d <= x
    adds: dict[Any, list[Any]] = {}
    for dot in new:
        key, q = held_d[dot]
        adds.setdefault(key, []).append(q)
    dix = m._dix
    for key in {*adds, *kill}:
        xv = xs.get(key)
        gone = kill.get(key, ())
        recs = [q for q in _recs(xv) if (q[0], q[1]) not in gone] if xv is not None else []
        mine = adds.get(key)
        if mine:
            recs += mine
            if dix is not None:
                for q in mine:
                    m._index_add(dix, q, key)
                dix = m._dix  # _index_add may drop a stale index
        v = _slot(recs)
        if v is not None:
            xs[key] = v
        elif xv is not None:
            del xs[key]
    for dot in unseen:
        xc.add(dot)
    for dot in new:
        xc.add(dot)
    if len(new) == len(held_d) and found == len(seen):
        return d  # all of d was new
    store = {key: _slot(list(qs)) for key, qs in adds.items()}
    killed = [dot for dots_ in kill.values() for dot in dots_]
    return d._make(store, CausalContext.from_dots([*unseen, *killed, *new]))
