"""VectorClock.compare: the causal order table, and its agreement with the lattice order."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdts import Ordering, VectorClock


def vc(**counts: int) -> VectorClock:
    x = VectorClock()
    for r, n in counts.items():
        for _ in range(n):
            x.increment(r)
    return x


TABLE = [
    ({}, {}, "equal"),
    ({"a": 1}, {"a": 1}, "equal"),
    ({"a": 1}, {}, "after"),
    ({}, {"a": 1}, "before"),
    ({"a": 1}, {"a": 2}, "before"),
    ({"a": 1}, {"a": 1, "b": 1}, "before"),
    ({"a": 2, "b": 1}, {"a": 1, "b": 1}, "after"),
    ({"a": 1}, {"b": 1}, "concurrent"),
    ({"a": 1, "b": 2}, {"a": 2, "b": 1}, "concurrent"),
    ({"a": 3}, {"a": 2, "b": 1}, "concurrent"),
]


@pytest.mark.parametrize(("x", "y", "expected"), TABLE)
def test_compare_table(x: dict[str, int], y: dict[str, int], expected: str) -> None:
    got = vc(**x).compare(vc(**y))
    assert got == expected
    assert isinstance(got, Ordering) and isinstance(got, str)
    mirror = {"before": "after", "after": "before"}.get(expected, expected)
    assert vc(**y).compare(vc(**x)) == mirror


def test_ordering_is_a_str_enum() -> None:
    assert [o.value for o in Ordering] == ["before", "after", "equal", "concurrent"]
    assert Ordering("concurrent") is Ordering.CONCURRENT
    assert f"{Ordering.BEFORE}" == "before"


counts = st.dictionaries(st.sampled_from("abc"), st.integers(1, 4), max_size=3)


@given(counts, counts)
def test_compare_agrees_with_leq(x: dict[str, int], y: dict[str, int]) -> None:
    a, b = vc(**x), vc(**y)
    o = a.compare(b)
    assert (o in ("before", "equal")) == a.leq(b)
    assert (o in ("after", "equal")) == b.leq(a)
    assert a.join(b).compare(a) in ("after", "equal")
    assert a.value == x


def test_increment_returns_the_new_entry_as_delta() -> None:
    x = vc(a=2)
    d = x.increment("a")
    assert d.value == {"a": 3} and x["a"] == 3 and x["zzz"] == 0
