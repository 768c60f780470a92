"""ORSet's merge paths (hint, dot index, full scan) all agree with the plain store join."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from crdts import ORSet
from crdts._dotstore import Causal
from tests.crdts.specs import SPECS, universes

ORSET = next(s for s in SPECS if s.cls is ORSet)


@settings(max_examples=60)
@given(data=st.data())
def test_indexed_merge_agrees_with_the_store_join(data: st.DataObject) -> None:
    u = data.draw(universes(ORSET, max_steps=14))
    pool = u.all_states()
    x = pool[data.draw(st.integers(0, len(pool) - 1))].copy()
    if data.draw(st.booleans()):
        x._index()  # an index built before, then kept up to date by add and merge
    reference = x.copy()
    for _ in range(data.draw(st.integers(1, 4))):
        y = pool[data.draw(st.integers(0, len(pool) - 1))]
        x.merge(y)
        Causal.merge(reference, y)  # the generic path: _s_join
        assert x == reference
        d = x.add("z", data.draw(st.sampled_from([0, 7, "x"])))
        reference.merge(d)
        assert x == reference


def test_a_remove_delta_finds_its_element_in_a_large_set_through_the_index() -> None:
    big = ORSet()
    for i in range(5_000):
        big.add("a", i)
    other = big.copy()
    deltas = [other.remove(i) for i in range(2_000, 2_100)]
    for d in deltas:
        big.merge(d)
    assert big == other and big._dix is not None
    assert all(i not in big for i in range(2_000, 2_100)) and len(big) == 4_900
