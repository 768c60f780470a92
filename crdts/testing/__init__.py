"""The property-test suite of ``crdts``, for your own CRDTs and your app's use of ours.

Needs Hypothesis: ``pip install "deltamesh[testing]"``. The package's own law suite runs on
exactly this module. Guide and worked example: ``docs/testing.md``.

Describe a type with a :class:`TypeSpec` (its mutators as :class:`Op`/:func:`mutator`, their
argument strategies, optionally a sequential model), then, in a pytest file::

    from crdts.testing import check_convergence, check_laws

    def test_laws() -> None:
        check_laws(MY_SPEC)          # join laws, leq, delta inflation, decomposition, diff, codec

    def test_convergence() -> None:
        check_convergence(MY_SPEC)   # lost, duplicated and reordered deltas

Built-in types: :data:`BUILTIN_SPECS`, :func:`spec_for`. States for your own properties:
:func:`reachable_states` (one state) and :func:`universes` (whole histories across replicas,
biased toward collisions: the same element added on several replicas, partial delivery, a
remove from a third).
"""

from __future__ import annotations

try:
    import hypothesis as _hypothesis  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised without the extra only
    raise ImportError('crdts.testing needs Hypothesis: pip install "deltamesh[testing]"') from e

from crdts.testing._builtin import (
    AMOUNTS,
    AWLWWMAP_SPEC,
    BUILTIN_SPECS,
    ELEMS,
    KEYS,
    VALUES,
    WALLS,
    spec_for,
)
from crdts.testing._convergence import Convergence, check_convergence, convergence_machine
from crdts.testing._histories import (
    Universe,
    apply_op,
    pick,
    reachable_states,
    run_history,
    typed,
    universes,
)
from crdts.testing._laws import (
    LAW_CHECKS,
    assert_absorb,
    assert_codec_round_trip,
    assert_decomposition,
    assert_inflation,
    assert_join_laws,
    assert_leq_order,
    assert_minimal_diff,
    check_absorb,
    check_canonical_encoding,
    check_codec_round_trip,
    check_decode_errors,
    check_decomposition,
    check_delta_inflation,
    check_join_laws,
    check_laws,
    check_leq_order,
    check_minimal_diff,
    check_unseen_keys_survive,
)
from crdts.testing._spec import REPLICAS, Env, Event, Model, Op, TypeSpec, mutator

__all__ = [
    "AMOUNTS",
    "AWLWWMAP_SPEC",
    "BUILTIN_SPECS",
    "ELEMS",
    "KEYS",
    "LAW_CHECKS",
    "REPLICAS",
    "VALUES",
    "WALLS",
    "Convergence",
    "Env",
    "Event",
    "Model",
    "Op",
    "TypeSpec",
    "Universe",
    "apply_op",
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
    "check_convergence",
    "check_decode_errors",
    "check_decomposition",
    "check_delta_inflation",
    "check_join_laws",
    "check_laws",
    "check_leq_order",
    "check_minimal_diff",
    "check_unseen_keys_survive",
    "convergence_machine",
    "mutator",
    "pick",
    "reachable_states",
    "run_history",
    "spec_for",
    "typed",
    "universes",
]
