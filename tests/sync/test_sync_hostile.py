"""A peer that holds the cluster key and sends well-formed but hostile messages (issue 12, the
findings about sync): each test's input is the issue's reproducer, and each failed on the code
before the fix."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import Any

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


# -- finding 5: a forged causal context enumerated in the receive path ------------------------

CAUSAL = [crdts.ORSet, crdts.AWLWWMap, crdts.MVRegister, crdts.CausalCounter, crdts.ORMap]


def _write(cls: type, e: SyncEngine, replica: str, i: int) -> None:
    fns: dict[type, Callable[[Any], Any]] = {
        crdts.ORSet: lambda s: s.add(replica, f"{replica}{i}"),
        crdts.AWLWWMap: lambda s: s.put(replica, f"{replica}{i}", i, i),
        crdts.MVRegister: lambda s: s.set(replica, f"{replica}{i}"),
        crdts.CausalCounter: lambda s: s.increment(replica, 1),
        crdts.ORMap: lambda s: s.update(
            f"{replica}{i}", crdts.ORSet, lambda o: o.add(replica, "x")
        ),
    }
    e.update("k", fns[cls], create=cls)


def _forged_frame(cls: type, claim: int) -> bytes:
    """The issue's frame: a bottom store whose context claims ``claim`` events of ``w``."""
    x = cls()
    x._cc = crdts.CausalContext({"w": claim})
    return encode_message(Delta(7, 1, 2, [("k", crdts.encode(x))]))


@pytest.mark.parametrize("cls", CAUSAL, ids=lambda c: c.__name__)
@pytest.mark.parametrize("mode", ALL_MODES, ids=lambda m: m.value)
def test_a_claim_of_many_events_costs_memory_in_its_runs_not_its_events(
    cls: type, mode: SyncMode
) -> None:
    e = _engine(mode)
    e.neighbor_up("c", 0.0)
    for i in range(3):
        _write(cls, e, "w", i)
        _write(cls, e, "v", i)
    frame = _forged_frame(cls, 200_000)
    assert len(frame) < 48
    tracemalloc.start()
    try:
        e.handle(StreamReceived("b", frame), 1.0)
        out = e.sync_now(2.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # before: ~140 bytes per claimed event (28 MB here; 10**12 events: MemoryError)
    assert peak < 1_000_000
    assert all(len(getattr(o, "data", b"")) < 4096 for o in out)  # forwarded as runs too
    assert not e.metrics.peer_errors


@pytest.mark.parametrize("cls", CAUSAL, ids=lambda c: c.__name__)
def test_a_trillion_event_claim_is_handled_and_harms_only_the_claimed_replica(cls: type) -> None:
    e = _engine(SyncMode.DEFAULT)
    for i in range(3):
        _write(cls, e, "w", i)
        _write(cls, e, "v", i)
    before = e.value("k")
    e.handle(StreamReceived("b", _forged_frame(cls, 10**12)), 1.0)
    after = e.value("k")
    # A key holder can forge dots (docs/security.md): what "w" wrote is taken as removed; what
    # anyone else wrote is untouched, and "w" can still write (its next dot is past the claim).
    if cls is crdts.CausalCounter:
        assert after == before - 3
    elif cls is crdts.MVRegister:
        assert after == frozenset({"v2"})
    else:
        assert len(after) == len(before) // 2
    _write(cls, e, "w", 99)
    x = e.get("k")
    assert x is not None and x.context.max_counter("w") == 10**12 + 1


@pytest.mark.parametrize("cls", [crdts.ORSet, crdts.AWLWWMap], ids=lambda c: c.__name__)
def test_an_oversized_object_holding_a_claim_is_split_without_listing_its_dots(cls: type) -> None:
    # after merging a forged claim, an object too big for one message is split into parts to
    # catch a new neighbour up: decompose() would list 10**12 context-only dots
    cfg = SyncConfig(max_message_bytes=1024)
    a = SyncEngine("a", cfg)
    for i in range(200):
        _write(cls, a, "v", i)
    a.neighbor_up("b", 0.0)
    a.handle(StreamReceived("b", _forged_frame(cls, 10**12)), 0.0)
    parts = a._split(a.get("k"))
    whole = parts[0][0].copy()
    for p, _ in parts[1:]:
        whole.merge(p)
    assert whole == a.get("k") and len(parts) < 50
    assert all(len(enc) < 1024 for _, enc in parts)


# -- finding 8 (sync's part): caps on per-sender state and on the cost of one object ----------


def test_hellos_from_many_claimed_sources_are_capped_and_counted() -> None:
    from sync._messages import PROTOCOL_VERSION, Hello

    e = SyncEngine("a", SyncConfig(max_early_hellos=16, max_peer_metrics=32))
    hello = encode_message(Hello(PROTOCOL_VERSION, 5, None, 0, False, False))
    for i in range(10_000):  # the issue sent 100,000: one entry each, in both structures
        e.handle(StreamReceived(f"10.0.{i >> 8}.{i & 255}:7946", hello), 0.0)
    assert len(e._early_hello) == 16
    assert e.metrics.early_hellos_dropped == 10_000 - 16
    assert len(e.metrics.peers) == 32 + 1  # 32 senders, then the shared "(others)"
    assert e.metrics.peers["(others)"].recv_msgs == 10_000 - 32
    assert e.metrics.peers_folded >= 10_000 - 32
    # a neighbour still gets its own counters and its early Hello (kept among the first 16)
    out = e.neighbor_up("10.0.0.3:7946", 0.0)
    assert e.metrics.peer("10.0.0.3:7946").recv_msgs == 1 and out
    e.neighbor_up("new:1", 0.0)
    assert "new:1" in e.metrics.peers


@pytest.mark.parametrize("mode", [SyncMode.STATE, SyncMode.DEFAULT], ids=lambda m: m.value)
def test_an_object_beyond_max_object_bytes_is_rejected_undecoded(mode: SyncMode) -> None:
    e = SyncEngine("a", SyncConfig(mode=mode, max_object_bytes=4096))
    e.neighbor_up("b", 0.0)
    big = crdts.ORSet()
    big._cc = crdts.CausalContext.from_runs([("w", c, c + 1) for c in range(3, 20_000, 2)])
    small = crdts.GSet()
    small.add("ok")
    data = crdts.encode(big)
    assert len(data) > 4096
    msg = Delta(1, 1, 2, [("big", data), ("small", crdts.encode(small))])
    e.handle(StreamReceived("b", encode_message(msg)), 0.0)
    assert "big" not in e and e.value("small") == frozenset({"ok"})
    assert e.metrics.peer_errors == {"ObjectTooLargeError": 1}


def test_decoding_a_dense_context_costs_memory_in_proportion_to_its_bytes() -> None:
    # the 6.7 MiB ORSet context took 20-23 s and 2.5 GB RSS to decode; every dot here
    # is its own run (the worst case for runs): 150,000 dots in ~150 KB
    x = crdts.ORSet()
    x._cc = crdts.CausalContext.from_runs([("w", c, c + 1) for c in range(3, 300_000, 2)])
    data = crdts.encode(x)
    tracemalloc.start()
    try:
        y = crdts.decode(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert y == x
    # ~25 bytes per input byte at peak (the unpacked msgpack array, then 16 bytes per run in a
    # packed array); the issue measured ~370 (2.5 GB for 6.7 MiB), a (replica, counter) tuple
    # and an int object per dot
    assert peak < 48 * len(data)
