"""Convergence under a hostile network, one Hypothesis state machine per type.

Three replicas mutate at random; every delta is put in a bag of in-flight messages from which
Hypothesis picks what happens next: deliver (through the codec), duplicate (deliver and keep it in
flight), or drop. Replicas also merge each other's full states and diffs. Throughout, every causal
replica shows exactly the value the sequential model predicts for what it has received; after a
final exchange all replicas are equal and show the model's value for the whole history.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from crdts import decode, encode
from tests.crdts.specs import REPLICAS, SPEC_IDS, SPECS, Env, Model, TypeSpec, Universe, apply_op

replicas = st.sampled_from(REPLICAS)


class Convergence(RuleBasedStateMachine):
    spec: TypeSpec

    def __init__(self) -> None:
        super().__init__()
        spec = self.spec
        self.u = Universe(spec, {r: spec.cls() for r in REPLICAS}, [], Env(), Model(spec))
        self.bag: list[tuple[str, Any, int]] = []  # (destination, delta, event id) in flight

    @rule(replica=replicas, data=st.data())
    def mutate(self, replica: str, data: st.DataObject) -> None:
        op = data.draw(st.sampled_from(self.spec.ops), label="op")
        args = data.draw(op.args, label="args")
        delta, event = apply_op(self.u, replica, op, args)
        self.bag.extend((dst, delta, event.id) for dst in REPLICAS if dst != replica)

    @precondition(lambda self: self.bag)
    @rule(data=st.data(), action=st.sampled_from(["deliver", "duplicate", "drop"]))
    def network(self, data: st.DataObject, action: str) -> None:
        i = data.draw(st.integers(0, len(self.bag) - 1), label="message")
        dst, delta, event_id = self.bag[i]
        if action != "duplicate":
            self.bag.pop(i)
        if action != "drop":
            self.u.states[dst].merge(decode(encode(delta)))
            self.u.model.deliver_delta(dst, event_id)

    @rule(src=replicas, dst=replicas, how=st.sampled_from(["state", "diff"]))
    def exchange(self, src: str, dst: str, how: str) -> None:
        x, y = self.u.states[src], self.u.states[dst]
        y.merge(decode(encode(x if how == "state" else x.diff(y))))
        self.u.model.deliver_state(src, dst)

    @invariant()
    def causal_replicas_match_the_model(self) -> None:
        if self.spec.causal:
            for r, x in self.u.states.items():
                assert x.value == self.u.model.value(r), f"replica {r}"

    def teardown(self) -> None:
        states = list(self.u.states.values())
        total = self.spec.cls()
        for x in states:
            total.merge(x)
        for x in states:
            x.merge(total)
        for x in states:
            assert x == total
        assert total.value == self.u.model.value()


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_replicas_converge_to_the_model(spec: TypeSpec) -> None:
    machine = type(f"Convergence{spec.name}", (Convergence,), {"spec": spec})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=50,
            stateful_step_count=40,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
