"""The contiguous watermark used for acks and receive watermarks."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from sync._ranges import RangeTracker


def test_contiguous_advance_and_gap() -> None:
    t = RangeTracker()
    assert t.add(0, 3)
    assert not t.add(5, 9)  # a gap at [3, 5): must not advance
    assert t.mark == 3
    assert t.add(3, 5)
    assert t.mark == 9
    assert not t.add(2, 4)  # old news
    t.raise_to(20)
    assert t.mark == 20


@given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 10)), max_size=30))
def test_mark_is_the_first_uncovered_position(ranges: list[tuple[int, int]]) -> None:
    t = RangeTracker()
    covered: set[int] = set()
    for lo, n in ranges:
        t.add(lo, lo + n)
        covered.update(range(lo, lo + n))
        first_gap = 0
        while first_gap in covered:
            first_gap += 1
        assert t.mark == first_gap
