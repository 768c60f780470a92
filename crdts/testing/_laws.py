"""The law suite: the CRDT contract as assertions on concrete states (``assert_*``), and as
Hypothesis runs over reachable states of a :class:`~crdts.testing.TypeSpec` (``check_*``).

A ``check_*`` function runs a whole Hypothesis test when called: call it from a pytest test.
``settings`` (a :class:`hypothesis.settings`) overrides the active profile for that run.
``max_steps`` bounds the length of each random history.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import hypothesis
from hypothesis import given
from hypothesis import strategies as st

from crdts._codec import decode, encode
from crdts._errors import DecodeError
from crdts._lattice import Lattice
from crdts.testing._histories import Universe, apply_op, pick, typed, universes
from crdts.testing._spec import TypeSpec

__all__ = [
    "LAW_CHECKS",
    "assert_absorb",
    "assert_codec_round_trip",
    "assert_decomposition",
    "assert_inflation",
    "assert_join_laws",
    "assert_leq_order",
    "assert_minimal_diff",
    "check_absorb",
    "check_canonical_encoding",
    "check_codec_round_trip",
    "check_decode_errors",
    "check_decomposition",
    "check_delta_inflation",
    "check_join_laws",
    "check_laws",
    "check_leq_order",
    "check_minimal_diff",
    "check_unseen_keys_survive",
]


# ---------------------------------------------------------------------------------------------
# The laws on concrete states
# ---------------------------------------------------------------------------------------------


def assert_join_laws(x: Any, y: Any, z: Any, bottom: Any) -> None:
    """``join`` is commutative, associative, idempotent and pure; ``merge`` is ``join`` in place;
    ``bottom`` is the identity."""
    before = [x.copy(), y.copy(), z.copy()]
    assert x.join(y) == y.join(x), "join is not commutative"
    assert x.join(y).join(z) == x.join(y.join(z)), "join is not associative"
    assert x.join(x) == x, "join is not idempotent"
    assert [x, y, z] == before, "join must not mutate its operands"
    m = x.copy()
    m.merge(y)
    assert m == x.join(y), "merge differs from join"
    assert y == before[1], "merge must not mutate its argument"
    m.merge(m)
    assert m == x.join(y), "merging a state into itself changed it"
    assert x.join(bottom) == x and bottom.join(x) == x, "bottom is not the identity of join"


def assert_leq_order(x: Any, y: Any, bottom: Any) -> None:
    """``leq`` is the order of the lattice: ``x <= y`` iff ``x ⊔ y == y``."""
    j = x.join(y)
    assert x.leq(j) and y.leq(j), "a state is not <= its join with another"
    assert x.leq(x), "leq is not reflexive"
    assert bottom.leq(x), "bottom is not <= every state"
    assert x.leq(y) == (j == y), "x <= y must hold exactly when x ⊔ y == y"
    assert (x.leq(y) and y.leq(x)) == (x == y), "leq is not antisymmetric (or == disagrees)"


def assert_inflation(before: Any, after: Any, delta: Any, bottom: Any) -> None:
    """A delta-mutator took ``before`` to ``after`` and returned ``delta``: ``m(x) == x ⊔ d``,
    the delta is part of the new state, and a no-op returns bottom."""
    assert type(delta) is type(after), "a mutator must return a delta of the state's own type"
    assert after == before.join(delta), "m(x) must equal x ⊔ delta"
    assert delta.leq(after), "the delta is not <= the new state"
    if after == before:
        assert delta == bottom, "a no-op mutation returns bottom"


def assert_decomposition(x: Any, bottom: Any) -> None:
    """``x.decompose()`` joins back to ``x`` and none of its parts is redundant or bottom."""
    parts = x.decompose()
    total = bottom.copy()
    for p in parts:
        assert p != bottom, "bottom is never part of an irreducible decomposition"
        assert p.leq(x), "a part of the decomposition is not <= the state"
        total.merge(p)
    assert total == x, "the decomposition does not join back to the state"
    for i, p in enumerate(parts):
        rest = bottom.copy()
        for q in itertools.chain(parts[:i], parts[i + 1 :]):
            rest.merge(q)
        assert not p.leq(rest), f"decomposition element {p!r} is redundant"


def assert_minimal_diff(x: Any, y: Any, bottom: Any) -> None:
    """``x.diff(y)`` brings ``y`` up to ``x ⊔ y`` and ships no part ``y`` already has."""
    d = x.diff(y)
    assert y.join(d) == x.join(y), "y ⊔ x.diff(y) must equal x ⊔ y"
    assert d.leq(x), "the diff is not <= its source"
    for p in d.decompose():
        assert not p.leq(y), "diff ships a part the receiver already has"
    assert x.diff(x) == bottom, "x.diff(x) must be bottom"


def assert_absorb(x: Any, d: Any, later: Any = None) -> Any:
    """``x.absorb(d)`` joins ``d`` into ``x`` in place and returns exactly what ``x`` lacked.

    With ``old`` a copy of ``x`` from before: afterwards ``x == old ⊔ d``; the result is
    ``None`` iff ``d <= old``; otherwise it equals ``d.diff(old)`` in value (so ``old ⊔ D ==
    old ⊔ d`` and ``D <= d``). Equality, not merely "no bigger": ``d.diff(old)`` is the join of
    the irreducible parts of ``d`` that ``old`` lacks, the one minimal such delta, so a correct
    fused ``absorb`` cannot return anything else. A type without ``absorb`` (not a
    :class:`~crdts.Lattice`) is checked with ``Lattice.absorb``, the ``leq``/``diff``/``merge``
    sequence the sync engine then uses. ``d`` is left unchanged, and when ``later`` is
    given it is merged into ``x`` afterwards, which must change neither ``d`` nor the result
    (``x`` keeps no mutable part of them). Returns the result."""
    aliased = d is x
    own = getattr(x, "absorb", None)
    # a type without absorb gets what the sync engine does for it: the Lattice default
    absorb: Callable[[Any], Any] = own if own is not None else lambda d: Lattice.absorb(x, d)
    old = x.copy()
    d_before = d.copy()
    was_leq = d.leq(old)
    want = old.join(d)
    minimal = d.diff(old)
    got = absorb(d)
    assert x == want, "after x.absorb(d), x must equal old x ⊔ d"
    if not aliased:
        assert d == d_before, "absorb must not mutate its argument"
    if was_leq:
        assert got is None, "absorb must return None when d <= x (nothing new)"
        return got
    assert got is not None, "absorb returned None but d was not <= x"
    assert type(got) is type(x), "absorb must return a delta of the state's own type"
    assert got == minimal, "absorb must return what x lacked: d.diff(old x) in value"
    assert old.join(got) == want, "old x ⊔ absorb(d) must equal old x ⊔ d"
    assert got.leq(d), "the part absorb returns is not <= d"
    if later is not None:
        got_before = got.copy()
        x.merge(later)
        assert got == got_before, "mutating x afterwards changed the delta absorb returned"
        if not aliased:
            assert d == d_before, "mutating x afterwards changed the absorbed d"
    return got


def assert_codec_round_trip(
    x: Any,
    encode: Callable[[Any], bytes] = encode,
    decode: Callable[[bytes], Any] = decode,
) -> None:
    """``decode(encode(x)) == x``, with the same type and an exactly equal value."""
    b = encode(x)
    assert isinstance(b, bytes), "encode must return bytes"
    y = decode(b)
    assert type(y) is type(x), "decode returned another type"
    assert y == x, "decode(encode(x)) != x"
    assert typed(y.value) == typed(x.value), "values must round-trip exactly (types too)"


# ---------------------------------------------------------------------------------------------
# The laws over reachable states
# ---------------------------------------------------------------------------------------------


def _run(
    spec: TypeSpec, check: str, test: Callable[..., None], settings: hypothesis.settings | None
) -> None:
    # one Hypothesis database entry per (check, type), not one shared by every type
    inner: Any = test
    inner._hypothesis_internal_add_digest = f"{check}[{spec.name}]".encode()
    wrapped = given(data=st.data())(test)
    if settings is not None:
        wrapped = settings(wrapped)
    wrapped()


def _rotations(u: Universe) -> list[tuple[Any, Any, Any]]:
    a, b, c = u.states.values()
    return [(a, b, c), (b, c, a), (c, a, b)]


def check_join_laws(
    spec: TypeSpec, *, settings: hypothesis.settings | None = None, max_steps: int = 10
) -> None:
    """:func:`assert_join_laws` on states and deltas of random histories."""

    def join_laws(data: st.DataObject) -> None:
        u = data.draw(universes(spec, max_steps))
        bottom = spec.new()
        for x, y, z in _rotations(u):  # every pair of replicas, where collisions meet
            assert_join_laws(x, y, z, bottom)
        x, y, z = pick(u, data, 3)
        assert_join_laws(x, y, z, bottom)

    _run(spec, "join_laws", join_laws, settings)


def check_leq_order(
    spec: TypeSpec, *, settings: hypothesis.settings | None = None, max_steps: int = 10
) -> None:
    """:func:`assert_leq_order` on states and deltas of random histories."""

    def leq_order(data: st.DataObject) -> None:
        u = data.draw(universes(spec, max_steps))
        for x, y, _ in _rotations(u):
            assert_leq_order(x, y, spec.new())
        x, y = pick(u, data, 2)
        assert_leq_order(x, y, spec.new())

    _run(spec, "leq_order", leq_order, settings)


def check_delta_inflation(
    spec: TypeSpec, *, settings: hypothesis.settings | None = None, max_steps: int = 10
) -> None:
    """Every mutator, applied to any replica of a random history, returns an inflating delta
    (:func:`assert_inflation`), which also round-trips the codec when the spec has one."""

    def delta_inflation(data: st.DataObject) -> None:
        u = data.draw(universes(spec, max_steps))
        replica = data.draw(st.sampled_from(sorted(u.states)))
        op = data.draw(st.sampled_from(spec.ops))
        args = data.draw(op.args)
        x = u.states[replica]
        before = x.copy()
        delta, _ = apply_op(u, replica, op, args)
        assert type(delta) is spec.cls, f"{op.name} returned a {type(delta).__name__}"
        assert_inflation(before, x, delta, spec.new())
        if spec.codec:
            assert decode(encode(delta)) == delta

    _run(spec, "delta_inflation", delta_inflation, settings)


def check_decomposition(
    spec: TypeSpec, *, settings: hypothesis.settings | None = None, max_steps: int = 10
) -> None:
    """:func:`assert_decomposition` on states and deltas of random histories."""

    def decomposition(data: st.DataObject) -> None:
        (x,) = pick(data.draw(universes(spec, max_steps)), data, 1)
        assert_decomposition(x, spec.new())

    _run(spec, "decomposition", decomposition, settings)


def check_minimal_diff(
    spec: TypeSpec, *, settings: hypothesis.settings | None = None, max_steps: int = 10
) -> None:
    """:func:`assert_minimal_diff` on states and deltas of random histories."""

    def minimal_diff(data: st.DataObject) -> None:
        u = data.draw(universes(spec, max_steps))
        for x, y, _ in _rotations(u):
            assert_minimal_diff(x, y, spec.new())
            assert_minimal_diff(y, x, spec.new())
        x, y = pick(u, data, 2)
        assert_minimal_diff(x, y, spec.new())

    _run(spec, "minimal_diff", minimal_diff, settings)


def check_absorb(
    spec: TypeSpec, *, settings: hypothesis.settings | None = None, max_steps: int = 10
) -> None:
    """:func:`assert_absorb` on states and deltas of random histories: each replica absorbs
    another replica's state, a delta, a diff and a random part of a decomposition (partial
    delivery), then a mutator runs on it (which must not change what absorb returned), and
    absorbing the same again returns ``None``."""

    def absorb(data: st.DataObject) -> None:
        u = data.draw(universes(spec, max_steps))
        for x, y, z in _rotations(u):
            assert_absorb(x.copy(), y, z)
        x, d, z = pick(u, data, 3)
        assert_absorb(x.copy(), d, z)
        own = x.copy()
        assert_absorb(own, own)  # a state absorbing itself: nothing new
        replica = data.draw(st.sampled_from(sorted(u.states)))
        src = data.draw(st.sampled_from(sorted(u.states)))
        x, y = u.states[replica], u.states[src]
        parts = y.decompose()
        mask = data.draw(st.integers(0, (1 << 64) - 1))
        for d in (y.diff(x), *(p for i, p in enumerate(parts) if (mask >> (i % 64)) & 1)):
            got = assert_absorb(x, d)
            if got is not None:  # a mutator on the receiver leaves the returned delta alone
                before = got.copy()
                op = data.draw(st.sampled_from(spec.ops))
                apply_op(u, replica, op, data.draw(op.args))
                assert got == before, "a mutator on x changed the delta absorb returned"
            assert assert_absorb(x, d) is None, "absorbing the same delta twice changed x"

    _run(spec, "absorb", absorb, settings)


def _needs_codec(spec: TypeSpec) -> None:
    if not spec.codec:
        raise ValueError(
            f"TypeSpec {spec.name} has codec=False: register the type with crdts.register "
            "(see docs/testing.md) to check its codec"
        )


def check_codec_round_trip(
    spec: TypeSpec, *, settings: hypothesis.settings | None = None, max_steps: int = 10
) -> None:
    """:func:`assert_codec_round_trip` on every state and delta of random histories."""
    _needs_codec(spec)

    def codec_round_trip(data: st.DataObject) -> None:
        for x in data.draw(universes(spec, max_steps)).all_states():
            assert_codec_round_trip(x)

    _run(spec, "codec_round_trip", codec_round_trip, settings)


def check_canonical_encoding(
    spec: TypeSpec, *, settings: hypothesis.settings | None = None, max_steps: int = 10
) -> None:
    """Equal states reached in different orders (joins permuted, rebuilt part by part in
    reverse) give equal ``encode(x, canonical=True)`` bytes, which decode back to the state."""
    _needs_codec(spec)

    def canonical_encoding(data: st.DataObject) -> None:
        x, y, z = pick(data.draw(universes(spec, max_steps)), data, 3)
        a = x.join(y).join(z)
        b = z.join(y).join(x)
        c = spec.new()
        for part in reversed(a.decompose()):
            c.merge(part)
        assert a == b == c
        ca = encode(a, canonical=True)
        assert encode(b, canonical=True) == ca, "canonical bytes depend on the join order"
        assert encode(c, canonical=True) == ca, "canonical bytes depend on the build order"
        assert decode(ca) == a

    _run(spec, "canonical_encoding", canonical_encoding, settings)


def _only_decode_error(b: bytes) -> None:
    try:
        x = decode(b)
    except DecodeError:
        return
    # bytes that happen to form a valid message must give a well-formed state
    assert x.join(x) == x
    assert decode(encode(x)) == x


def check_decode_errors(
    spec: TypeSpec, *, settings: hypothesis.settings | None = None, max_steps: int = 6
) -> None:
    """Truncated, corrupted, extended and garbage encodings raise :class:`~crdts.DecodeError`
    (or decode to a well-formed state), never anything else."""
    _needs_codec(spec)

    def decode_errors(data: st.DataObject) -> None:
        u = data.draw(universes(spec, max_steps))
        b = encode(u.states[data.draw(st.sampled_from(sorted(u.states)))])
        cut = data.draw(st.integers(0, len(b) - 1))
        try:
            decode(b[:cut])  # every strict prefix is truncated msgpack
        except DecodeError:
            pass
        else:
            raise AssertionError(f"a {cut}-byte prefix of a {len(b)}-byte encoding decoded")
        pos = data.draw(st.integers(0, len(b) - 1))
        byte = data.draw(st.integers(0, 255))
        _only_decode_error(b[:pos] + bytes([byte]) + b[pos + 1 :])
        _only_decode_error(b[:pos] + bytes([byte]) + b[pos:])
        _only_decode_error(b[:pos] + b[pos + 1 :])
        _only_decode_error(b + data.draw(st.binary(min_size=1, max_size=4)))
        junk = data.draw(st.binary(max_size=64))
        _only_decode_error(junk)
        _only_decode_error(encode(spec.new())[:2] + junk)  # garbage behind a valid header

    _run(spec, "decode_errors", decode_errors, settings)


def check_unseen_keys_survive(
    spec: TypeSpec, *, settings: hypothesis.settings | None = None, max_steps: int = 10
) -> None:
    """For keyed types (``fresh_key``/``has_key``): merging any part of a peer's decomposition,
    or its diff against a third state, never deletes a key the peer never saw (a context shipped
    with a partial payload must not over-claim)."""
    if spec.fresh_key is None or spec.has_key is None:
        raise ValueError(f"TypeSpec {spec.name} has no fresh_key/has_key")
    fresh_key, has_key = spec.fresh_key, spec.has_key

    def unseen_keys_survive(data: st.DataObject) -> None:
        u = data.draw(universes(spec, max_steps))
        peer, receiver = u.states["a"], u.states["c"]
        fresh_key(receiver, "c", "unseen-by-the-peer")
        assert has_key(receiver.value, "unseen-by-the-peer")
        parts = peer.decompose()
        chosen = data.draw(st.lists(st.integers(0, max(0, len(parts) - 1)), max_size=len(parts)))
        r = receiver.copy()
        for i in chosen:
            r.merge(parts[i])
            assert has_key(r.value, "unseen-by-the-peer"), "a part deleted a key it never saw"
        r.merge(peer.diff(u.states["b"]))
        assert has_key(r.value, "unseen-by-the-peer"), "a diff deleted a key it never saw"

    _run(spec, "unseen_keys_survive", unseen_keys_survive, settings)


LAW_CHECKS: dict[str, Callable[..., None]] = {
    "join_laws": check_join_laws,
    "leq_order": check_leq_order,
    "delta_inflation": check_delta_inflation,
    "decomposition": check_decomposition,
    "minimal_diff": check_minimal_diff,
    "absorb": check_absorb,
    "codec_round_trip": check_codec_round_trip,
    "canonical_encoding": check_canonical_encoding,
    "decode_errors": check_decode_errors,
}
"""Every law check by name (the codec ones need ``spec.codec``)."""


def check_laws(
    spec: TypeSpec, *, settings: hypothesis.settings | None = None, max_steps: int = 10
) -> None:
    """Every check of :data:`LAW_CHECKS` that applies to ``spec``, one after the other (the first
    failing law fails the call; parametrise over ``LAW_CHECKS`` to see them one by one)."""
    codec = {"codec_round_trip", "canonical_encoding", "decode_errors"}
    for name, check in LAW_CHECKS.items():
        if spec.codec or name not in codec:
            check(spec, settings=settings, max_steps=max_steps)
    if spec.fresh_key is not None and spec.has_key is not None:
        check_unseen_keys_survive(spec, settings=settings, max_steps=max_steps)
