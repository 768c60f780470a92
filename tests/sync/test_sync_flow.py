"""Sending under load (``sync._flow``): with ``resend_timeout`` only the chunks in flight longer
than an adaptive timeout go again; ``max_inflight_bytes`` bounds what is in flight to a
neighbour, so a backlog joins into fewer deltas in the buffer; relays a neighbour reports holding
meanwhile are dropped. Simulator and engine-level; each fails on the code before sync._flow."""

from __future__ import annotations

import dataclasses

import crdts
from gossip._events import Effect, SendStream, StreamReceived
from gossip.sim import LinkModel, Uniform
from sync import SyncConfig, SyncEngine
from sync._messages import Ack, Delta, Have, Message, decode_message, encode_message
from tests.sync._cluster import Cluster

CONFIG = SyncConfig(sync_interval=0.1, resend_timeout=1.0)
FAST = LinkModel(latency=Uniform(0.001, 0.01))


def _sent(cl: Cluster, n: str) -> int:
    return cl.engine(n).metrics.total().sent_objects


def test_acks_slower_than_the_timeout_do_not_resend_the_backlog() -> None:
    # b answers 2 s late (a receiver busy for seconds): the unacknowledged interval spans ~2 s
    # of writes, and resending all of it every resend_timeout sent each delta ~3 times, which
    # is what kept a loaded receiver behind. Now a chunk goes again only once in flight longer
    # than the timeout, which learns the round trip.
    cl = Cluster(["a", "b"], CONFIG, seed=2, link=FAST, edges=[("a", "b")])
    cl.sim.set_link("b", "a", LinkModel(latency=Uniform(1.9, 2.1)), both_ways=False)
    cl.sim.run_for(3.0)
    before = _sent(cl, "a")
    writes = 150
    for i in range(writes):
        cl.add("a", f"k{i}", "x")
        cl.sim.run_for(0.1)
    assert cl.sim.run_until_true(cl.converged, timeout=30.0)
    cl.sim.run_for(10.0)
    sent = _sent(cl, "a") - before
    assert sent < 1.3 * writes, sent  # the code before: ~3 per write
    assert cl.engine("a").buffer_size == 0
    srtt = cl.engine("a")._peers["b"].flight.srtt
    assert srtt is not None and 1.8 < srtt < 2.5, srtt


def _counting(window: int) -> tuple[Cluster, int, int]:
    cfg = dataclasses.replace(CONFIG, sync_interval=0.05, max_inflight_bytes=window)
    cl = Cluster(["a", "b"], cfg, seed=4, link=LinkModel(latency=Uniform(0.45, 0.55)))
    cl.link("a", "b")
    cl.sim.run_for(3.0)
    before = _sent(cl, "a")
    peak = 0
    for i in range(400):
        cl.incr("a", f"c{i % 5}")
        cl.sim.run_for(0.01)
        peak = max(peak, cl.engine("a")._peers["b"].flight.bytes)
    assert cl.sim.run_until_true(cl.converged, timeout=30.0)
    assert [cl.engine("b").value(f"c{k}") for k in range(5)] == [80] * 5
    return cl, _sent(cl, "a") - before, peak


def test_a_full_window_lets_the_backlog_join_into_fewer_deltas() -> None:
    _, unbounded, peak_unbounded = _counting(0)
    _, windowed, peak = _counting(300)
    # 5 counters bumped 400 times over 4 s to a neighbour 1 s away: sent each round (every
    # 50 ms) without a window; with one, what accumulates while a chunk is in flight joins per
    # counter and goes as one delta each when the ack opens the window.
    assert windowed < 0.25 * unbounded, (windowed, unbounded)
    assert peak <= 300 + 1024, peak  # the window plus at most one chunk
    assert peak_unbounded > 2 * peak


def _deltas_to(out: list[Effect], peer: str) -> list[Delta]:
    msgs = [decode_message(e.data) for e in out if isinstance(e, SendStream) and e.dst == peer]
    return [m for m in msgs if isinstance(m, Delta)]


def test_a_relay_waiting_for_the_window_is_dropped_once_the_neighbour_reports_it() -> None:
    cfg = dataclasses.replace(CONFIG, relay_hold=0.5, max_inflight_bytes=64)
    b = SyncEngine("b", cfg)
    b.set_neighbors(["a", "c"], 0.0)
    ea, ec = 11, 13
    # a and c are neighbours of each other (their Have reports); b holds c's stream from 1 on
    b.handle(_stream("a", Have([("b", 0, 0), ("c", ec, 1)], ea, 0)), 0.1)
    b.handle(_stream("c", Have([("b", 0, 0), ("a", ea, 1)], ec, 0)), 0.1)
    b._recv_tracker("a", ea).raise_to(1)  # as after a catch-up
    # b's own write fills its window to c (no ack comes yet)
    b.update("own", lambda s: s.add("o" * 100), create=crdts.GSet)
    assert [m.objects[0][0] for m in _deltas_to(b.sync_now(0.2), "c")] == ["own"]
    # a delta from a, held for c (c should get it from a) ...
    d = crdts.GSet()
    d.add("x")
    b.handle(_stream("a", Delta(ea, 1, 2, [("k", crdts.encode(d))])), 0.3)
    # ... until the hold ends without c's report: the relay goes into b's buffer for c, but
    # the window is still full
    assert _deltas_to(b.sync_now(1.0), "c") == []
    assert b.metrics.relays_late == 1
    # c reports a's stream held past it, and acks b's write: the window opens
    b.handle(_stream("c", Have([("b", b.epoch, 1), ("a", ea, 2)], ec, 0)), 1.1)
    b.handle(_stream("c", Ack(b.epoch, 1, 2)), 1.1)
    assert _deltas_to(b.sync_now(1.2), "c") == []  # not sent: c has it from a
    assert b.metrics.relays_dropped == 1
    b.handle(_stream("a", Ack(b.epoch, 1, 3)), 1.3)
    b.sync_now(1.4)
    assert b.acks()["c"] == b.seq and b.buffer_size == 0


def _stream(src: str, msg: Message) -> StreamReceived:
    return StreamReceived(src, encode_message(msg))


def test_only_what_is_neither_in_flight_nor_acked_at_the_mark_goes_at_once() -> None:
    from sync._flight import Flight

    fl = Flight()
    fl.sent(8, 12, 100, 0.0, resent=False)  # in flight since 0
    fl.sent(20, 30, 100, 0.5, resent=False)
    # mark 5 (a Hello rewound it), [12, 20) acked beyond the gap: [5, 8) goes now, nothing else
    assert fl.due(5, 30, 12, 0.6, 1.0) == ([(5, 8)], False)
    # later, [8, 12) has been in flight longer than the timeout: it goes again too
    assert fl.due(5, 30, 12, 1.2, 1.0) == ([(5, 8), (8, 12)], True)
    assert fl.due(20, 30, None, 1.2, 1.0) == ([], False)  # the mark past [12, 20): all in flight
    fl.acked(8, 12, 1.3, reliable=True)
    assert fl.bytes == 100 and fl.srtt == 1.3  # a stream: the sample runs from the first send
