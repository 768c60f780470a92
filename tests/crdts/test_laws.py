"""The CRDT law suite, parametrised over every type of ``crdts`` (``AWLWWMap`` included).

The suite is the public :mod:`crdts.testing` (the same checks users run on their own types):
states are never arbitrary internal data but come from random operation histories across three
replicas, biased toward collisions, so they are exactly the states a deployment can reach. Each
law is checked on replica states *and* on the deltas the history produced (deltas are states too).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings

from crdts.testing import BUILTIN_SPECS, LAW_CHECKS, TypeSpec, check_unseen_keys_survive

SPEC_IDS = [s.name for s in BUILTIN_SPECS]
KEYED_SPECS = [s for s in BUILTIN_SPECS if s.fresh_key is not None]

# A budget per law and type that keeps the whole suite lean (the CI profile's derandomisation and
# database settings still apply: these settings only set the number of examples).
LAW = settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
DECODE = settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("spec", BUILTIN_SPECS, ids=SPEC_IDS)
@pytest.mark.parametrize("law", sorted(LAW_CHECKS))
def test_law(law: str, spec: TypeSpec) -> None:
    check: Callable[..., None] = LAW_CHECKS[law]
    check(spec, settings=DECODE if law == "decode_errors" else LAW)


@pytest.mark.parametrize("spec", KEYED_SPECS, ids=[s.name for s in KEYED_SPECS])
def test_any_part_of_a_peer_never_deletes_an_unseen_key(spec: TypeSpec) -> None:
    check_unseen_keys_survive(spec, settings=settings(max_examples=40))
