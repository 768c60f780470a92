"""Convergence under a hostile network: a Hypothesis state machine per type.

Three replicas mutate at random, and collide (the same element added on two replicas; a third
that saw only one of the adds removes it). Every delta is put in a bag of in-flight messages from
which Hypothesis picks what happens next: deliver (through the codec), duplicate (deliver and keep
it in flight), or drop; it picks *which* message, so deltas are also reordered. Replicas also merge
each other's full states and diffs. With a model (``spec.model_value``), every causal replica shows
at every step exactly the value the model predicts for what it has received; after a final exchange
all replicas are equal (and show the model's value for the whole history).
"""

from __future__ import annotations

from typing import Any

import hypothesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from crdts._codec import decode, encode
from crdts.testing._histories import Universe, apply_op, collision_ops, shared_target
from crdts.testing._spec import REPLICAS, TypeSpec

__all__ = ["Convergence", "check_convergence", "convergence_machine"]

_replicas = st.sampled_from(REPLICAS)


class Convergence(RuleBasedStateMachine):
    """The machine; :func:`convergence_machine` makes the subclass for one spec."""

    spec: TypeSpec

    def __init__(self) -> None:
        super().__init__()
        self.u = Universe.empty(self.spec)
        self.bag: list[tuple[str, Any, int]] = []  # (destination, delta, event id) in flight

    def _wire(self, x: Any) -> Any:
        return decode(encode(x)) if self.spec.codec else x.copy()

    @rule(replica=_replicas, data=st.data())
    def mutate(self, replica: str, data: st.DataObject) -> None:
        op = data.draw(st.sampled_from(self.spec.ops), label="op")
        args = data.draw(op.args, label="args")
        delta, event = apply_op(self.u, replica, op, args)
        self.bag.extend((dst, delta, event.id) for dst in REPLICAS if dst != replica)

    @rule(order=st.permutations(REPLICAS), data=st.data())
    def collide(self, order: list[str], data: st.DataObject) -> None:
        """Two replicas apply the same op to the same target (add one element); only the first
        one's delta reaches the third at once (the rest stays in flight); the third then acts on
        that target with another op (removes it, having observed one of its dots)."""
        w0, w1, third = order
        oi, oj = data.draw(collision_ops(len(self.spec.ops)), label="ops")
        op, op_j = self.spec.ops[oi], self.spec.ops[oj]
        args = data.draw(op.args, label="args")
        d0, e0 = apply_op(self.u, w0, op, args)
        d1, e1 = apply_op(self.u, w1, op, args)
        self.u.states[third].merge(self._wire(d0))
        self.u.model.deliver_delta(third, e0.id)
        self.bag += [(w1, d0, e0.id), (w0, d1, e1.id), (third, d1, e1.id)]
        args_j = shared_target(args, op.target, data.draw(op_j.args, label="args_j"), op_j.target)
        dj, ej = apply_op(self.u, third, op_j, args_j)
        self.bag += [(w0, dj, ej.id), (w1, dj, ej.id)]

    @precondition(lambda self: self.bag)
    @rule(data=st.data(), action=st.sampled_from(["deliver", "duplicate", "drop"]))
    def network(self, data: st.DataObject, action: str) -> None:
        i = data.draw(st.integers(0, len(self.bag) - 1), label="message")
        dst, delta, event_id = self.bag[i]
        if action != "duplicate":
            self.bag.pop(i)
        if action != "drop":
            self.u.states[dst].merge(self._wire(delta))
            self.u.model.deliver_delta(dst, event_id)

    @rule(src=_replicas, dst=_replicas, how=st.sampled_from(["state", "diff"]))
    def exchange(self, src: str, dst: str, how: str) -> None:
        x, y = self.u.states[src], self.u.states[dst]
        y.merge(self._wire(x if how == "state" else x.diff(y)))
        self.u.model.deliver_state(src, dst)

    @invariant()
    def causal_replicas_match_the_model(self) -> None:
        if self.spec.causal and self.spec.model_value is not None:
            for r, x in self.u.states.items():
                assert x.value == self.u.model.value(r), f"replica {r}"

    def teardown(self) -> None:
        states = list(self.u.states.values())
        total = self.spec.new()
        for x in states:
            total.merge(x)
        for x in states:
            x.merge(total)
        for x in states:
            assert x == total, "replicas did not converge after a full exchange"
        if self.spec.model_value is not None:
            assert total.value == self.u.model.value()


def convergence_machine(spec: TypeSpec) -> type[Convergence]:
    """The state machine for ``spec``. ``convergence_machine(spec).TestCase`` is a unittest
    class pytest collects; or call :func:`check_convergence`."""
    return type(f"Convergence{spec.name}", (Convergence,), {"spec": spec})


def check_convergence(
    spec: TypeSpec, *, settings: hypothesis.settings | None = None, steps: int = 40
) -> None:
    """Run the convergence machine of ``spec`` (``steps`` rules per run; ``settings`` overrides
    the active Hypothesis profile)."""
    base = settings or hypothesis.settings()
    run_state_machine_as_test(
        convergence_machine(spec),
        settings=hypothesis.settings(
            base,
            stateful_step_count=steps,
            suppress_health_check=[
                *base.suppress_health_check,
                HealthCheck.too_slow,
                HealthCheck.filter_too_much,
            ],
        ),
    )
