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


class _Counted(int):
    """An int that counts the comparisons made with it (a cost measure with no clock)."""

    calls = 0

    def __lt__(self, other: int) -> bool:
        _Counted.calls += 1
        return int(self) < other

    def __le__(self, other: int) -> bool:
        _Counted.calls += 1
        return int(self) <= other


def test_closing_a_gap_behind_many_ranges_costs_n_log_n_not_n_squared() -> None:
    # issue 12, finding 9: 16,000 one-entry Deltas beyond a lost one took 1.8 s to absorb when
    # the lost one arrived (every absorbed range rescanned all the others)
    n = 4_000
    t = RangeTracker(1)
    _Counted.calls = 0
    for lo in range(n + 1, 1, -1):  # arriving in reverse order, the worst case for a heap too
        assert not t.add(_Counted(lo), lo + 1)
    assert t.add(1, 2)
    assert t.mark == n + 2 and not t.pending
    assert _Counted.calls <= 4 * n * n.bit_length()  # ~n^2/2 = 8,000,000 before


def test_pending_ranges_are_capped_and_a_dropped_one_is_just_not_covered() -> None:
    t = RangeTracker(0, max_pending=3)
    for lo in (10, 20, 30, 40):
        t.add(lo, lo + 5)
    assert len(t.pending) == 3 and t.dropped == 1
    t.add(0, 10)
    assert t.mark == 15  # [10, 15) was held
    t.add(15, 20)
    assert t.mark == 25
    t.add(25, 30)
    assert t.mark == 35  # [40, 45) was dropped: not taken as covered
    t.add(35, 40)
    assert t.mark == 40
