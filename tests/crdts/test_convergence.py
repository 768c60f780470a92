"""Convergence under a hostile network, one Hypothesis state machine per type: the public
:func:`crdts.testing.check_convergence` (lost, duplicated and reordered deltas; every causal
replica matches the sequential model at every step; all replicas equal after a final exchange).
"""

from __future__ import annotations

import pytest
from hypothesis import settings

from crdts.testing import BUILTIN_SPECS, TypeSpec, check_convergence


@pytest.mark.parametrize("spec", BUILTIN_SPECS, ids=[s.name for s in BUILTIN_SPECS])
def test_replicas_converge_to_the_model(spec: TypeSpec) -> None:
    check_convergence(spec, settings=settings(max_examples=50), steps=40)
