"""The causal context: version vector plus dot cloud, compaction, lattice operations."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from crdts import CausalContext, Dot, decode, encode

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
    cc.cloud["a"] = {1, 3, 4, 6}
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
