"""A peer that holds the cluster key and sends well-formed but hostile messages (issue 12, the
findings about sync): each test's input is the issue's reproducer, and each failed on the code
before the fix."""

from __future__ import annotations

import pytest

import crdts
from gossip._events import SendStream, StreamReceived
from sync import SyncConfig, SyncEngine, SyncMode
from sync._messages import Delta, Objects, encode_message

ALL_MODES = list(SyncMode)


def _engine(mode: SyncMode) -> SyncEngine:
    e = SyncEngine("a", SyncConfig(mode=mode))
    e.neighbor_up("b", 0.0)
    return e


# -- finding 6: a non-CRDT object accepted as a sync object ------------------------------------


@pytest.mark.parametrize("mode", ALL_MODES, ids=lambda m: m.value)
def test_a_registered_non_crdt_value_is_rejected_before_anything_is_stored(mode: SyncMode) -> None:
    e = _engine(mode)
    e.update("mine", lambda s: s.add("x"), create=crdts.GSet)
    ts = crdts.encode(crdts.HLCTimestamp(5, 0, "z"))  # registered in the codec, not a CRDT
    ok = crdts.GSet()
    ok.add("y")
    objs = [("new", ts), ("mine", ts), ("fine", crdts.encode(ok))]
    for msg in (Delta(9, 1, 2, objs), Delta(9, 0, 0, objs), Objects(1, 0, 3, objs)):
        e.handle(StreamReceived("b", encode_message(msg)), 0.0)  # never raises
    assert "new" not in e
    assert e.value("mine") == frozenset({"x"})
    assert e.value("fine") == frozenset({"y"})
    assert e.metrics.peer_errors == {"NotACrdtError": 6}
    # the replica still works and still syncs
    e.update("mine", lambda s: s.add("z"), create=crdts.GSet)
    assert e.value("mine") == frozenset({"x", "z"})
    assert e.sync_now(1.0)


def test_a_non_crdt_value_does_not_spread_in_state_mode() -> None:
    cfg = SyncConfig(mode=SyncMode.STATE)
    a, b = SyncEngine("a", cfg), SyncEngine("b", cfg)
    a.neighbor_up("b", 0.0)
    b.neighbor_up("a", 0.0)
    ts = crdts.encode(crdts.HLCTimestamp(5, 0, "z"))
    a.handle(StreamReceived("x", encode_message(Delta(0, 0, 0, [("k", ts)]))), 0.0)
    a.update("cart", lambda s: s.add("apple"), create=crdts.GSet)
    for eff in a.sync_now(1.0):
        assert isinstance(eff, SendStream)
        b.handle(StreamReceived("a", eff.data), 1.0)
    assert "k" not in a and "k" not in b
    assert b.value("cart") == frozenset({"apple"})
