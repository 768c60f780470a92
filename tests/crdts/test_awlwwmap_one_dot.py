"""The one-dot fast paths of ``AWLWWMap`` (``leq``, ``diff`` and ``merge`` of a delta that is one
record whose context is exactly its dot: a put that superseded nothing, what a node receives
most): the same results as the general code on every reachable state, and taken where they
apply."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crdts import HLC, AWLWWMap
from crdts import _awlwwmap as mod
from crdts.testing import AWLWWMAP_SPEC, pick, universes


def _general(fn: Any) -> Any:
    """``fn()`` with the fast path switched off."""
    saved = mod._one_dot
    mod._one_dot = lambda m: None
    try:
        return fn()
    finally:
        mod._one_dot = saved


def _merged(x: AWLWWMap, d: AWLWWMap) -> AWLWWMap:
    out = x.copy()
    out.merge(d)
    return out


@given(universes(AWLWWMAP_SPEC, max_steps=14), st.data())
def test_one_dot_deltas_compare_diff_and_join_as_the_general_code_does(
    u: Any, data: st.DataObject
) -> None:
    x, y = pick(u, data, 2)
    for part in y.decompose():  # one-dot elements (live entries) and context-only ones
        fast = [part.leq(x), part.diff(x), _merged(x, part)]
        slow = _general(lambda p=part: [p.leq(x), p.diff(x), _merged(x, p)])
        assert fast == slow
        assert fast[2].value == slow[2].value
        with_index = x.copy()
        with_index._build_index()  # the dot -> key index kept up to date by the fast merge
        with_index.merge(part)
        assert with_index == fast[2]
        dix = with_index._dix
        if dix is not None:  # it may hold stale dots, never miss a live one
            for key, v in with_index._store.items():
                for rec in (v,) if v[0].__class__ is str else v:
                    assert dix[rec[0]][rec[1]] == key


def test_the_fast_path_takes_a_fresh_put_and_not_a_superseding_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = HLC("a")
    x = AWLWWMap()
    x.put("b", "k", 1, HLC("b").now(wall=1))
    src = AWLWWMap()
    fresh = src.put("a", "k", 2, clock.now(wall=2))  # concurrent with x's entry of "k"
    again = src.put("a", "k", 3, clock.now(wall=3))  # supersedes fresh's dot: two dots
    assert mod._one_dot(fresh) is not None and mod._one_dot(again) is None
    used: list[Any] = []
    real = AWLWWMap._merge_one

    def spy(self: AWLWWMap, other: AWLWWMap, rec: Any) -> None:
        used.append(rec)
        real(self, other, rec)

    monkeypatch.setattr(AWLWWMap, "_merge_one", spy)
    assert not fresh.leq(x)
    assert fresh.diff(x) == fresh
    x.merge(fresh)
    assert used == [mod._one_dot(fresh)]
    assert len(x._store["k"]) == 2  # both concurrent entries kept
    assert x.get("k") == 2
    assert fresh.leq(x) and fresh.diff(x) == AWLWWMap()
    x.merge(again)  # the general path: it supersedes the dot fresh brought
    assert len(used) == 1
    assert x._store["k"][0] == "b" or x.get("k") == 3
    assert x.get("k") == 3
