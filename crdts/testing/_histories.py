"""Reachable states from random histories: :func:`universes` draws a :class:`Universe`, in which
replicas ``"a"``, ``"b"``, ``"c"`` apply random operations and exchange full states, diffs or random
parts of their decompositions. Every state of one universe is causally consistent with the others
(no dot is ever minted twice): exactly the states a deployment can reach, never arbitrary internal
data.

Histories are biased toward **collisions**, the case uniform random steps almost never produce:
a *collide* step makes two replicas apply the same op to the same target (add the same element),
delivers only the first one's delta (and maybe more of its state) to a third replica (partial
delivery: it observes some of the element's dots, not all), may merge the second writer's delta
into the first (so one replica holds both dots), then makes the third replica act on that target
with another op (remove it). An
add-wins set whose merge drops an element when a remove observed only one of its dots is caught
here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from crdts.testing._spec import REPLICAS, Env, Event, Model, Op, TypeSpec

__all__ = [
    "Universe",
    "apply_op",
    "collision_ops",
    "pick",
    "reachable_states",
    "run_history",
    "shared_target",
    "typed",
    "universes",
]


@dataclass
class Universe:
    """The outcome of one random history: each replica's state and every delta produced."""

    spec: TypeSpec
    states: dict[str, Any]
    deltas: list[Any]
    env: Env
    model: Model

    @classmethod
    def empty(cls, spec: TypeSpec) -> Universe:
        """Every replica at bottom, nothing happened yet."""
        return cls(spec, {r: spec.new() for r in REPLICAS}, [], Env(), Model(spec))

    def all_states(self) -> list[Any]:
        """Replica states and deltas (deltas are states too)."""
        return [*self.states.values(), *self.deltas]


def apply_op(u: Universe, replica: str, op: Op, args: tuple[Any, ...]) -> tuple[Any, Event]:
    """Apply ``op`` at ``replica`` and record it in the model: ``(delta, event)``."""
    delta, extra = op.apply(u.states[replica], replica, args, u.env)
    event = u.model.record(replica, op.name, args, extra)
    return delta, event


def _subset(items: list[Any], mask: int) -> list[Any]:
    return [x for i, x in enumerate(items) if (mask >> (i % 64)) & 1]


def _deliver_part(u: Universe, src: str, dst: str, mask: int) -> None:
    # a random part of the source's decomposition: what a bounded message, or a lossy link that
    # delivered some deltas and not others, leaves the receiver with (the model is not told: a
    # part is not a state the model can name, and laws need no model)
    y = u.states[dst]
    for part in _subset(u.states[src].decompose(), mask):
        y.merge(part)


def shared_target(
    args: tuple[Any, ...], target: int, other: tuple[Any, ...], other_target: int
) -> tuple[Any, ...]:
    """``other`` with its leading target arguments taken from ``args`` (same element, same key):
    the first ``min(target, other_target)`` of them."""
    return _shared(args, target, other, other_target)


def _shared(
    args: tuple[Any, ...], target: int, other: tuple[Any, ...], other_target: int
) -> tuple[Any, ...]:
    k = min(target, other_target)
    return (*args[:k], *other[k:]) if k else other


def run_history(spec: TypeSpec, steps: list[tuple[Any, ...]]) -> Universe:
    """Replay ``steps`` (as drawn by :func:`universes`) from bottom."""
    u = Universe.empty(spec)
    for step in steps:
        kind = step[0]
        if kind == "op":
            _, ri, oi, args = step
            delta, _ = apply_op(u, REPLICAS[ri], spec.ops[oi], args)
            u.deltas.append(delta)
        elif kind == "sync":
            _, si, di, mode, mask = step
            src, dst = REPLICAS[si], REPLICAS[di]
            x, y = u.states[src], u.states[dst]
            if mode == "state":
                y.merge(x)
                u.model.deliver_state(src, dst)
            elif mode == "diff":
                d = x.diff(y)
                u.deltas.append(d)
                y.merge(d)
                u.model.deliver_state(src, dst)
            else:
                _deliver_part(u, src, dst, mask)
        else:  # collide
            _, order, oi, args, oj, args_j, mask, gather = step
            op, op_j = spec.ops[oi], spec.ops[oj]
            w0, w1, third = (REPLICAS[i] for i in order)
            d0, e0 = apply_op(u, w0, op, args)
            d1, e1 = apply_op(u, w1, op, args)
            u.deltas += [d0, d1]
            # partial delivery: the third replica sees w0's op (and maybe more of w0), not w1's
            u.states[third].merge(d0)
            u.model.deliver_delta(third, e0.id)
            _deliver_part(u, w0, third, mask)
            if gather:  # w0 now holds the target's dots from both writers
                u.states[w0].merge(d1)
                u.model.deliver_delta(w0, e1.id)
            delta, _ = apply_op(u, third, op_j, _shared(args, op.target, args_j, op_j.target))
            u.deltas.append(delta)
    return u


def _steps(spec: TypeSpec, max_steps: int) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    replica = st.integers(0, len(REPLICAS) - 1)
    op_steps = [
        st.tuples(st.just("op"), replica, st.just(i), op.args) for i, op in enumerate(spec.ops)
    ]
    mask = st.integers(0, (1 << 64) - 1)
    sync = st.tuples(
        st.just("sync"), replica, replica, st.sampled_from(["state", "diff", "part"]), mask
    )
    n = len(spec.ops)
    collide = collision_ops(n).flatmap(
        lambda ij: st.tuples(
            st.just("collide"),
            st.permutations(range(len(REPLICAS))),
            st.just(ij[0]),
            spec.ops[ij[0]].args,
            st.just(ij[1]),
            spec.ops[ij[1]].args,
            mask,
            st.booleans(),
        )
    )
    return st.lists(st.one_of(*op_steps, sync, collide), max_size=max_steps)


def _other(i: int, j: int, n: int) -> int:
    return i if n == 1 else (j if j < i else j + 1)


def collision_ops(n: int) -> st.SearchStrategy[tuple[int, int]]:
    """Two op indices out of ``n``: the writers' op and the third replica's (another if any)."""
    return st.tuples(st.integers(0, n - 1), st.integers(0, max(0, n - 2))).map(
        lambda ij: (ij[0], _other(ij[0], ij[1], n))
    )


def universes(spec: TypeSpec, max_steps: int = 10) -> st.SearchStrategy[Universe]:
    """Random histories of at most ``max_steps`` steps (a collide step counts as one)."""
    return _steps(spec, max_steps).map(lambda steps: run_history(spec, steps))


def pick(u: Universe, data: st.DataObject, n: int) -> list[Any]:
    """``n`` states drawn (with repetition) from a universe's replica states and deltas: half of
    the time a replica's state (where collisions meet), else a delta."""
    states = list(u.states.values())
    pool = (
        st.one_of(st.sampled_from(states), st.sampled_from(u.deltas))
        if u.deltas
        else (st.sampled_from(states))
    )
    return [data.draw(pool) for _ in range(n)]


def reachable_states(spec: TypeSpec, max_steps: int = 10) -> st.SearchStrategy[Any]:
    """One reachable state of ``spec``'s type (a replica's state or a delta of a random history):
    for property tests of code that *uses* the type."""
    return universes(spec, max_steps).flatmap(lambda u: st.sampled_from(u.all_states()))


def typed(v: Any) -> Any:
    """``v`` with every scalar tagged by its type, so ``1``, ``1.0`` and ``True`` differ."""
    if isinstance(v, (frozenset, set)):
        return frozenset(typed(x) for x in v)
    if isinstance(v, dict):
        return frozenset((typed(k), typed(x)) for k, x in v.items())
    if isinstance(v, tuple):
        return (type(v).__name__, tuple(typed(x) for x in v))
    return (type(v).__name__, v)
