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
Any other shape (several records, concurrent records, a context of more than ``FEW`` dots, a
record whose dot its context lacks) is left to the general code (:data:`NOT_MINE`).

The compiled ``absorb_put`` (``crdts/_speedups_absorb.c``) does the same for the common cases
and answers ``NotImplemented`` for the rest, which then come here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crdts._causal import CausalContext, Dot

if TYPE_CHECKING:
    from crdts._awlwwmap import AWLWWMap

__all__ = ["FEW", "NOT_MINE", "SCAN", "absorb_put"]

FEW = 8
"""The most dots a delta's context may hold for the fused path (a put that superseded up to
seven concurrent entries)."""

SCAN = 32
"""Stores up to this many keys are scanned for a superseded dot held under another key; bigger
ones use (and build) the dot -> key index."""

NOT_MINE: Any = object()
"""What :func:`absorb_put` returns for a shape it does not take (nothing was changed)."""


def few_dots(cc: CausalContext) -> list[Dot] | None:
    """The dots of ``cc`` in order, or ``None`` when there are more than :data:`FEW`."""
    out: list[Dot] = []
    for r, n in cc.vv.items():
        if n + len(out) > FEW:
            return None
        out += [(r, i) for i in range(1, n + 1)]
    for r, s in cc.cloud.items():
        b = s._b
        if len(b) > 2 * FEW:
            return None
        for i in range(0, len(b), 2):
            lo = b[i]
            hi = b[i + 1]
            if hi - lo == 1:  # the usual run: one dot
                out.append((r, lo))
            elif hi - lo + len(out) > FEW:
                return None
            else:
                out += [(r, c) for c in range(lo, hi)]
    return out if len(out) <= FEW else None


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
    elsewhere: list[tuple[Any, Dot]] = []
    if len(here) < len(seen):
        rest = seen.difference(here)
        dix = m._dix
        if dix is None and len(xs) > SCAN:
            dix = m._build_index()
        if dix is None:
            counters = {dot[1] for dot in rest}  # an int test first: most entries fail it
            for k2, v2 in xs.items():
                if v2[0].__class__ is str:
                    if v2[1] in counters and (v2[0], v2[1]) in rest:
                        elsewhere.append((k2, (v2[0], v2[1])))
                    continue
                for q in v2:
                    if q[1] in counters and (q[0], q[1]) in rest:
                        elsewhere.append((k2, (q[0], q[1])))
        else:
            for dot in rest:
                mm = dix.get(dot[0])
                if mm is None or dot[1] not in mm:
                    continue
                k2 = mm[dot[1]]
                v2 = xs.get(k2)  # the index may be stale: the store decides
                if v2 is not None and any(q[:2] == dot for q in _recs(v2)):
                    elsewhere.append((k2, dot))
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
