"""ORMap: nested causal values, add/update-wins removal, fields typed by kind."""

from __future__ import annotations

import pytest

from crdts import (
    CausalCounter,
    GCounter,
    LWWRegister,
    MVRegister,
    ORMap,
    ORSet,
    decode,
    encode,
)


def sync(*maps: ORMap) -> None:
    total = ORMap()
    for m in maps:
        total.merge(m)
    for m in maps:
        m.merge(total)


def test_nested_values_and_their_deltas() -> None:
    m = ORMap()
    d1 = m.update("tags", ORSet, lambda s: s.add("alice", "red"))
    d2 = m.update("visits", CausalCounter, lambda c: c.increment("alice", 3))
    d3 = m.update(
        "profile", ORMap, lambda p: p.update("name", MVRegister, lambda r: r.set("alice", "Al"))
    )
    assert m.value == {
        ("tags", "orset"): frozenset({"red"}),
        ("visits", "counter"): 3,
        ("profile", "ormap"): {("name", "mvregister"): frozenset({"Al"})},
    }
    other = ORMap()
    for d in (d3, d1, d2):
        other.merge(decode(encode(d)))
    assert other == m
    assert m.get("tags", ORSet).value == {"red"}
    assert m.get("nothing", ORSet) == ORSet()
    assert ("tags", ORSet) in m and ("tags", "orset") in m and ("tags", MVRegister) not in m


def test_get_is_a_copy() -> None:
    m = ORMap()
    m.update("s", ORSet, lambda s: s.add("a", 1))
    copy = m.get("s", ORSet)
    copy.add("a", 2)
    assert m.get("s", ORSet).value == {1}


def test_update_concurrent_with_remove_wins() -> None:
    a, b = ORMap(), ORMap()
    a.update("cart", ORSet, lambda s: s.add("a", "apple"))
    sync(a, b)
    b.remove("cart")  # b saw the apple only
    a.update("cart", ORSet, lambda s: s.add("a", "pear"))
    sync(a, b)
    assert a.value == b.value == {("cart", "orset"): frozenset({"pear"})}


def test_nested_map_removal_keeps_concurrent_inner_updates() -> None:
    a, b = ORMap(), ORMap()
    a.update("u", ORMap, lambda p: p.update("name", LWWRegister, lambda r: r.set("a", "Al", 1)))
    sync(a, b)
    a.remove("u")
    b.update("u", ORMap, lambda p: p.update("mail", LWWRegister, lambda r: r.set("b", "x@y", 2)))
    sync(a, b)
    assert a.value == b.value == {("u", "ormap"): {("mail", "lwwregister"): "x@y"}}


def test_removed_counter_restarts_from_what_concurrent_increments_left() -> None:
    a, b = ORMap(), ORMap()
    a.update("n", CausalCounter, lambda c: c.increment("a", 5))
    b.update("n", CausalCounter, lambda c: c.increment("b", 2))
    sync(a, b)
    a.remove("n")  # observes a:5 and b:2
    a.update("n", CausalCounter, lambda c: c.increment("a", 1))
    sync(a, b)
    assert a.value == b.value == {("n", "counter"): 1}
    b.update("n", CausalCounter, lambda c: c.increment("b", 2))
    sync(a, b)
    assert a.value == {("n", "counter"): 3}
    a.remove("n")  # observes a:1 and b:2
    b.update("n", CausalCounter, lambda c: c.increment("b", 2))  # concurrent with the removal
    sync(a, b)
    # The concurrent increment survives, carrying its replica's running total (one dot per
    # replica: Almeida et al.'s causal counter; riak_dt's emcntr behaves the same): b's 2 + 2.
    assert a.value == b.value == {("n", "counter"): 4}


def test_kind_is_part_of_the_field() -> None:
    a, b = ORMap(), ORMap()
    a.update("k", ORSet, lambda s: s.add("a", 1))
    b.update("k", MVRegister, lambda r: r.set("b", "v"))
    sync(a, b)
    assert a.value == {("k", "orset"): frozenset({1}), ("k", "mvregister"): frozenset({"v"})}
    d = a.remove("k", MVRegister)
    assert a.value == {("k", "orset"): frozenset({1})}
    b.merge(d)
    assert b.value == a.value
    d = a.remove("k")
    assert a.value == {} and not d.is_bottom()


def test_noop_and_invalid_updates() -> None:
    m = ORMap()
    assert m.remove("absent") == ORMap()
    assert m.update("s", ORSet, lambda s: s.remove("absent")) == ORMap()
    assert m == ORMap(), "a no-op leaves no empty field behind"
    m.update("s", ORSet, lambda s: s.add("a", 1))
    before = m.copy()
    with pytest.raises(ValueError):
        m.update(["unhashable"], ORSet, lambda s: s.add("a", 1))
    with pytest.raises(ValueError):
        m.update("s", GCounter, lambda g: g.increment("a"))  # type: ignore[type-var]
    with pytest.raises(ValueError):
        m.update("s", ORSet, lambda s: s.add("a", [1]))
    with pytest.raises(ValueError):
        m.update("c", CausalCounter, lambda c: c.increment("a", -1))
    with pytest.raises(ValueError):
        m.remove(["unhashable"])
    assert m == before


def test_decomposition_of_a_nested_map_ships_single_dots() -> None:
    m = ORMap()
    m.update("o", ORMap, lambda p: p.update("s", ORSet, lambda s: s.add("a", 1)))
    m.update("o", ORMap, lambda p: p.update("s", ORSet, lambda s: s.add("a", 2)))
    m.update("o", ORMap, lambda p: p.update("s", ORSet, lambda s: s.remove(1)))
    parts = m.decompose()
    assert sorted(len(p.context) for p in parts) == [1, 1]
    assert [p.value for p in parts if p.value] == [
        {("o", "ormap"): {("s", "orset"): frozenset({2})}}
    ]


# -- the nested set: concurrent adds of one element, a remove that observed only one -------------


def _nested_collision() -> tuple[ORMap, ORMap, ORMap, ORMap]:
    a, b, c = ORMap(), ORMap(), ORMap()
    da = a.update("cart", ORSet, lambda s: s.add("a", "x"))
    db = b.update("cart", ORSet, lambda s: s.add("b", "x"))
    c.merge(da)  # c sees a's add only
    a.merge(db)  # a holds both dots of "x"
    return a, b, c, db


def test_nested_set_remove_that_observed_one_add_keeps_the_concurrent_one() -> None:
    a, b, c, db = _nested_collision()
    dr = c.update("cart", ORSet, lambda s: s.remove("x"))
    for m in (a, b):
        m.merge(dr)
    c.merge(db)
    assert a.value == b.value == c.value == {("cart", "orset"): frozenset({"x"})}
    assert a.join(dr) == dr.join(a)


def test_key_removal_that_observed_one_add_keeps_the_concurrent_one() -> None:
    a, b, c, _ = _nested_collision()
    c.remove("cart")  # observed a's dot of "x" only
    assert a.join(c) == c.join(a)
    sync(a, b, c)
    assert a.value == b.value == c.value == {("cart", "orset"): frozenset({"x"})}
