"""A part of a state carries only the causal context of what it holds.

Merging any subset of a peer's decomposition (what a bounded sync message ships) never deletes a
key the receiver has and the peer never saw (key level: ``crdts.testing.check_unseen_keys_survive``,
run by ``test_laws.py``; dot level: below). A context that over-claims (a payload shipped with
the sender's *whole* context) would delete it: the last test shows that this is what the check
guards against.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crdts import CausalContext, ORSet
from crdts._dotstore import Causal
from crdts.testing import BUILTIN_SPECS, TypeSpec, universes

causal_specs = [s for s in BUILTIN_SPECS if issubclass(s.cls, Causal)]


@pytest.mark.parametrize("spec", causal_specs, ids=[s.name for s in causal_specs])
@settings(max_examples=40)
@given(data=st.data())
def test_any_part_of_a_peer_keeps_every_dot_it_never_saw(
    spec: TypeSpec, data: st.DataObject
) -> None:
    """Dot-level form, for every causal type: live dots the peer never saw stay live."""
    u = data.draw(universes(spec))
    peer, receiver = u.states["a"], u.states["c"]
    unseen = {d for d in receiver._s_dots(receiver._store) if not peer.context.contains(d)}
    parts = peer.decompose()
    chosen = data.draw(st.lists(st.integers(0, max(0, len(parts) - 1)), max_size=len(parts)))
    r = receiver.copy()
    for i in chosen:
        r.merge(parts[i])
    assert unseen <= set(r._s_dots(r._store))


def test_an_over_claiming_context_would_delete_the_unseen_key() -> None:
    peer, receiver = ORSet(), ORSet()
    peer.add("a", "apple")
    receiver.add("c", "plum")  # dot ("c", 1): the peer never saw it
    (part,) = peer.decompose()
    assert part.context == CausalContext.from_dots([("a", 1)])
    r = receiver.copy()
    r.merge(part)
    assert r.value == {"apple", "plum"}
    # The same payload with a context claiming ("c", 1) (a version vector shipped with a partial
    # payload, the bug of a peer library) deletes the plum: what the restriction prevents.
    over = ORSet._make({"apple": {("a", 1)}}, CausalContext({"a": 1, "c": 1}))
    r = receiver.copy()
    r.merge(over)
    assert r.value == {"apple"}
