"""The incremental Merkle index: equal keyspaces have equal roots; the descent finds differences."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from sync._merkle import DEPTH, MerkleIndex, item_hash


def build(states: dict[str, bytes]) -> MerkleIndex:
    m = MerkleIndex()
    m.touch_all(states)
    m.flush(states.__getitem__)
    return m


@given(
    st.dictionaries(st.text(max_size=6), st.binary(max_size=4), max_size=60),
    st.dictionaries(st.text(max_size=6), st.binary(max_size=4), max_size=20),
)
def test_incremental_updates_equal_a_rebuild(
    first: dict[str, bytes], later: dict[str, bytes]
) -> None:
    state = dict(first)
    m = build(state)
    state.update(later)
    m.touch_all(later)
    m.flush(state.__getitem__)
    fresh = build(state)
    assert m.levels == fresh.levels
    assert m.node(0, 0)[1] == len(state)
    assert all(m.holds(m.item(k)) for k in state)
    assert m._item_count == fresh._item_count


@given(
    st.dictionaries(st.text(max_size=6), st.binary(max_size=4), max_size=60),
    st.integers(1, 7),
)
def test_flushing_in_slices_equals_one_flush(state: dict[str, bytes], limit: int) -> None:
    m = MerkleIndex()
    m.touch_all(state)
    while m.dirty:
        before = m.dirty
        m.flush(state.__getitem__, limit)
        assert m.dirty == max(0, before - limit)
    fresh = build(state)
    assert m.levels == fresh.levels
    assert m.leaf_keys.keys() == fresh.leaf_keys.keys()
    assert m.node(0, 0) == fresh.node(0, 0)


def test_descent_localises_one_difference() -> None:
    a = {f"k{i}": b"v" for i in range(5000)}
    b = dict(a)
    b["k1234"] = b"changed"
    ma, mb = build(a), build(b)
    assert ma.node(0, 0) != mb.node(0, 0)
    level, prefix, visited = 0, 0, 0
    while level < DEPTH:
        diff = [p for p, h, _ in ma.children(level, prefix) if mb.node(level + 1, p)[0] != h]
        visited += len(ma.children(level, prefix))
        assert len(diff) == 1
        level, prefix = level + 1, diff[0]
    assert "k1234" in ma.keys_under(level, prefix)
    assert visited <= 16 * DEPTH
    assert sorted(ma.keys_under(0, 0)) == sorted(a)


@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 9)), max_size=12))
def test_object_digest_is_a_function_of_the_state(adds: list[tuple[str, int]]) -> None:
    """Two replicas holding equal states built in opposite orders give equal item hashes, with
    the crdts codec (canonical bytes) and with a caller's codec (hashes of irreducibles)."""
    import crdts
    from crdts import ORSet
    from sync import SyncEngine

    deltas = []
    src = ORSet()
    for replica, elem in adds:
        deltas.append(src.add(replica, elem))
    fwd, back = ORSet(), ORSet()
    for d in deltas:
        fwd.merge(d)
    for d in reversed(deltas):
        back.merge(d)
    assert fwd == back
    for codec in (None, (crdts.encode, crdts.decode)):
        a = SyncEngine("a", state={"k": fwd}, codec=codec)
        b = SyncEngine("b", state={"k": back}, codec=codec)
        assert a._encoded_state("k") == b._encoded_state("k")


def _shape(m: MerkleIndex) -> tuple[object, ...]:
    """Everything a digest reads, with the order of keys inside a leaf left out."""
    leaves = {p: sorted(b) if isinstance(b, list) else [b] for p, b in m.leaf_keys.items()}
    return m.levels, leaves, dict(m._items), dict(m._item_count), m.dirty


@given(
    st.dictionaries(st.text(max_size=6), st.binary(max_size=4), max_size=80),
    st.dictionaries(st.text(max_size=6), st.binary(max_size=4), max_size=20),
)
def test_a_bulk_load_of_known_item_hashes_equals_hashing_every_state(
    states: dict[str, bytes], later: dict[str, bytes]
) -> None:
    from sync._merkle import item_hash

    loaded = MerkleIndex()
    loaded.load({k: item_hash(k, v) for k, v in states.items()})
    assert _shape(loaded) == _shape(build(states))
    # into an index that is not empty (one set_item per key), and after later changes
    states2 = {**states, **later}
    loaded.load({k: item_hash(k, v) for k, v in later.items()})
    assert _shape(loaded) == _shape(build(states2))
    for k in list(later)[:3]:
        loaded.touch(k)
        loaded.set_item(k, item_hash(k, b"new" + later[k]))  # a caller that just encoded it
        states2[k] = b"new" + later[k]
    assert _shape(loaded) == _shape(build(states2))


def test_a_batched_flush_builds_the_index_one_set_item_per_key_builds() -> None:
    # flush hashes and places a whole round's dirty keys in one pass (inlined); the index it
    # builds is the one set_item builds key by key, through adds, changes and unchanged states
    rng = random.Random(4)
    states: dict[str, bytes] = {}
    batched, one_by_one = MerkleIndex(), MerkleIndex()
    for _ in range(30):
        changed = set()
        for _ in range(rng.randrange(1, 80)):
            key = f"k{rng.randrange(300)}" if rng.random() < 0.9 else f"ü{rng.randrange(9)}"
            states[key] = bytes([rng.randrange(4)])  # often the same state again
            changed.add(key)
            batched.touch(key)
        batched.flush(states.__getitem__, limit=rng.choice([None, 5, 1000]))
        batched.flush(states.__getitem__)
        for key in changed:
            one_by_one.set_item(key, item_hash(key, states[key]))
        assert batched.levels == one_by_one.levels
        assert _leaves(batched) == _leaves(one_by_one)
        assert batched._items == one_by_one._items
        assert batched._item_count == one_by_one._item_count
        assert batched.dirty == 0


def _leaves(m: MerkleIndex) -> dict[int, list[str]]:
    return {p: sorted([b] if isinstance(b, str) else b) for p, b in m.leaf_keys.items()}


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["change", "flush", "read", "set_item"]),
            st.text(max_size=3),
            st.binary(max_size=3),
        ),
        max_size=80,
    )
)
def test_levels_carried_up_on_read_equal_a_rebuild_whatever_the_interleaving(
    ops: list[tuple[str, str, bytes]],
) -> None:
    # A flush updates only the deepest stored level and leaves the levels above pending until
    # one of them is read; reads, item sets and slices in any order must see what a rebuild sees.
    state: dict[str, bytes] = {}
    m = MerkleIndex()
    for op, key, value in ops:
        if op == "change":
            state[key] = value
            m.touch(key)
        elif op == "flush":
            m.flush(state.__getitem__, 1 + len(value))
        elif op == "read":
            m.node(len(value) % (DEPTH + 1), 0)
            m.children(len(value) % DEPTH, 0)
        elif key in state:
            m.set_item(key, item_hash(key, state[key]))
    m.flush(state.__getitem__)
    fresh = build(state)
    for level in range(DEPTH):
        for prefix in fresh.levels[level]:
            assert m.node(level, prefix) == fresh.node(level, prefix)
    assert m.levels == fresh.levels


def test_a_flush_reads_the_callers_cached_bytes_first() -> None:
    state = {f"k{i}": bytes([i]) for i in range(50)}
    m = MerkleIndex()
    m.touch_all(state)
    asked: list[str] = []

    def encoded(key: str) -> bytes:
        asked.append(key)
        return state[key]

    m.flush(encoded, cached={k: v for k, v in state.items() if k < "k3"})
    assert sorted(asked) == sorted(k for k in state if k >= "k3")
    assert m.node(0, 0) == build(state).node(0, 0)


def test_a_flush_hashes_every_key_as_item_hash_does_long_and_surrogate_keys_too() -> None:
    state = {"a": b"1", "\ud800x": b"2", "k" * 300: b"3", "é" * 200: b"4"}
    m = build(state)
    for key, value in state.items():
        assert m.item(key) == item_hash(key, value)
