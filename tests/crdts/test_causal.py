"""The causal context: version vector plus dot cloud, compaction, lattice operations."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crdts import CausalContext, Dot, _causal, decode, encode
from crdts._causal import Counters

dots_st = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(min_value=1, max_value=12)),
    max_size=20,
)


def as_set(cc: CausalContext) -> set[Dot]:
    return set(cc.dots())


def test_compaction_folds_runs_into_the_version_vector() -> None:
    cc = CausalContext()
    for d in [("a", 3), ("a", 1), ("b", 2)]:
        cc.add(d)
    assert cc.vv == {"a": 1} and cc.cloud == {"a": {3}, "b": {2}}
    cc.add(("a", 2))
    assert cc.vv == {"a": 3} and cc.cloud == {"b": {2}}
    assert cc.contains(("a", 3)) and ("b", 2) in cc and ("b", 1) not in cc


def test_next_dot_and_make_dot() -> None:
    cc = CausalContext({"a": 2}, dots=[("a", 5)])
    assert cc.next_dot("a") == ("a", 6) and ("a", 6) not in cc
    assert cc.next_dot("z") == ("z", 1)
    assert cc.make_dot("z") == ("z", 1) and cc.vv["z"] == 1
    assert cc.make_dot("a") == ("a", 6) and ("a", 6) in cc


def test_compact_restores_invariant_after_direct_edits() -> None:
    cc = CausalContext()
    cc.vv["a"] = 2
    cc.cloud["a"] = Counters({1, 3, 4, 6})
    cc.compact()
    assert cc.vv == {"a": 4} and cc.cloud == {"a": {6}}


@given(dots_st, dots_st)
def test_set_semantics(xs: list[Dot], ys: list[Dot]) -> None:
    x, y = CausalContext.from_dots(xs), CausalContext.from_dots(ys)
    assert as_set(x) == set(xs)
    assert as_set(x.join(y)) == set(xs) | set(ys)
    assert as_set(x.subtract(y)) == set(xs) - set(ys)
    assert x.leq(y) == (set(xs) <= set(ys))
    assert as_set(x.restrict(ys)) == set(xs) & set(ys)
    assert len(x) == len(set(xs))
    assert x == CausalContext(dots=reversed(xs))
    assert decode(encode(x)) == x
    m = x.copy()
    m.merge(y)
    assert m == x.join(y) and as_set(x) == set(xs)


# -- runs: a claim costs its runs, never its events (issue 12, finding 5) ---------------------

runs_st = st.lists(st.tuples(st.integers(1, 120), st.integers(1, 40)), max_size=8)


def _counters(runs: list[tuple[int, int]]) -> tuple[Counters, set[int]]:
    c = Counters()
    model: set[int] = set()
    for lo, n in runs:
        c.add_run(lo, lo + n)
        model.update(range(lo, lo + n))
    return c, model


@given(runs_st, runs_st, st.integers(1, 170), st.integers(0, 40), st.booleans())
def test_counters_behave_as_a_set_of_ints(
    xs: list[tuple[int, int]], ys: list[tuple[int, int]], lo: int, n: int, packed: bool
) -> None:
    if packed:  # the packed-array form long run lists take, for short ones too
        saved, _causal._PACK = _causal._PACK, 2
        try:
            _check_counters(xs, ys, lo, n)
        finally:
            _causal._PACK = saved
    else:
        _check_counters(xs, ys, lo, n)


def _check_counters(xs: list[tuple[int, int]], ys: list[tuple[int, int]], lo: int, n: int) -> None:
    x, mx = _counters(xs)
    y, my = _counters(ys)
    assert list(x) == sorted(mx) and len(x) == len(mx) and x == mx
    assert all((c in x) == (c in mx) for c in range(0, 180))
    b = x._b  # runs are sorted, disjoint and never adjacent (so == is structural)
    assert all(b[i] < b[i + 1] for i in range(len(b) - 1))
    u = x.copy()
    u |= y
    assert u == mx | my and u == Counters(mx | my)
    u = Counters._of(_causal._union(x._b, y._b))  # the linear union of run lists
    assert u == mx | my
    assert (x - y) == mx - my
    d = x - y  # built by _of: packed when long
    d.add_run(lo, lo + n)
    assert d == (mx - my) | set(range(lo, lo + n))
    d.remove_run(lo, lo + n + 3)
    assert d == (mx - my) - set(range(lo, lo + n + 3))
    assert x.covers(lo, lo + n) == (set(range(lo, lo + n)) <= mx)
    r = x.copy()
    r.remove_run(lo, lo + n)
    assert r == mx - set(range(lo, lo + n))
    r.add_run(lo, lo + n)
    assert r == mx | set(range(lo, lo + n))


@given(runs_st, runs_st, st.integers(0, 60), st.integers(0, 60))
def test_contexts_with_long_runs_keep_set_semantics_and_round_trip(
    xs: list[tuple[int, int]], ys: list[tuple[int, int]], nx: int, ny: int
) -> None:
    _, mx = _counters(xs)
    _, my = _counters(ys)
    x = CausalContext({"a": nx}) if nx else CausalContext()
    for lo, n in xs:
        x.add_run("a", lo, lo + n)
    y = CausalContext({"a": ny}) if ny else CausalContext()
    for lo, n in ys:
        y.add_run("a", lo, lo + n)
    sx = {("a", c) for c in mx | set(range(1, nx + 1))}
    sy = {("a", c) for c in my | set(range(1, ny + 1))}
    assert as_set(x) == sx and len(x) == len(sx)
    assert as_set(x.subtract(y)) == sx - sy
    assert x.leq(y) == (sx <= sy)
    assert as_set(x.join(y)) == sx | sy
    assert x == CausalContext.from_dots(sx)
    assert decode(encode(x)) == x
    assert encode(x, canonical=True) == encode(CausalContext.from_dots(sx), canonical=True)


def test_a_claim_of_a_trillion_events_costs_a_few_runs() -> None:
    big = CausalContext({"w": 10**12, "v": 3})
    mine = CausalContext({"w": 5}, dots=[("w", 9), ("v", 7)])
    d = big.subtract(mine)
    assert d.vv == {"v": 3} and d.cloud["w"].nruns() == 2
    assert list(d.cloud["w"].runs()) == [(6, 9), (10, 10**12 + 1)]
    assert d.count() == 10**12 - 6 + 3 and not big.leq(mine) and mine.leq(big.join(mine))
    assert ("w", 10**12) in d and ("w", 9) not in d
    for cc in (big, d, big.join(mine)):
        b = encode(cc)
        assert len(b) < 48 and decode(b) == cc
    assert big.max_counter("w") == 10**12 and d.next_dot("w") == ("w", 10**12 + 1)


def test_coarse_parts_join_back_and_never_list_a_claim() -> None:
    from crdts import AWLWWMap, ORSet

    s = ORSet()
    m = AWLWWMap()
    for i in range(5):
        s.add("v", i)
        m.put("v", i, i, i)
    s.remove(2)
    m.remove(2)
    for x in (s, m):
        forged = type(x)()
        forged._cc = CausalContext({"w": 10**12})  # a peer's claim, merged in
        x.merge(forged)  # type: ignore[arg-type]
        parts = list(x.coarse_parts(max_runs=1))
        assert len(parts) == 4 + 2  # 4 live entries, then the runs of ("v", 3) and w's claim
        whole = parts[0].copy()
        for p in parts[1:]:
            assert p.leq(x)
            whole.merge(p)
        assert whole == x
