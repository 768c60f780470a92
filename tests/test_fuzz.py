"""Every decoder a peer can reach, and every core's ``handle``, fed mutated valid inputs
(Hypothesis, bounded: a few seconds per target). The long, seeded run of the same targets is
``python -m benchmarks.fuzz`` (figures in ``docs/security.md``)."""

from __future__ import annotations

import contextlib
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz import CORES, DECODERS, Target, mutate

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _inputs(t: Target) -> st.SearchStrategy[bytes]:
    seeds = t.seeds()
    assert seeds, f"{t.name}: no valid input to start from"
    mutated = st.builds(
        mutate,
        st.sampled_from(seeds),
        st.randoms(use_true_random=False),
        st.sampled_from(seeds),
    )
    return st.one_of(st.sampled_from(seeds), mutated, st.binary(max_size=64))


@pytest.mark.parametrize("target", DECODERS, ids=lambda t: t.name)
def test_a_decoder_raises_only_its_typed_error(target: Target) -> None:
    @_SETTINGS
    @given(_inputs(target))
    def check(data: bytes) -> None:
        with contextlib.suppress(*target.allowed):
            target.run(data)

    check()


@pytest.mark.parametrize("target", CORES, ids=lambda t: t.name)
def test_nothing_escapes_a_cores_handle(target: Target) -> None:
    @_SETTINGS
    @given(_inputs(target))
    def check(data: bytes) -> None:
        target.run(data)  # allowed is empty: any exception fails the test

    check()


def test_mutations_are_deterministic_for_a_seed() -> None:
    a = mutate(b"\x93\x01\x02\x03" * 8, random.Random(5), b"\x90")
    b = mutate(b"\x93\x01\x02\x03" * 8, random.Random(5), b"\x90")
    assert a == b
