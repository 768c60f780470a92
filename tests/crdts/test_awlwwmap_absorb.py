"""``AWLWWMap.absorb``: the fused join of a received delta equals ``leq``, ``diff`` and ``merge``.

The law suite (``test_laws.py``, law ``absorb``) checks the contract on the shared random
histories; here the histories are shaped like a node's traffic: puts into small carts that
supersede earlier entries (sometimes several concurrent ones), removals, a receiver that saw
only part of a peer (decomposition parts: a record without the dots its put superseded),
deliveries of the same delta twice, receivers with and without the dot -> key index and bigger
than the store scan, and counters past 2**62 and 2**63. Every check runs on the compiled path
and on the pure-Python one (``scripts/test.sh`` also reruns this file with
``DELTAMESH_PURE=1``).
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crdts import AWLWWMap, CausalContext, Lattice, _accel, decode, encode
from crdts import _awlwwmap_absorb as fused

PURE = os.environ.get("DELTAMESH_PURE", "") not in {"", "0"}
REPLICAS = ("a", "b", "c")
KEYS = ("k0", "k1", "k2", "k3")


def _index_covers(m: AWLWWMap) -> bool:
    """Every live dot is in the index (stale extra entries are allowed: checked on use)."""
    assert m._dix is not None
    return all(
        m._dix.get(r[0], {}).get(r[1]) == k
        for k, v in m._store.items()
        for r in ((v,) if v[0].__class__ is str else v)
    )


def _paths() -> Iterator[str]:
    """Run the caller's block on the compiled path (when built), then on the pure one."""
    saved = _accel.absorb_put
    if saved is not None:
        yield "compiled"
    _accel.absorb_put = None
    try:
        yield "pure"
    finally:
        _accel.absorb_put = saved


def _reference(x: AWLWWMap, d: AWLWWMap) -> tuple[AWLWWMap, AWLWWMap | None]:
    """What the engine did before absorb: ``leq``, then ``diff`` and ``merge``."""
    y = x.copy()
    if d.leq(y):
        return y, None
    delta = d.diff(y)
    y.merge(delta)
    return y, delta


def _put_shaped(d: AWLWWMap) -> bool:
    """One record plus at most ``FEW`` dots, or records plus at most ``FEW_STATE`` dots: what
    the fused paths take (and return ``d`` itself from when all of it was new)."""
    (v,) = d._store.values() if len(d._store) == 1 else (None,)
    if v is not None and v[0].__class__ is str and len(d.context) <= fused.FEW:
        return True
    return bool(d._store) and len(d.context) <= fused.FEW_STATE


def check_absorb(x: AWLWWMap, d: AWLWWMap, *, index: bool = False, whole: bool = False) -> Any:
    """``x.absorb(d)`` (on a copy, on both paths) equals the reference exactly: the store's
    slots, the context, the returned delta (``d`` itself when ``whole`` and all of it was
    new), and the dot -> key index stays complete."""
    want_state, want = _reference(x, d)
    d_before = d.copy()
    results = []
    for _path in _paths():
        a = x.copy()
        if index:
            a._build_index()
        got = a.absorb(d)
        assert a._store == want_state._store
        assert a._cc == want_state._cc
        assert d == d_before, "absorb mutated d"
        if want is None:
            assert got is None
        else:
            assert got is not None
            assert got == want
            assert got.context == want.context
            if whole and want == d and _put_shaped(d):
                assert got is d, "all of d was new: d itself comes back"
        if a._dix is not None:
            assert _index_covers(a)
        assert a.absorb(d) is None, "absorbing the same delta again changed the state"
        results.append((a, got))
    if len(results) == 2:  # compiled == pure
        assert results[0][0] == results[1][0]
        assert results[0][1] == results[1][1]
    return results[0][1]


# ---------------------------------------------------------------------------------------------
# Histories shaped like a node's traffic
# ---------------------------------------------------------------------------------------------

_step = st.one_of(
    st.tuples(st.just("put"), st.integers(0, 2), st.sampled_from(KEYS), st.integers(0, 9)),
    st.tuples(st.just("remove"), st.integers(0, 2), st.sampled_from(KEYS)),
    # deliver: a whole state, one earlier delta, or some parts of a decomposition
    st.tuples(
        st.just("sync"),
        st.integers(0, 2),
        st.integers(0, 2),
        st.sampled_from(["state", "delta", "parts"]),
        st.integers(0, (1 << 64) - 1),
    ),
    # two replicas put the same key concurrently (then a third may see one of them)
    st.tuples(st.just("collide"), st.sampled_from(KEYS), st.integers(0, 9)),
)


class History:
    def __init__(self) -> None:
        self.states = {r: AWLWWMap() for r in REPLICAS}
        self.log: list[AWLWWMap] = []  # every mutator's delta, in order
        self.puts: list[AWLWWMap] = []
        self.ts = 0

    def put(self, r: str, key: str, value: int) -> AWLWWMap:
        self.ts += 1
        d = self.states[r].put(r, key, value, self.ts)
        self.log.append(d)
        self.puts.append(d)
        return d

    def run(self, steps: list[tuple[Any, ...]]) -> History:
        for step in steps:
            if step[0] == "put":
                self.put(REPLICAS[step[1]], step[2], step[3])
            elif step[0] == "remove":
                d = self.states[REPLICAS[step[1]]].remove(step[2])
                if not d.is_bottom():
                    self.log.append(d)
            elif step[0] == "sync":
                _, si, di, mode, mask = step
                src, dst = self.states[REPLICAS[si]], self.states[REPLICAS[di]]
                if mode == "state":
                    dst.merge(src)
                elif mode == "delta" and self.log:
                    dst.merge(self.log[mask % len(self.log)])
                else:
                    for i, p in enumerate(src.decompose()):
                        if (mask >> (i % 64)) & 1:
                            dst.merge(p)
            else:
                _, key, value = step
                d0 = self.put("a", key, value)
                self.put("b", key, value + 1)
                self.states["c"].merge(d0)
        return self


histories = st.lists(_step, max_size=24).map(lambda steps: History().run(steps))


@settings(max_examples=150)
@given(histories, st.data())
def test_absorb_equals_leq_diff_merge_on_a_nodes_traffic(h: History, data: st.DataObject) -> None:
    """Every delta of the history (puts, superseding puts, removals), a diff between replicas
    and a few decomposition parts, into every replica: with and without the index."""
    index = data.draw(st.booleans())
    for x in h.states.values():
        for d in h.log:
            check_absorb(x, d, index=index, whole=True)
            check_absorb(x, decode(encode(d)), index=index, whole=True)  # as received
        for y in h.states.values():
            check_absorb(x, y.diff(x), index=index)
            check_absorb(x, y, index=index)
        parts = h.states[data.draw(st.sampled_from(REPLICAS))].decompose()
        for p in data.draw(st.lists(st.sampled_from(parts), max_size=4)) if parts else []:
            check_absorb(x, p, index=index)


def _shifted(m: AWLWWMap, off: int) -> AWLWWMap:
    """``m`` with every counter moved up by ``off`` (the dots below ``off`` seen by everyone
    and held by no one): the same lattice, with counters past a small int's range."""

    def rec(r: Any) -> Any:
        return (r[0], r[1] + off, *r[2:])

    store = {
        k: (tuple(rec(r) for r in v) if v[0].__class__ is not str else rec(v))
        for k, v in m._store.items()
    }
    cc = m._cc
    reps = set(cc.vv) | set(cc.cloud) | {r[0] for v in store.values() for r in _recs(v)}
    reps |= set(REPLICAS)
    dots = [(r, c + off) for r, s in cc.cloud.items() for c in s]
    return AWLWWMap._make(store, CausalContext({r: cc.vv.get(r, 0) + off for r in reps}, dots))


def _shifted_delta(m: AWLWWMap, off: int) -> AWLWWMap:
    """A delta with every counter moved up by ``off`` (its context only its own dots)."""

    def rec(r: Any) -> Any:
        return (r[0], r[1] + off, *r[2:])

    store = {
        k: (tuple(rec(r) for r in v) if v[0].__class__ is not str else rec(v))
        for k, v in m._store.items()
    }
    return AWLWWMap._make(store, CausalContext.from_dots((r, c + off) for r, c in m._cc.dots()))


def _recs(v: Any) -> tuple[Any, ...]:
    return (v,) if v[0].__class__ is str else tuple(v)


@pytest.mark.parametrize("off", [(1 << 62) - 3, (1 << 63) - 2, (1 << 64) + 7])
@settings(max_examples=40)
@given(h=histories)
def test_absorb_with_counters_past_62_and_64_bits(off: int, h: History) -> None:
    """The compiled path reads counters as 64-bit ints: near and past the limit it must give
    the same answer as the pure code (or leave the delta to it)."""
    for x in h.states.values():
        sx = _shifted(x, off)
        for d in h.log:
            check_absorb(sx, _shifted_delta(d, off), whole=True)


def _big_receiver(n: int) -> tuple[AWLWWMap, AWLWWMap]:
    """A writer with ``n`` keys and a receiver that holds them all."""
    w = AWLWWMap()
    for i in range(n):
        w.put("w", f"key{i:03}", i, i + 1)
    return w, w.copy()


@pytest.mark.parametrize("n", [8, fused.SCAN + 8])
@pytest.mark.parametrize("index", [False, True])
def test_a_delta_that_supersedes_here_and_removes_elsewhere(n: int, index: bool) -> None:
    """One record plus dots of entries under other keys (a diff shipping a put and a remove):
    the receiver's entries of those keys die too, found by a scan of a small store or through
    the dot -> key index of a big one; a duplicate delivery finds nothing left (``None``)."""
    w, x = _big_receiver(n)
    w.put("w", "key001", "new", 1000)  # supersedes ("w", 2) under its key
    w.remove("key005")  # ("w", 6), another key
    d = w.diff(x)
    assert len(d._store) == 1 and len(d.context) == 3
    got = check_absorb(x, d, index=index, whole=True)
    assert got == d
    y = x.copy()
    y.absorb(d)
    assert "key005" not in y and y.get("key001") == "new"
    check_absorb(y, d, index=index)  # everything seen: None


def test_a_receiver_that_saw_the_record_but_not_what_it_superseded() -> None:
    """Partial context: the receiver got the new entry as a decomposition part (its dot only),
    so it still holds the entry the put superseded. The full delta is not <= it: absorbing it
    kills the old entry and returns just that removal, not ``d``."""
    w = AWLWWMap()
    w.put("w", "apple", 1, 1)
    x = w.copy()
    d = w.put("w", "apple", 2, 2)  # context {("w", 1), ("w", 2)}
    (part,) = [p for p in w.decompose() if len(p)]
    x.merge(part)
    assert len(x._store["apple"]) == 2  # both records: concurrent as far as x knows
    got = check_absorb(x, d)
    assert got is not None and got is not d
    assert not got._store and got.context == CausalContext.from_dots([("w", 1)])


def test_concurrent_entries_superseded_together() -> None:
    """A put that saw two concurrent entries supersedes both (three dots); a receiver holding
    one of them, or both, or neither."""
    a, b, c = AWLWWMap(), AWLWWMap(), AWLWWMap()
    da = a.put("a", "k", 1, 1)
    db = b.put("b", "k", 2, 2)
    c.merge(da)
    c.merge(db)
    d = c.put("c", "k", 3, 3)
    assert len(d.context) == 3
    for x in (AWLWWMap(), a, b, c.join(a)):
        check_absorb(x, d, whole=True)
    x = a.join(b)
    assert check_absorb(x, d, whole=True) is d


def _same(a: object, b: object) -> bool:
    return a is b


@pytest.mark.parametrize("index", [False, True])
def test_fresh_and_superseding_puts_into_an_eight_entry_cart(index: bool) -> None:
    """The benchmark's case: ``d`` itself comes back, a second delivery returns ``None``."""
    w, x = _big_receiver(8)
    fresh = decode(encode(w.put("w", "key999", 1, 100)))
    sup = decode(encode(w.put("w", "key003", 2, 101)))
    assert _same(check_absorb(x, fresh, index=index, whole=True), fresh)
    assert _same(check_absorb(x, sup, index=index, whole=True), sup)
    y = x.copy()
    assert _same(y.absorb(sup), sup) and _same(y.absorb(fresh), fresh)
    assert [y.absorb(sup), y.absorb(fresh)] == [None, None]
    assert y == x.join(sup).join(fresh)


def test_the_fused_path_takes_the_put_shapes_and_leaves_the_rest() -> None:
    """Shapes: one record plus up to ``FEW`` dots go through the fused code; several records, a
    bigger context, or a record whose dot its context lacks go to leq/diff/merge."""
    w, x = _big_receiver(4)
    d = w.put("w", "key000", 5, 50)
    assert fused.absorb_put(x.copy(), d) is not fused.NOT_MINE
    two = AWLWWMap()
    two.put("w", "p", 1, 1)
    two.put("w", "q", 1, 2)
    assert fused.absorb_put(x.copy(), two) is fused.NOT_MINE
    wide = AWLWWMap._make(dict(d._store), CausalContext({"w": fused.FEW + 1}))
    assert fused.absorb_put(x.copy(), wide) is fused.NOT_MINE
    check_absorb(x, wide)
    orphan = AWLWWMap._make(dict(d._store), CausalContext.from_dots([("w", 1)]))
    assert fused.absorb_put(x.copy(), orphan) is fused.NOT_MINE


def test_absorb_rejects_another_type_and_ignores_itself() -> None:
    x, _ = _big_receiver(2)
    with pytest.raises(TypeError):
        x.absorb(CausalContext())  # type: ignore[arg-type]
    before = x.copy()
    assert x.absorb(x) is None and x == before
    assert x.absorb(AWLWWMap()) is None


def test_the_default_absorb_is_leq_diff_merge() -> None:
    """A type that does not override ``absorb`` gets ``Lattice.absorb``."""
    assert "absorb" not in CausalContext.__dict__
    cc = CausalContext.from_dots([("a", 1), ("a", 3)])
    d = CausalContext.from_dots([("a", 2), ("a", 3), ("b", 1)])
    got = cc.absorb(d)
    assert got == CausalContext.from_dots([("a", 2), ("b", 1)])
    assert cc == CausalContext({"a": 3, "b": 1})
    assert cc.absorb(d) is None
    absorb: Callable[..., Any] = Lattice.absorb
    assert absorb is CausalContext.absorb


def test_a_receiver_with_a_long_cloud() -> None:
    """A receiver that saw every other put of a writer holds a cloud of many runs (a packed
    array once long): absorbing the puts it missed, a new one and the old ones again."""
    w = AWLWWMap()
    deltas = [w.put("w", f"key{i % 40:02}", i, i + 1) for i in range(160)]
    x = AWLWWMap()
    for d in deltas[::2]:
        x.merge(d)
    assert len(x.context.cloud["w"]._b) >= 64
    y = decode(encode(x))  # decoded: the packed array form
    assert isinstance(y.context.cloud["w"]._b, array) and y == x
    for d in [*deltas[1::7], *deltas[::9], w.put("w", "key03", "last", 999)]:
        check_absorb(x, d, whole=True)
        check_absorb(y, d, whole=True)
    check_absorb(x, w.diff(x))


def test_the_compiled_path_takes_the_benchmark_shapes() -> None:
    """The fused C code (when built) answers the common deltas itself: a fresh put and a
    superseding one are all new (``True``), a repeat is ``None``."""
    if _accel.absorb_put is None:
        assert PURE, "the compiled module is built in this environment"
        return
    w, x = _big_receiver(8)
    for d in (w.put("w", "key999", 1, 100), w.put("w", "key003", 2, 101)):
        d = decode(encode(d))
        xc, dc = x._cc, d._cc
        args = (x._store, xc.vv, xc.cloud, x._dix, d._store, dc.vv, dc.cloud)
        assert _accel.absorb_put(*args) is True
        assert _accel.absorb_put(*args) is None


class _Bounds:
    """A stand-in for ``Counters``: whatever ``_b`` the test gives it."""

    __slots__ = ("_b",)

    def __init__(self, b: Any) -> None:
        self._b = b


_atom = st.one_of(
    st.integers(-3, 12),
    st.integers(2**62, 2**64 + 3),
    st.sampled_from(["w", "v", "", True, None, 1.5]),
)
_rec = st.one_of(
    st.tuples(st.sampled_from(["w", "v"]), _atom, _atom, _atom),
    st.tuples(st.sampled_from(["w", "v"]), st.integers(1, 9), _atom, _atom, _atom),
    st.tuples(_atom, _atom),
    st.lists(_atom, max_size=5).map(tuple),
)
_slot = st.one_of(_rec, st.lists(_rec, min_size=2, max_size=3).map(tuple), _atom)
_bounds = st.one_of(
    st.lists(_atom, max_size=6),
    st.lists(st.integers(0, 2**64 - 1), max_size=6).map(lambda b: array("Q", sorted(b))),
    _atom,
)
_vv = st.dictionaries(st.sampled_from(["w", "v"]), _atom, max_size=2)
_cloud = st.dictionaries(st.sampled_from(["w", "v"]), _bounds.map(_Bounds), max_size=2)


@settings(max_examples=300)
@given(
    xs=st.dictionaries(st.sampled_from(["k", "j"]), _slot, max_size=2),
    xvv=_vv,
    xcloud=_cloud,
    dix=st.one_of(st.none(), st.just({}), st.just({"w": {1: "k", 2: "j"}}), st.just({"w": 1})),
    ds=st.dictionaries(st.sampled_from(["k", "j"]), _slot, min_size=1, max_size=2),
    dvv=_vv,
    dcloud=_cloud,
)
def test_the_compiled_absorb_survives_odd_shapes(
    xs: dict[Any, Any],
    xvv: dict[str, Any],
    xcloud: dict[str, Any],
    dix: Any,
    ds: dict[Any, Any],
    dvv: dict[str, Any],
    dcloud: dict[str, Any],
) -> None:
    """Odd records, counters (negative, past 64 bits, bools, floats), bounds (odd lengths,
    unsorted, not ints) and indexes: no crash; an answer of one of the four kinds, and state
    left alone unless it reports a change."""
    fast = _accel.absorb_put
    if fast is None:
        assert PURE
        return
    before = (dict(xs), dict(xvv))
    try:
        got = fast(xs, xvv, xcloud, dix, ds, dvv, dcloud)
    except (TypeError, ValueError):
        return
    assert got is None or got is True or got is NotImplemented or type(got) is tuple
    if got is None or got is NotImplemented:
        assert (xs, xvv) == before
