"""Mutator contract details: invalid mutations raise ValueError and change nothing; no-ops return
bottom; the deltas are the small things the issue describes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crdts import (
    CausalContext,
    CausalCounter,
    GCounter,
    GSet,
    LWWRegister,
    MVRegister,
    ORSet,
    PNCounter,
    UsageError,
    VectorClock,
)


def _seeded(cls: type[Any]) -> Any:
    x = cls()
    if cls is GCounter or cls is PNCounter or cls is CausalCounter:
        x.increment("a", 2)
    elif cls is GSet:
        x.add(1)
    elif cls is ORSet:
        x.add("a", 1)
    elif cls is MVRegister:
        x.set("a", "v")
    elif cls is LWWRegister:
        x.set("a", "v", 5)
    elif cls is VectorClock:
        x.increment("a")
    return x


INVALID: list[tuple[type[Any], Callable[[Any], Any]]] = [
    (GCounter, lambda x: x.increment("a", -1)),
    (GCounter, lambda x: x.increment("a", 1.0)),
    (GCounter, lambda x: x.increment("a", True)),
    (GCounter, lambda x: x.increment(7, 1)),
    (GCounter, lambda x: x.increment("a", 1 << 64)),
    (PNCounter, lambda x: x.increment("a", -1)),
    (PNCounter, lambda x: x.decrement("a", -1)),
    (PNCounter, lambda x: x.decrement(None, 1)),
    (CausalCounter, lambda x: x.increment("a", -3)),
    (CausalCounter, lambda x: x.decrement("a", "1")),
    (GSet, lambda x: x.add([1])),
    (GSet, lambda x: x.add(float("nan"))),
    (ORSet, lambda x: x.add("a", {1: 2})),
    (ORSet, lambda x: x.add(b"a", 1)),
    (ORSet, lambda x: x.add("a", 1 << 64)),
    (ORSet, lambda x: x.add("a", True.__class__)),
    (ORSet, lambda x: x.remove([1])),
    (MVRegister, lambda x: x.set("a", [1])),
    (MVRegister, lambda x: x.set(1, "v")),
    (LWWRegister, lambda x: x.set("a", "v", "not a ts")),
    (LWWRegister, lambda x: x.set("a", "v", 1.5)),
    (LWWRegister, lambda x: x.set("a", "v", None)),
    (LWWRegister, lambda x: x.set("a", [1], 7)),
    (VectorClock, lambda x: x.increment(3)),
]


@pytest.mark.parametrize(("cls", "mutate"), INVALID)
def test_invalid_mutations_raise_and_change_nothing(
    cls: type[Any], mutate: Callable[[Any], Any]
) -> None:
    x = _seeded(cls)
    before = x.copy()
    with pytest.raises(ValueError) as info:
        mutate(x)
    assert isinstance(info.value, UsageError)
    assert x == before


NOOPS: list[tuple[type[Any], Callable[[Any], Any]]] = [
    (GCounter, lambda x: x.increment("a", 0)),
    (PNCounter, lambda x: x.decrement("a", 0)),
    (CausalCounter, lambda x: x.increment("b", 0)),
    (GSet, lambda x: x.add(1)),
    (ORSet, lambda x: x.remove("absent")),
]


@pytest.mark.parametrize(("cls", "mutate"), NOOPS)
def test_noops_return_bottom(cls: type[Any], mutate: Callable[[Any], Any]) -> None:
    x = _seeded(cls)
    before = x.copy()
    assert mutate(x) == cls()
    assert x == before


def test_orset_add_delta_holds_one_dot_and_supersedes_what_it_saw() -> None:
    s = ORSet()
    s.add("a", "e")
    s.add("b", "e")
    d = s.add("a", "e")
    assert d._store == {"e": {("a", 2)}}
    # ("a", 1) was already superseded by b's add: only the live ("b", 1) is superseded now
    assert d.context == CausalContext.from_dots([("b", 1), ("a", 2)])


def test_lww_causality_first_then_timestamp_then_replica() -> None:
    a, b = LWWRegister(), LWWRegister()
    a.merge(b.set("b", "late clock", 100))
    a.set("a", "seen it", 1)  # observed b's write: supersedes it despite the smaller ts
    b.merge(a)
    assert a.value == b.value == "seen it"
    c, d = LWWRegister(), LWWRegister()
    c.set("c", "x", 5)
    d.set("d", "y", 5)  # concurrent, same ts: the larger replica id wins everywhere
    assert c.join(d).value == d.join(c).value == "y"
    assert LWWRegister().value is None and LWWRegister().timestamp is None


def test_mvregister_keeps_concurrent_values() -> None:
    a, b = MVRegister(), MVRegister()
    a.set("a", 1)
    b.set("b", 2)
    a.merge(b)
    assert a.value == {1, 2}
    a.set("a", 3)
    assert a.value == {3}


def test_hash_is_disabled_for_mutable_types() -> None:
    for cls in (GCounter, PNCounter, GSet, ORSet, MVRegister, LWWRegister, CausalCounter):
        with pytest.raises(TypeError):
            hash(cls())


def test_bottom_and_le_spellings() -> None:
    for cls in (GCounter, PNCounter, GSet, ORSet, MVRegister, LWWRegister, CausalCounter):
        x = _seeded(cls)
        assert cls.bottom() == cls() and cls.bottom() <= x and not x <= cls.bottom()
    assert CausalContext.bottom() <= CausalContext({"a": 1})
