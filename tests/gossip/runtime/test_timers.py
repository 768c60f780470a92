"""The host's timer table: set, reset, cancel, order, namespaces."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gossip.runtime import TimerTable


def drain(table: TimerTable, now: float) -> list[tuple[object, object]]:
    out = []
    while (due := table.pop_due(now)) is not None:
        out.append(due)
    return out


def test_fires_in_deadline_order_and_ties_in_set_order() -> None:
    t = TimerTable()
    t.set("a", "late", 3.0)
    t.set("a", "early", 1.0)
    t.set("b", "tie1", 2.0)
    t.set("a", "tie2", 2.0)
    assert t.next_deadline() == 1.0
    assert drain(t, 1.5) == [("a", "early")]
    assert drain(t, 10) == [("b", "tie1"), ("a", "tie2"), ("a", "late")]
    assert t.next_deadline() is None and len(t) == 0


def test_reset_replaces_and_cancel_disarms() -> None:
    t = TimerTable()
    t.set("a", "k", 1.0)
    t.set("a", "k", 5.0)  # reset: the old deadline is gone
    t.set("a", "gone", 2.0)
    t.cancel("a", "gone")
    t.cancel("a", "never-set")  # a no-op
    assert drain(t, 4.9) == []
    assert t.deadline("a", "k") == 5.0
    assert drain(t, 5.0) == [("a", "k")]


def test_namespaces_keep_equal_keys_apart() -> None:
    t = TimerTable()
    t.set(0, "probe", 1.0)
    t.set(1, "probe", 2.0)
    t.cancel(0, "probe")
    assert (1, "probe") in t and (0, "probe") not in t
    assert drain(t, 3) == [(1, "probe")]


@given(ops=st.lists(st.tuples(st.sampled_from("sc"), st.integers(0, 4), st.integers(0, 50))))
def test_matches_a_dict_model(ops: list[tuple[str, int, int]]) -> None:
    t, model = TimerTable(), dict[int, float]()
    for op, key, at in ops:
        if op == "s":
            t.set("ns", key, float(at))
            model[key] = float(at)
        else:
            t.cancel("ns", key)
            model.pop(key, None)
    fired = drain(t, 100.0)
    keys = [k for _, k in fired]
    assert sorted(keys, key=str) == sorted(model, key=str)
    deadlines = [model[k] for k in keys]  # type: ignore[index]
    assert deadlines == sorted(deadlines)
