"""The CRDT law suite, parametrised over every type of ``crdts`` (``AWLWWMap`` included).

States are never arbitrary internal data: they are drawn from random operation histories across
three replicas (``specs.universes``), so they are exactly the states a deployment can reach.
Each law is checked on replica states *and* on the deltas the history produced (deltas are states
too). Run just this file to check a type of your own: add a :class:`specs.TypeSpec` for it.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crdts import DecodeError, decode, encode
from tests.crdts.specs import SPEC_IDS, SPECS, TypeSpec, Universe, apply_op, typed, universes

pytestmark = pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)

LAW = settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])


def _pick(u: Universe, data: st.DataObject, n: int) -> list[Any]:
    pool = u.all_states()
    idx = st.integers(0, len(pool) - 1)
    return [pool[data.draw(idx)] for _ in range(n)]


def _copies(*xs: Any) -> list[Any]:
    return [x.copy() for x in xs]


@LAW
@given(data=st.data())
def test_join_is_commutative_associative_idempotent_and_pure(
    spec: TypeSpec, data: st.DataObject
) -> None:
    u = data.draw(universes(spec))
    x, y, z = _pick(u, data, 3)
    before = _copies(x, y, z)
    assert x.join(y) == y.join(x)
    assert x.join(y).join(z) == x.join(y.join(z))
    assert x.join(x) == x
    assert [x, y, z] == before, "join must not mutate its operands"
    m = x.copy()
    m.merge(y)
    assert m == x.join(y)
    assert y == before[1], "merge must not mutate its argument"
    m.merge(m)
    assert m == x.join(y)
    bottom = spec.cls()
    assert x.join(bottom) == x and bottom.join(x) == x


@LAW
@given(data=st.data())
def test_leq_is_the_lattice_order(spec: TypeSpec, data: st.DataObject) -> None:
    u = data.draw(universes(spec))
    x, y = _pick(u, data, 2)
    j = x.join(y)
    assert x.leq(j) and y.leq(j)
    assert x.leq(x)
    assert spec.cls().leq(x)
    assert x.leq(y) == (j == y)
    assert (x.leq(y) and y.leq(x)) == (x == y)


@LAW
@given(data=st.data())
def test_mutators_return_inflating_deltas(spec: TypeSpec, data: st.DataObject) -> None:
    u = data.draw(universes(spec))
    replica = data.draw(st.sampled_from(sorted(u.states)))
    op = data.draw(st.sampled_from(spec.ops))
    args = data.draw(op.args)
    x = u.states[replica]
    before = x.copy()
    delta, _ = apply_op(u, replica, op, args)
    assert type(delta) is spec.cls
    assert x == before.join(delta), "m(x) must equal x ⊔ delta"
    assert delta.leq(x)
    if x == before:
        assert delta == spec.cls(), "a no-op mutation returns bottom"
    # the delta carries only what it holds: shipping it to a replica that never saw x removes
    # nothing the receiver has and x never saw (checked in full in test_partial_context.py)
    assert decode(encode(delta)) == delta


@LAW
@given(data=st.data())
def test_decomposition_joins_back_and_is_irreducible(spec: TypeSpec, data: st.DataObject) -> None:
    u = data.draw(universes(spec))
    (x,) = _pick(u, data, 1)
    parts = x.decompose()
    bottom = spec.cls()
    total = bottom.copy()
    for p in parts:
        assert p != bottom, "bottom is never part of an irreducible decomposition"
        assert p.leq(x)
        total.merge(p)
    assert total == x
    for i, p in enumerate(parts):
        rest = bottom.copy()
        for q in itertools.chain(parts[:i], parts[i + 1 :]):
            rest.merge(q)
        assert not p.leq(rest), f"decomposition element {p!r} is redundant"


@LAW
@given(data=st.data())
def test_diff_is_the_minimal_delta(spec: TypeSpec, data: st.DataObject) -> None:
    u = data.draw(universes(spec))
    x, y = _pick(u, data, 2)
    d = x.diff(y)
    assert y.join(d) == x.join(y)
    assert d.leq(x)
    for p in d.decompose():
        assert not p.leq(y), "diff ships a part the receiver already has"
    assert x.diff(x) == spec.cls()


@LAW
@given(data=st.data())
def test_codec_round_trips_states_and_deltas(spec: TypeSpec, data: st.DataObject) -> None:
    u = data.draw(universes(spec))
    for x in u.all_states():
        b = encode(x)
        assert isinstance(b, bytes)
        y = decode(b)
        assert type(y) is spec.cls
        assert y == x
        assert typed(y.value) == typed(x.value), "values must round-trip exactly (types too)"


@LAW
@given(data=st.data())
def test_canonical_encoding_is_a_function_of_the_state(spec: TypeSpec, data: st.DataObject) -> None:
    """Equal states reached in different orders (joins permuted: dicts filled in other orders,
    replicas met in other orders) give equal canonical bytes, which decode back to the state."""
    u = data.draw(universes(spec))
    x, y, z = _pick(u, data, 3)
    a = x.join(y).join(z)
    b = z.join(y).join(x)
    c = spec.cls()
    for part in reversed(a.decompose()):  # rebuilt element by element, in reverse
        c.merge(part)
    assert a == b == c
    ca = encode(a, canonical=True)
    assert encode(b, canonical=True) == ca
    assert encode(c, canonical=True) == ca
    assert decode(ca) == a


def _only_decode_error(b: bytes) -> None:
    try:
        x = decode(b)
    except DecodeError:
        return
    # bytes that happen to form a valid message must give a well-formed state
    assert x.join(x) == x
    assert decode(encode(x)) == x


@settings(max_examples=60)
@given(data=st.data())
def test_corrupted_encodings_raise_decode_error(spec: TypeSpec, data: st.DataObject) -> None:
    u = data.draw(universes(spec, max_steps=6))
    b = encode(u.states[data.draw(st.sampled_from(sorted(u.states)))])
    cut = data.draw(st.integers(0, len(b) - 1))
    with pytest.raises(DecodeError):
        decode(b[:cut])  # every strict prefix is truncated msgpack
    pos = data.draw(st.integers(0, len(b) - 1))
    byte = data.draw(st.integers(0, 255))
    _only_decode_error(b[:pos] + bytes([byte]) + b[pos + 1 :])
    _only_decode_error(b[:pos] + bytes([byte]) + b[pos:])
    _only_decode_error(b[:pos] + b[pos + 1 :])
    _only_decode_error(b + data.draw(st.binary(min_size=1, max_size=4)))


@settings(max_examples=60)
@given(junk=st.binary(max_size=64))
def test_garbage_raises_decode_error(spec: TypeSpec, junk: bytes) -> None:
    _only_decode_error(junk)
    # garbage behind a valid header of this type
    _only_decode_error(encode(spec.cls())[:2] + junk)
