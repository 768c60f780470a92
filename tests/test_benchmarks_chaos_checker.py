"""The chaos checker catches each planted violation, and passes the histories that are legal."""

from __future__ import annotations

from typing import Any

from benchmarks._chaos_checker import NOT_SEEN, History, check


def _put(
    h: History, node: str, key: str, value: str, t0: float, t1: float | None, **kw: Any
) -> None:
    op = h.invoke(node, "put", "m", key, value, at=t0, **kw)
    if t1 is not None:
        h.ok(op, at=t1)


def _kinds(h: History, finals: dict[str, dict[str, Any]], **kw: Any) -> list[str]:
    return sorted(v.kind for v in check(h, finals, **kw).violations)


def test_a_legal_history_has_no_violation() -> None:
    h = History()
    _put(h, "a", "x", "a1", 0.0, 0.1)
    _put(h, "b", "x", "b1", 0.05, 0.2)  # concurrent with a1: either may win
    h.ok(h.invoke("a", "remove", "m", "y", at=0.3, seen=NOT_SEEN), at=0.4)
    _put(h, "c", "y", "c1", 0.35, None)  # indeterminate: may be present or not
    h.ok(h.invoke("a", "incr", "n", value=3, at=0.0), at=0.1)
    h.invoke("b", "incr", "n", value=2, at=0.0)  # indeterminate
    h.ok(h.invoke("a", "add", "s", "e1", at=0.0), at=0.1)
    h.ok(h.invoke("b", "add", "s", "e2", at=0.0), at=0.1)
    h.ok(h.invoke("b", "discard", "s", "e2", at=0.2, seen=True), at=0.3)
    h.fail(h.invoke("c", "put", "m", "z", "never", at=0.5))
    for total in (3, 5):
        state = {"m": {"x": "b1", "y": "c1"}, "n": total, "s": {"e1"}}
        finals = {"a": state, "b": state}
        assert _kinds(h, finals) == []
    state = {"m": {"x": "a1"}, "n": 3, "s": {"e1"}}
    assert _kinds(h, {"a": state, "b": state}) == []


def test_a_lost_put_add_and_increment_are_caught() -> None:
    h = History()
    _put(h, "a", "x", "a1", 0.0, 0.1)
    h.ok(h.invoke("a", "add", "s", "e1", at=0.0), at=0.1)
    h.ok(h.invoke("a", "incr", "n", value=4, at=0.0), at=0.1)
    state: dict[str, Any] = {"m": {}, "s": set(), "n": 1}
    report = check(h, {"a": state, "b": state})
    assert report.by_kind == {"lost": 2, "counter": 1}
    assert report.ok == 3 and report.must_survive == 3 and not report.valid


def test_divergence_and_an_unbidden_crash_are_caught() -> None:
    h = History()
    _put(h, "a", "x", "a1", 0.0, 0.1)
    _put(h, "b", "x", "b1", 0.0, 0.1)
    h.crashed("c", at=1.0, by_nemesis=True)
    assert _kinds(h, {"a": {"m": {"x": "a1"}}, "b": {"m": {"x": "a1"}}}) == []
    h.crashed("b", at=2.0, by_nemesis=False)
    assert _kinds(h, {"a": {"m": {"x": "a1"}}, "b": {"m": {"x": "b1"}}}) == ["crash", "diverged"]


def test_an_older_value_winning_over_a_write_that_saw_it_is_stale() -> None:
    h = History()
    _put(h, "a", "x", "old", 0.0, 0.1)
    _put(h, "b", "x", "new", 0.05, 0.2, seen="old")  # b read "old", then overwrote it
    finals = {"a": {"m": {"x": "old"}}, "b": {"m": {"x": "old"}}}
    assert _kinds(h, finals) == ["stale"]
    # without the read, a later write across nodes counts only beyond the clock tolerance
    h2 = History()
    _put(h2, "a", "x", "old", 0.0, 0.1)
    _put(h2, "b", "x", "new", 0.5, 0.6)
    assert _kinds(h2, finals) == ["stale"]
    assert _kinds(h2, finals, tolerance=1.0) == []
    h3 = History()  # on one node the order is exact whatever the tolerance
    _put(h3, "a", "x", "old", 0.0, 0.1)
    _put(h3, "a", "x", "new", 0.2, 0.3)
    assert _kinds(h3, finals, tolerance=10.0) == ["stale"]


def test_a_removed_value_coming_back_is_resurrected_and_unknown_values_are_phantoms() -> None:
    h = History()
    _put(h, "a", "x", "v", 0.0, 0.1)
    h.ok(h.invoke("b", "remove", "m", "x", at=0.5, seen="v"), at=0.6)
    h.ok(h.invoke("a", "add", "s", "e", at=0.0), at=0.1)
    h.ok(h.invoke("b", "discard", "s", "e", at=0.5, seen=True), at=0.6)
    state: dict[str, Any] = {"m": {"x": "v", "y": "ghost"}, "s": {"e", "f"}}
    assert _kinds(h, {"a": state}) == ["phantom", "phantom", "resurrected", "resurrected"]
    # a remove that had not seen the put cannot cancel it (add-wins): legal
    h2 = History()
    _put(h2, "a", "x", "v", 0.0, 0.1)
    h2.ok(h2.invoke("b", "remove", "m", "x", at=0.05, seen=NOT_SEEN), at=0.06)
    assert _kinds(h2, {"a": {"m": {"x": "v"}}}) == []


def test_a_lost_data_dir_excuses_only_writes_that_one_node_held() -> None:
    h = History()
    _put(h, "a", "x", "local", 0.0, 0.1)
    op = h.invoke("a", "put", "m", "y", "replicated", at=0.0)
    h.ok(op, at=0.2, replicas=2)
    h.ok(h.invoke("a", "incr", "n", value=5, at=0.0), at=0.1)
    h.data_lost("a", at=1.0)
    state: dict[str, Any] = {"m": {}, "n": 0}
    report = check(h, {"a": state, "b": state})
    assert [(v.kind, v.key) for v in report.violations] == [("lost", "y")]
    assert report.must_survive == 1
    state = {"m": {"x": "local", "y": "replicated"}, "n": 5}
    assert check(h, {"a": state, "b": state}).valid  # it may have replicated in time, too


def test_a_remove_that_cancelled_the_later_put_alone_is_not_stale() -> None:
    # b's put follows a's, but c's remove saw only b's (a's had not reached c): a's survives
    h = History()
    _put(h, "a", "x", "old", 0.0, 0.1)
    _put(h, "b", "x", "new", 5.0, 5.1)
    h.ok(h.invoke("c", "remove", "m", "x", at=5.5, seen="new"), at=5.6)
    assert _kinds(h, {"a": {"m": {"x": "old"}}}) == []


def test_settle_records_what_a_reply_says() -> None:
    h = History()
    put = h.invoke("n1", "put", "m", "k", "v1", at=1.0)
    assert History.settle(put, {"status": "ok", "seen": "v0", "replicas": 2}, at=2.0) == "ok"
    assert (put.status, put.acked, put.replicas, put.seen) == ("ok", 2.0, 2, "v0")
    gone = h.invoke("n1", "discard", "s", "e", at=3.0)
    assert History.settle(gone, {"status": "fail", "seen": 1}, at=4.0) == "fail"
    assert gone.status == "fail" and gone.seen is True
    lost = h.invoke("n2", "incr", "c", value=1, at=5.0)
    before = lost.status
    assert History.settle(lost, {"status": "error"}, at=6.0) == "error"
    assert lost.status == before  # indeterminate stays indeterminate
