"""AWLWWMap: the tie-break and causality rules, add-wins removes, deltas that never over-claim,
the merge paths (scan and dot index) against a textbook dot-store join, and the regressions
(100,000 puts shipped in batches; concurrent writers never lose a key)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crdts import HLC, AWLWWMap, CausalContext, Dot, HLCTimestamp, decode, encode

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def ctx_dots(m: AWLWWMap) -> set[Dot]:
    return set(m.context.dots())


def live_dots(m: AWLWWMap) -> dict[Dot, Any]:
    return {dot: key for key in m for dot, _, _ in m.entries(key)}


def textbook_join(x: AWLWWMap, y: AWLWWMap) -> tuple[dict[Dot, tuple[Any, Any, Any]], set[Dot]]:
    """The join of two dot stores on sets: (s1 & s2) | (s1 - c2) | (s2 - c1), and c1 | c2."""
    s1 = {d: (k, v, t) for k in x for d, v, t in x.entries(k)}
    s2 = {d: (k, v, t) for k in y for d, v, t in y.entries(k)}
    c1, c2 = ctx_dots(x), ctx_dots(y)
    s = {d: e for d, e in s1.items() if d in s2 or d not in c2}
    s.update({d: e for d, e in s2.items() if d not in c1})
    return s, c1 | c2


def as_sets(m: AWLWWMap) -> tuple[dict[Dot, tuple[Any, Any, Any]], set[Dot]]:
    return {d: (k, v, t) for k in m for d, v, t in m.entries(k)}, ctx_dots(m)


# ---------------------------------------------------------------------------------------------
# basics
# ---------------------------------------------------------------------------------------------


def test_bottom_put_get_value_remove() -> None:
    m = AWLWWMap()
    assert m.is_bottom() and m.value == {} and len(m) == 0
    d = m.put("a", "apple", 2, 10)
    assert m.get("apple") == 2 and m.value == {"apple": 2} and "apple" in m
    assert d.value == {"apple": 2} and ctx_dots(d) == {("a", 1)}
    m.put("a", "apple", 3, 11)
    assert m.get("apple") == 3 and m.timestamp("apple") == 11
    assert m.get("pear") is None and m.get("pear", 0) == 0 and m.get(["unhashable"]) is None
    rm = m.remove("apple")
    assert m.value == {} and "apple" not in m
    assert ctx_dots(rm) == {("a", 2)} and rm.value == {}
    assert m.remove("apple").is_bottom()
    with pytest.raises(ValueError):
        m.remove(["not", "a", "key"])


def test_put_delta_carries_the_new_dot_and_the_superseded_ones_only() -> None:
    a, b = AWLWWMap(), AWLWWMap()
    for i in range(5):
        a.put("a", f"other{i}", i, i)
    b.merge(a.put("a", "k", 1, 10))
    d = b.put("b", "k", 2, 11)  # b saw a's entry of k, and only that one
    assert ctx_dots(d) == {("b", 1), ("a", 6)}
    assert d.value == {"k": 2}
    d2 = b.put("b", "k", 3, 12)
    assert ctx_dots(d2) == {("b", 1), ("b", 2)}


def test_a_put_after_a_gap_in_its_own_dots_mints_a_fresh_dot() -> None:
    # (a surviving mutant of the mutation run: the branch for a replica whose own dots have a gap
    # in the context reused the highest counter, minting a dot twice)
    src = AWLWWMap()
    src.put("a", "k1", 1, 1)
    src.put("a", "k2", 2, 2)
    part = next(x for x in src.decompose() if x.value == {"k2": 2})
    m = AWLWWMap()
    m.merge(part)  # the context holds ("a", 2) but not ("a", 1): a gap
    d = m.put("a", "k3", 3, 3)
    assert m.value == {"k2": 2, "k3": 3}
    assert m.context.contains(("a", 3)), "the put must mint the next dot, ('a', 3)"
    src.merge(d)  # a replica that already holds ("a", 2) must still see the new key
    assert src.value == {"k1": 1, "k2": 2, "k3": 3}


def test_mutators_return_deltas_that_inflate() -> None:
    m = AWLWWMap()
    for i in range(30):
        before = m.copy()
        d = m.remove(f"k{i % 5}") if i % 4 == 3 else m.put("abc"[i % 3], f"k{i % 5}", i, i)
        assert before.join(d) == m
        assert d.leq(m)


def test_copy_is_independent_and_join_is_pure() -> None:
    a = AWLWWMap()
    a.put("a", "x", 1, 1)
    c = a.copy()
    c.put("a", "y", 2, 2)
    assert a.value == {"x": 1} and c.value == {"x": 1, "y": 2}
    b = AWLWWMap()
    b.put("b", "z", 3, 1)
    a_before, b_before = a.copy(), b.copy()
    j = a.join(b)
    assert a == a_before and b == b_before
    assert j.value == {"x": 1, "z": 3}
    assert a.leq(j) and b.leq(j) and not j.leq(a)


def test_invalid_put_raises_value_error_and_changes_nothing() -> None:
    m = AWLWWMap()
    m.put("a", "k", 1, 1)
    before = m.copy()
    bad: list[tuple[Any, Any, Any, Any]] = [
        (1, "k", 1, 2),  # replica not a str
        ("a", ["list"], 1, 2),  # key not msgpack-native
        ("a", "k", float("nan"), 2),  # NaN equals nothing
        ("a", "k", 1 << 64, 2),  # beyond 64 bits
        ("a", "k", {"dict": 1}, 2),
        ("a", "k", 1, float("nan")),  # ts: HLCTimestamp, int or float, totally ordered
        ("a", "k", 1, (1, 2)),
        ("a", "k", 1, 1 << 64),
        ("a", "k", 1, "late"),
    ]
    for args in bad:
        with pytest.raises(ValueError):
            m.put(*args)
        assert m == before


# ---------------------------------------------------------------------------------------------
# the rules: tie-break, causality first, add-wins
# ---------------------------------------------------------------------------------------------


def test_concurrent_puts_larger_ts_wins_everywhere() -> None:
    a, b = AWLWWMap(), AWLWWMap()
    da = a.put("a", "k", "from-a", 5)
    db = b.put("b", "k", "from-b", 3)
    a.merge(db)
    b.merge(da)
    assert a == b and a.value == {"k": "from-a"} and b.get("k") == "from-a"
    assert len(a.entries("k")) == 2  # both kept: they are concurrent


def test_equal_timestamps_are_decided_by_replica_id() -> None:
    a, b = AWLWWMap(), AWLWWMap()
    da = a.put("alice", "k", "A", 7)
    db = b.put("bob", "k", "B", 7)
    assert a.join(db).value == b.join(da).value == {"k": "B"}  # "bob" > "alice"


def test_hlc_timestamps_tie_break_and_mixed_kinds_are_deterministic() -> None:
    a, b = AWLWWMap(), AWLWWMap()
    da = a.put("a", "k", 1, HLCTimestamp(100, 0, "a"))
    db = b.put("b", "k", 2, HLCTimestamp(100, 0, "b"))
    assert a.join(db).value == b.join(da).value == {"k": 2}
    c, d = AWLWWMap(), AWLWWMap()
    dc = c.put("c", "k", "int", 1 << 40)
    dd = d.put("d", "k", "hlc", HLCTimestamp(0, 0, "d"))
    assert c.join(dd).value == d.join(dc).value == {"k": "hlc"}  # ints rank below HLC


def test_float_and_int_timestamps_compare_as_numbers() -> None:
    a, b = AWLWWMap(), AWLWWMap()
    da = a.put("a", "k", "float", 2.5)
    db = b.put("b", "k", "int", 2)
    assert a.join(db).value == b.join(da).value == {"k": "float"}
    assert decode(encode(a.join(db))) == a.join(db)


def test_causality_first_an_observed_entry_loses_even_with_a_larger_ts() -> None:
    a, b = AWLWWMap(), AWLWWMap()
    b.merge(a.put("a", "k", "old", 1_000))
    db = b.put("b", "k", "new", 1)  # saw a's entry: supersedes it despite ts 1 < 1000
    assert b.value == {"k": "new"}
    a.merge(db)
    assert a.value == {"k": "new"} and len(a.entries("k")) == 1 and a == b


def test_remove_is_add_wins() -> None:
    a, b = AWLWWMap(), AWLWWMap()
    b.merge(a.put("a", "k", 1, 1))
    rm = a.remove("k")  # removes the entry a saw
    put = b.put("b", "k", 2, 0)  # concurrent: b re-adds (a small ts does not matter)
    a.merge(put)
    b.merge(rm)
    assert a == b and a.value == {"k": 2}


def test_remove_of_an_observed_entry_removes_it_everywhere() -> None:
    a, b, c = AWLWWMap(), AWLWWMap(), AWLWWMap()
    d = a.put("a", "k", 1, 1)
    b.merge(d)
    c.merge(d)
    rm = b.remove("k")
    a.merge(rm)
    c.merge(rm)
    assert a.value == b.value == c.value == {}


def test_remove_delta_does_not_touch_entries_it_never_saw() -> None:
    a, b = AWLWWMap(), AWLWWMap()
    a.put("a", "k", 1, 1)
    b.put("b", "k", 2, 2)  # concurrent with a's
    rm = a.remove("k")
    b.merge(rm)
    assert b.value == {"k": 2}


# ---------------------------------------------------------------------------------------------
# decomposition, diff, and never over-claiming
# ---------------------------------------------------------------------------------------------


def _history(rng: random.Random, n: int) -> dict[str, AWLWWMap]:
    reps = {r: AWLWWMap() for r in "abc"}
    clocks = {r: HLC(r) for r in "abc"}
    for i in range(n):
        r = rng.choice("abc")
        m = reps[r]
        x = rng.random()
        if x < 0.6:
            m.put(r, f"k{rng.randrange(8)}", i, clocks[r].now(wall=rng.randrange(30)))
        elif x < 0.8:
            m.remove(f"k{rng.randrange(8)}")
        else:
            m.merge(reps[rng.choice("abc")])
    return reps


@given(st.integers(0, 2**32 - 1), st.integers(5, 60))
def test_decompose_and_diff(seed: int, n: int) -> None:
    rng = random.Random(seed)
    reps = _history(rng, n)
    x, y = reps["a"], reps["b"]
    parts = x.decompose()
    joined = AWLWWMap()
    for p in parts:
        joined.merge(p)
    assert joined == x
    for i, p in enumerate(parts):  # irreducible and none redundant
        rest = AWLWWMap()
        for q in parts[:i] + parts[i + 1 :]:
            rest.merge(q)
        assert rest != x
        assert len(ctx_dots(p)) == 1
    d = x.diff(y)
    assert y.join(d) == x.join(y)
    expected = AWLWWMap()
    for p in parts:
        if not p.leq(y):
            expected.merge(p)
    assert d == expected
    assert x.diff(x).is_bottom()


def test_diff_against_a_replica_that_knows_nothing_of_a_writer_keeps_its_vector_compact() -> None:
    x = AWLWWMap()
    for i in range(5_000):
        x.put("w", f"k{i % 100}", i, i)  # 4,900 superseded dots, 100 live
    x.remove("k7")
    assert x.diff(AWLWWMap()) == x
    y = AWLWWMap()
    y.put("other", "z", 1, 1)
    d = x.diff(y)
    assert d.context.vv == {"w": 5_000} and not d.context.cloud
    assert y.join(d) == x.join(y)


@given(st.integers(0, 2**32 - 1), st.integers(5, 50))
def test_merging_any_subset_of_a_decomposition_never_deletes_an_unseen_key(
    seed: int, n: int
) -> None:
    rng = random.Random(seed)
    reps = _history(rng, n)
    x, y = reps["a"], reps["b"]
    y.put("b", "only-b", "mine", HLCTimestamp(10_000, 0, "b"))  # x never saw it
    parts = x.decompose()
    subset = [p for p in parts if rng.random() < 0.5]
    for p in subset:
        y.merge(p)
    assert y.get("only-b") == "mine"
    # and deltas of x's later puts never claim more than they hold
    d = x.put("a", "k0", "late", HLCTimestamp(10_000, 1, "a"))
    assert ctx_dots(d) <= ctx_dots(x)
    assert all(dot[0] == "a" or dot in ctx_dots(x) for dot in ctx_dots(d))
    y.merge(d)
    assert y.get("only-b") == "mine"


@settings(max_examples=40)
@given(st.integers(0, 2**32 - 1))
def test_merge_agrees_with_the_textbook_join_on_every_path(seed: int) -> None:
    """The scan path, the dot-index path (built lazily, then kept up to date and stale) and the
    fast single-entry paths all compute (s1 & s2) | (s1 - c2) | (s2 - c1)."""
    rng = random.Random(seed)
    big = AWLWWMap()
    peers = {r: AWLWWMap() for r in "bcd"}
    ts = 0
    for i in range(300):  # a large state, shared with the peers
        ts += 1
        d = big.put("a", f"k{i}", i, ts)
        for p in peers.values():
            p.merge(d)
    for _ in range(60):
        r = rng.choice("bcd")
        p = peers[r]
        ts += 1
        op = rng.random()
        if op < 0.45:
            d = p.put(r, f"k{rng.randrange(320)}", ts, ts)
        elif op < 0.75:
            d = p.remove(f"k{rng.randrange(320)}")
        elif op < 0.9:
            d = p.diff(big)
        else:
            d = p.copy()  # a full state: the scan path
        if rng.random() < 0.3:  # big writes meanwhile: concurrency, and stale index entries
            ts += 1
            big.put("a", f"k{rng.randrange(320)}", -ts, ts)
        expected = textbook_join(big, d)
        big.merge(d)
        assert as_sets(big) == expected
        if rng.random() < 0.2:
            peers[rng.choice("bcd")].merge(big)


# ---------------------------------------------------------------------------------------------
# regressions
# ---------------------------------------------------------------------------------------------


def test_100k_puts_shipped_in_batches_of_deltas_arrive_complete() -> None:
    n, batch = 100_000, 2_000
    src, dst = AWLWWMap(), AWLWWMap()
    clock = HLC("src")
    wire: list[bytes] = []
    group = AWLWWMap()
    for i in range(n):
        group.merge(src.put("src", f"item-{i}", i, clock.now(wall=i // 7)))
        if (i + 1) % batch == 0:
            wire.append(encode(group))
            group = AWLWWMap()
    rng = random.Random(1)
    rng.shuffle(wire)  # reordered, and some delivered twice
    for w in wire + wire[:5]:
        dst.merge(decode(w))
    assert len(src) == len(dst) == n
    assert dst == src
    assert dst.get("item-99999") == 99_999


def test_concurrent_writers_never_lose_a_key() -> None:
    rng = random.Random(7)
    names = ["r0", "r1", "r2", "r3", "r4"]
    reps = {r: AWLWWMap() for r in names}
    clocks = {r: HLC(r) for r in names}
    inflight: list[tuple[str, AWLWWMap]] = []
    own_keys: set[str] = set()
    for step in range(3_000):
        r = rng.choice(names)
        m = reps[r]
        wall = step // 3
        x = rng.random()
        if x < 0.5:  # a key only this writer ever writes (never removed)
            k = f"{r}-{step}"
            own_keys.add(k)
            d = m.put(r, k, step, clocks[r].now(wall=wall))
        elif x < 0.85:  # shared keys, concurrently overwritten
            d = m.put(r, f"shared{rng.randrange(20)}", step, clocks[r].now(wall=wall))
        else:  # removes of shared keys (only what this replica saw)
            d = m.remove(f"shared{rng.randrange(20)}")
        for other in names:
            if other != r and rng.random() < 0.7:  # lossy
                inflight.append((other, d))
        for _ in range(rng.randrange(4)):
            if inflight:  # reordered: any message in flight may be next
                i = rng.randrange(len(inflight))
                inflight[i], inflight[-1] = inflight[-1], inflight[i]
                dst, delta = inflight.pop()
                reps[dst].merge(delta)
                if rng.random() < 0.1:
                    reps[dst].merge(delta)  # duplicated
    for other in names:  # anti-entropy: full-state diffs both ways
        for r in names:
            reps[r].merge(reps[other].diff(reps[r]))
    first = reps[names[0]]
    assert all(reps[r] == first for r in names)
    assert own_keys <= set(first.value)
    for k, v in first.value.items():  # every shared key holds its (ts, replica) winner
        best = max(first.entries(k), key=lambda e: (e[2], e[0][0]))
        assert v == best[1]


def test_context_view_is_a_copy() -> None:
    m = AWLWWMap()
    m.put("a", "k", 1, 1)
    cc = m.context
    cc.add(("z", 1))
    assert ("z", 1) not in m.context
    assert isinstance(cc, CausalContext)
