"""HLC: strictly increasing per replica whatever the wall clock does; ahead of what it received."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdts import HLC, HLCTimestamp, LWWRegister, decode, encode

walls = st.integers(min_value=-5, max_value=50)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("now"), walls),
        st.tuples(st.just("recv"), walls, walls, st.integers(0, 5)),
    ),
    max_size=40,
)


@given(steps)
def test_monotonic_under_wall_clock_regressions(seq: list[tuple[int | str, ...]]) -> None:
    clock = HLC("me")
    last: HLCTimestamp | None = None
    highest = 0  # the clock starts at wall 0 and never goes below the largest wall seen
    for step in seq:
        if step[0] == "now":
            wall = int(step[1])
            ts = clock.now(wall=wall)
        else:
            received = HLCTimestamp(int(step[1]), int(step[3]), "peer")
            wall = int(step[2])
            ts = clock.update(received_ts=received, wall=wall)
            assert ts > received, "an update is ahead of what it received"
            highest = max(highest, received.wall)
        highest = max(highest, wall)
        assert ts.replica == "me"
        assert ts.wall == highest
        if last is not None:
            assert ts > last, "timestamps strictly increase per replica"
        last = ts
        assert clock.last == ts
        assert decode(encode(ts)) == ts


def test_logical_counts_while_the_wall_clock_is_behind() -> None:
    clock = HLC("a")
    assert clock.now(wall=100) == (100, 0, "a")
    assert clock.now(wall=90) == (100, 1, "a")  # the wall clock jumped back
    assert clock.now(wall=100) == (100, 2, "a")
    assert clock.now(wall=101) == (101, 0, "a")
    assert clock.update(HLCTimestamp(200, 7, "b"), wall=102) == (200, 8, "a")
    assert clock.update(HLCTimestamp(150, 0, "b"), wall=300) == (300, 0, "a")


def test_restore_and_drift_guard() -> None:
    clock = HLC("a", last=HLCTimestamp(50, 3, "a"), max_drift=10)
    assert clock.now(wall=10) == (50, 4, "a")
    with pytest.raises(ValueError, match="ahead"):
        clock.update(HLCTimestamp(100, 0, "b"), wall=60)
    assert clock.last == (50, 4, "a"), "a rejected update changes nothing"
    with pytest.raises(ValueError):
        clock.now(wall=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        HLC(7)  # type: ignore[arg-type]


def test_a_write_after_receiving_wins_even_with_a_lagging_wall_clock() -> None:
    fast, slow = HLC("fast"), HLC("slow")
    a, b = LWWRegister(), LWWRegister()
    d = a.set("fast", "first", fast.now(wall=1_000))
    b.merge(d)
    ts = slow.update(a.timestamp, wall=10)  # type: ignore[arg-type]
    b.set("slow", "second", slow.now(wall=11))
    assert ts > d.timestamp  # type: ignore[operator]
    a.merge(b)
    assert a.value == b.value == "second"
