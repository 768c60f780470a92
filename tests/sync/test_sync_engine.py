"""Unit tests of the sync engine core, fed synchronously (no simulator, no time model)."""

from __future__ import annotations

import random
import tracemalloc
from dataclasses import replace
from typing import Any

import pytest

import crdts
from gossip._events import Effect, SendStream, SetTimer, StreamReceived, TimerFired
from sync import (
    CatchupCompleted,
    ConfigError,
    SyncConfig,
    SyncEngine,
    SyncMode,
    UsageError,
    decode_message,
)
from sync._messages import (
    PROTOCOL_VERSION,
    Ack,
    Delta,
    Digest,
    DigestReply,
    Hello,
    Objects,
    ObjectsAck,
    encode_message,
)
from tests.sync._net import Net


def add(x: str, key: str = "s"):  # type: ignore[no-untyped-def]
    return lambda e, now: (e.update(key, lambda s: s.add(x), create=crdts.GSet), [])[1]


def test_local_update_records_delta_and_reaches_neighbour() -> None:
    net = Net(["a", "b"])
    net.link("a", "b")
    net.deliver()
    net.do("a", add("x"))
    assert net.engines["a"].buffer_size == 1
    net.round()
    assert net.engines["b"].value("s") == frozenset({"x"})
    # b buffered it for its own (absent) other neighbours? b has only a: acked by a via BP.
    net.round()
    assert net.engines["a"].buffer_size == 0
    assert net.engines["b"].buffer_size == 0


def test_update_requires_create_for_a_new_key_and_a_delta_result() -> None:
    e = SyncEngine("a")
    with pytest.raises(UsageError):
        e.update("k", lambda s: s.add(1))
    with pytest.raises(UsageError):
        e.update("k", lambda s: None, create=crdts.GSet)
    with pytest.raises(UsageError):
        e.update(3, lambda s: s.add(1), create=crdts.GSet)  # type: ignore[arg-type]


def test_buffer_is_kept_until_every_neighbour_acked() -> None:
    net = Net(["a", "b", "c"])
    net.link("a", "b")
    net.link("a", "c")
    net.deliver()
    net.do("a", add("x"))
    # Lose everything sent to c: b acks, c does not; the entry must stay.
    net.round(drop=lambda m: m[1] == "c" or m[0] == "c")
    a = net.engines["a"]
    assert a.buffer_size == 1
    assert a.acks()["b"] == a.seq and a.acks()["c"] == a.seq - 1
    net.round()  # retransmission
    assert net.engines["c"].value("s") == frozenset({"x"})
    assert a.buffer_size == 0


def test_ack_from_a_removed_neighbour_or_old_epoch_is_ignored() -> None:
    net = Net(["a", "b", "c"])
    net.link("a", "b")
    net.link("a", "c")
    net.deliver()
    net.do("a", add("x"))
    net.do("a", lambda e, now: e.sync_now(now))
    # c leaves before its ack arrives; b's ack is delayed: GC must still wait for b.
    net.unlink("a", "c")
    held = [m for m in net.queue if m[1] == "b"]
    net.queue.clear()
    a = net.engines["a"]
    assert a.buffer_size == 1
    a.handle(StreamReceived("c", encode_message(Ack(a.epoch, 1, 2))), 0.0)
    assert a.buffer_size == 1  # c is gone: its ack holds nothing
    a.handle(StreamReceived("b", encode_message(Ack(a.epoch + 1, 1, 2))), 0.0)
    assert a.buffer_size == 1  # an ack for another incarnation
    for src, dst, data in held:
        net.take(dst, net.engines[dst].handle(StreamReceived(src, data), 0.0))
    net.deliver()
    assert a.buffer_size == 0


def test_ack_beyond_the_stream_is_a_counted_peer_error() -> None:
    a = SyncEngine("a")
    a.neighbor_up("b", 0.0)
    out = a.handle(StreamReceived("b", encode_message(Ack(a.epoch, 0, 99))), 0.0)
    assert out == []
    assert a.metrics.peer_errors == {"ProtocolViolationError": 1}


@pytest.mark.parametrize(
    "data",
    [b"", b"\x48", b"\x48\xff\xff", b"\x6f\x90", b"\x49\x93\x01\x05\x02", b"\x01abc"],
)
def test_garbage_is_counted_and_dropped(data: bytes) -> None:
    a = SyncEngine("a")
    a.neighbor_up("b", 0.0)
    assert a.handle(StreamReceived("b", data), 0.0) == []
    assert sum(a.metrics.peer_errors.values()) == 1


def test_bad_object_in_a_delta_is_dropped_alone() -> None:
    a = SyncEngine("a")
    good = crdts.encode(crdts.GSet()) if False else None
    s = crdts.GSet()
    s.add("ok")
    good = crdts.encode(s)
    c = crdts.GCounter()
    c.increment("z")
    a.update("k2", lambda x: x.add("mine"), create=crdts.GSet)
    msg = Delta(7, 0, 1, [("k1", good), ("bad", b"\x00garbage"), ("k2", crdts.encode(c))])
    a.handle(StreamReceived("b", encode_message(msg)), 0.0)
    assert a.value("k1") == frozenset({"ok"})
    assert "bad" not in a
    assert a.value("k2") == frozenset({"mine"})
    assert a.metrics.peer_errors == {"DecodeError": 1, "TypeMismatchError": 1}


@pytest.mark.parametrize("mode", list(SyncMode))
def test_one_key_twice_in_a_message_joins_both(mode: SyncMode) -> None:
    # the receive loop looks each object's state up once and carries it to the join: the
    # second object of a key the first one created must join into what the first made
    a = SyncEngine("a", SyncConfig(mode=mode))
    a.neighbor_up("c", 0.0)
    x, y = crdts.GSet(), crdts.GSet()
    x.add("x")
    y.add("y")
    objs = [("new", crdts.encode(x)), ("new", crdts.encode(y)), ("new", crdts.encode(x))]
    a.handle(StreamReceived("b", encode_message(Delta(5, 0, 1, objs))), 0.0)
    assert a.value("new") == frozenset({"x", "y"})


def test_bp_never_sends_a_delta_back_to_its_origin() -> None:
    for mode, expect_back in [(SyncMode.DELTA, True), (SyncMode.DELTA_BP, False)]:
        net = Net(["a", "b"], SyncConfig(mode=mode))
        net.link("a", "b")
        net.deliver()
        net.do("a", add("x"))
        net.round()
        b = net.engines["b"]
        assert b.buffer_size in (0, 1)
        sent_back = []
        net.now += 1
        for _m_src, _m_dst, data in [("b", e.dst, e.data) for e in b.sync_now(net.now)]:  # type: ignore[union-attr]
            msg = decode_message(data)
            if isinstance(msg, Delta):
                sent_back.append(msg)
        assert bool(sent_back) is expect_back, mode


def test_rr_buffers_only_what_was_new() -> None:
    cfg = SyncConfig(mode=SyncMode.DELTA_BP_RR)
    a = SyncEngine("a", cfg)
    a.neighbor_up("c", 0.0)  # with no neighbour at all the buffer is collected at once
    a.update("s", lambda s: s.add("old"), create=crdts.GSet)
    before = a.buffer_size
    d = crdts.GSet()
    d.add("old")
    d.add("new")
    a.handle(StreamReceived("b", encode_message(Delta(5, 0, 1, [("s", crdts.encode(d))]))), 0.0)
    entries = list(a.buffer())
    assert len(entries) == before + 1
    assert entries[-1][1] == "b"
    assert entries[-1][3].value == frozenset({"new"})
    # Nothing new at all: nothing buffered.
    a.handle(StreamReceived("b", encode_message(Delta(5, 1, 2, [("s", crdts.encode(d))]))), 0.0)
    assert a.buffer_size == before + 1


def test_classic_buffers_the_whole_inflating_group() -> None:
    a = SyncEngine("a", SyncConfig(mode=SyncMode.DELTA))
    a.neighbor_up("c", 0.0)
    a.update("s", lambda s: s.add("old"), create=crdts.GSet)
    d = crdts.GSet()
    d.add("old")
    d.add("new")
    a.handle(StreamReceived("b", encode_message(Delta(5, 0, 1, [("s", crdts.encode(d))]))), 0.0)
    assert list(a.buffer())[-1][3].value == frozenset({"old", "new"})


def test_messages_are_bounded_and_a_big_interval_ships_in_steps() -> None:
    cfg = SyncConfig(max_message_bytes=1024, max_messages_per_round=2)
    net = Net(["a", "b"], cfg)
    net.link("a", "b")
    net.deliver()
    for i in range(300):
        net.do("a", add(f"element-{i:04d}", key=f"obj{i % 60}"))
    sizes: list[int] = []
    rounds = 0

    def have() -> int:
        return sum(len(net.engines["b"].value(f"obj{i}", ())) for i in range(60))

    while have() < 300:
        net.now += 1
        out = net.engines["a"].sync_now(net.now)
        sizes += [len(e.data) for e in out]  # type: ignore[union-attr]
        assert len(out) <= 2
        net.take("a", out)
        net.deliver()
        rounds += 1
        assert rounds < 50
    assert rounds > 3  # 300 * ~25 bytes at 2 KiB per round
    assert max(sizes) <= 1024
    net.settle(1)
    assert net.engines["a"].buffer_size == 0
    # Each element travelled about once: steps never resend what was acknowledged.
    assert net.engines["a"].metrics.peer("b").sent_payload_bytes < 300 * 25 * 1.5


def test_state_mode_cuts_the_keyspace_into_messages_under_the_cap() -> None:
    # (a surviving mutant of the mutation run: state-based rounds were never checked against the
    # cap, so a chunking that overflowed it went unnoticed)
    cfg = SyncConfig(mode=SyncMode.STATE, max_message_bytes=1024)
    net = Net(["a", "b"], cfg)
    net.link("a", "b")
    net.deliver()
    for i in range(120):
        net.do("a", add(f"element-{i:04d}-" + "x" * 12, key=f"obj{i}"))
    net.now += 1
    out = net.engines["a"].sync_now(net.now)
    sizes = [len(e.data) for e in out if isinstance(e, SendStream)]
    assert len(sizes) > 3  # 120 objects of ~60 bytes do not fit in one KiB
    assert max(sizes) <= 1024
    net.take("a", out)
    net.deliver()
    assert all(f"obj{i}" in net.engines["b"] for i in range(120))


def test_a_lost_chunk_is_not_skipped_when_a_later_one_is_acked() -> None:
    cfg = SyncConfig(max_message_bytes=512)
    net = Net(["a", "b"], cfg)
    net.link("a", "b")
    net.deliver()
    for i in range(40):
        net.do("a", add(f"e{i:03d}-" + "x" * 20, key=f"k{i}"))
    net.now += 1
    out = net.engines["a"].sync_now(net.now)
    assert len(out) > 2
    net.take("a", out[1:])  # the first chunk is lost
    net.deliver()
    a = net.engines["a"]
    assert a.acks()["b"] == 1 and a.buffer_size == 40
    net.round()
    assert all(f"k{i}" in net.engines["b"] for i in range(40))
    assert a.buffer_size == 0


def test_new_neighbour_gets_a_merkle_catch_up_proportional_to_the_difference() -> None:
    net = Net(["a", "b"], SyncConfig(max_message_bytes=8192))
    for i in range(2000):
        for n in ("a", "b"):
            net.do(n, add(f"v{i}", key=f"k{i:05d}"))
    for i in range(20):  # a has 20 changed objects and 5 new ones
        net.do("a", add("extra", key=f"k{i * 97:05d}"))
    for i in range(5):
        net.do("a", add("new", key=f"fresh{i}"))
    net.link("a", "b")
    net.settle(5)
    b = net.engines["b"]
    assert all(b.value(k) == net.engines["a"].value(k) for k in net.engines["a"])
    sent = net.engines["a"].metrics.peer("b")
    assert sent.sent_objects == 25
    # Far below shipping 2000 objects (~20 bytes each) plus their keys.
    assert sent.sent_bytes < 12_000
    assert ("a", CatchupCompleted("b", "merkle", 25)) in net.emitted


def test_reconnect_uses_the_watermark_and_ships_only_what_changed() -> None:
    net = Net(["a", "b", "c"])
    net.link("a", "b")
    net.link("a", "c")
    for i in range(500):
        net.do("a", add("v", key=f"k{i}"))
    net.settle(3)
    net.unlink("a", "b")
    for i in range(10):
        net.do("a", add("w", key=f"k{i}"))
    net.settle(3)
    assert net.engines["a"].buffer_size == 0  # c acked; b is gone, so nothing is held for it
    before = net.engines["a"].metrics.peer("b").sent_objects
    net.link("a", "b")
    net.settle(3)
    assert net.engines["b"].value("k3") == frozenset({"v", "w"})
    assert net.engines["a"].metrics.peer("b").sent_objects - before == 10
    assert ("a", CatchupCompleted("b", "index", 10)) in net.emitted


def test_restart_with_state_kept_reconverges() -> None:
    net = Net(["a", "b", "c"])
    net.link("a", "b")
    net.link("b", "c")
    net.do("a", add("x"))
    net.round()  # b has x and acked a; b's delta to c is lost with its buffer:
    net.queue.clear()
    b_state = dict(net.engines["b"].state)
    net.engines["b"] = SyncEngine("b", net.config, random.Random(9), state=b_state)
    net.do("b", lambda e, now: e.set_neighbors(["a", "c"], now))
    net.settle(5)
    assert net.engines["c"].value("s") == frozenset({"x"})


def test_state_mode_converges_without_buffer() -> None:
    net = Net(["a", "b", "c"], SyncConfig(mode=SyncMode.STATE))
    net.link("a", "b")
    net.link("b", "c")
    net.do("a", add("x"))
    net.do("c", add("y"))
    net.settle(3)
    assert all(e.value("s") == frozenset({"x", "y"}) for e in net.engines.values())
    assert all(e.buffer_size == 0 for e in net.engines.values())


def test_timer_drives_rounds() -> None:
    e = SyncEngine("a", SyncConfig(sync_interval=0.5))
    (t,) = e.start(1.0)
    assert isinstance(t, SetTimer) and t.key == ("sync", "round") and 1.0 < t.at <= 1.5
    out = e.handle(TimerFired(("sync", "round")), 1.5)
    assert SetTimer(("sync", "round"), 2.0) in out
    assert e.handle(TimerFired("other"), 1.5) == []


def test_subscriptions_per_key_and_prefix_and_isolation() -> None:
    net = Net(["a", "b"])
    net.link("a", "b")
    got: list[tuple[str, str, frozenset[object]]] = []
    b = net.engines["b"]

    def boom(change: object) -> None:
        raise RuntimeError("subscriber bug")

    b.subscribe(boom, prefix="cart:")
    b.subscribe(lambda c: got.append((c.key, c.kind, c.added)), prefix="cart:")
    sub = b.subscribe(lambda c: got.append(("KEY", c.kind, c.added)), key="cart:1")
    net.do("a", add("apple", key="cart:1"))
    net.do("a", add("x", key="other"))
    net.round()
    assert ("cart:1", "added", frozenset({"apple"})) in got
    assert ("KEY", "added", frozenset({"apple"})) in got
    assert all(k != "other" for k, _, _ in got)
    sub.cancel()
    net.do("a", add("pear", key="cart:1"))
    net.round()
    assert ("cart:1", "updated", frozenset({"pear"})) in got
    assert sum(1 for k, _, _ in got if k == "KEY") == 1
    assert b.metrics.callback_errors == 2
    assert b.value("cart:1") == frozenset({"apple", "pear"})  # sync went on
    with pytest.raises(UsageError):
        b.subscribe(print)


def test_map_value_changes_name_added_updated_removed_entries() -> None:
    from sync._subscriptions import describe_change

    ch = describe_change("m", {"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 4}, None)
    assert ch is not None and ch.added == {"c"} and ch.updated == {"b"} and not ch.removed
    ch = describe_change("m", {"a": 1}, {}, "peer")
    assert ch is not None and ch.kind == "removed" and ch.removed == {"a"}
    assert describe_change("m", {"a": 1}, {"a": 1}, None) is None


def test_config_validation_and_presets() -> None:
    bads: list[dict[str, Any]] = [
        {"sync_interval": 0},
        {"max_message_bytes": 10},
        {"max_messages_per_round": 0},
        {"catchup_timeout": -1},
        {"merkle_leaf_threshold": 0},
        {"merkle_prehash_per_round": -1},
        {"remembered_peers": -1},
    ]
    for bad in bads:
        with pytest.raises(ConfigError):
            replace(SyncConfig(), **bad)
    assert SyncConfig.lan().sync_interval < SyncConfig.wan().sync_interval
    assert SyncConfig.paper(SyncMode.DELTA_RR).mode.rr
    assert SyncMode.DEFAULT.bp and SyncMode.DEFAULT.rr and not SyncMode.STATE.delta


def _big_orset(replica: str, n: int) -> crdts.ORSet:
    s = crdts.ORSet()
    for i in range(n):
        s.add(replica, f"{replica}-element-{i:05d}")
    for i in range(0, n, 3):
        s.remove(f"{replica}-element-{i:05d}")
    return s


def test_an_object_bigger_than_a_message_ships_in_parts_that_never_over_claim() -> None:
    cfg = SyncConfig(max_message_bytes=1024, max_messages_per_round=4)
    net = Net(["a", "b"], cfg)
    big = _big_orset("a", 1500)
    net.engines["a"].apply("cart", big)
    # b saw none of a's dots and has adds of its own: a part's context must not delete them.
    net.engines["b"].update("cart", lambda s: s.add("b", "mine"), create=crdts.ORSet)
    net.link("a", "b")
    sizes: list[int] = []
    for _ in range(200):
        net.now += 1
        for name in ("a", "b"):
            out = net.engines[name].sync_now(net.now)
            sizes += [len(e.data) for e in out]  # type: ignore[union-attr]
            net.take(name, out)
        net.deliver()
        if net.engines["b"].get("cart") == net.engines["a"].get("cart"):
            break
        assert "mine" in net.engines["b"].value("cart")
    a_val, b_val = net.engines["a"].value("cart"), net.engines["b"].value("cart")
    assert a_val == b_val == big.value | {"mine"}
    assert max(sizes) <= 1024
    assert net.engines["a"].metrics.peer("b").sent_msgs > 20


def test_an_oversized_delta_is_buffered_as_parts_under_the_cap() -> None:
    cfg = SyncConfig(max_message_bytes=1024)
    net = Net(["a", "b"], cfg)
    net.link("a", "b")
    net.settle(1)
    big = _big_orset("a", 800)
    net.engines["a"].apply("cart", big)
    assert net.engines["a"].buffer_size > 5
    sizes: list[int] = []
    for _ in range(5):
        net.now += 1
        out = net.engines["a"].sync_now(net.now)
        sizes += [len(e.data) for e in out]  # type: ignore[union-attr]
        net.take("a", out)
        net.deliver()
    assert max(sizes) <= 1024
    assert net.engines["b"].get("cart") == big
    assert net.engines["a"].buffer_size == 0


def test_restart_without_rng_or_epoch_gets_a_fresh_epoch_and_loses_nothing() -> None:
    # A replica rebuilt after a crash with the same id and no rng/epoch: its epoch must differ
    # from the previous incarnation's, or the peer's Hello watermark (of the old stream) would be
    # taken for the new one and the unsent write made just before the crash would never ship.
    net = Net(["a", "b"])
    net.link("a", "b")
    for i in range(5):
        net.do("a", add(f"e{i}"))
        net.round()
    net.do("a", add("unsent"))  # written, then the engine (buffer, acks) is lost
    net.queue.clear()
    old_epoch = net.engines["a"].epoch
    a_state = dict(net.engines["a"].state)
    net.engines["a"] = SyncEngine("a", net.config, state=a_state)
    assert net.engines["a"].epoch != old_epoch
    net.do("a", lambda e, now: e.set_neighbors(["b"], now))
    net.settle(5)
    assert "unsent" in net.engines["b"].value("s")


def test_a_hello_watermark_beyond_the_stream_is_not_trusted() -> None:
    # Even if an epoch collides (a caller reusing one), a watermark above our sequence number
    # cannot be of this incarnation: catch the peer up by digest instead of trusting it.
    net = Net(["a", "b"])
    net.link("a", "b")
    for i in range(5):
        net.do("a", add(f"e{i}"))
        net.round()
    net.do("a", add("unsent"))
    net.queue.clear()
    old = net.engines["a"]
    net.engines["a"] = SyncEngine("a", net.config, state=dict(old.state), epoch=old.epoch)
    net.do("a", lambda e, now: e.set_neighbors(["b"], now))
    net.settle(5)
    assert "unsent" in net.engines["b"].value("s")


def test_when_neither_knows_the_other_the_stale_side_digest_catch_up_runs_second() -> None:
    # b is up to date (its engine never restarted) and holds 10 newer objects; a was rebuilt over
    # a kept state (recovering) and holds 5 objects b lacks. b's catch-up of a goes first (a's
    # objects are likely stale), then a's descent finds only what b still lacks.
    net = Net(["a", "b"])
    b = net.engines["b"]
    a_state: dict[str, Any] = {}
    for i in range(300):
        key = f"k{i:03d}"
        b.update(key, lambda s: s.add("v"), create=crdts.GSet)
        a_state[key] = b.get(key).copy()  # type: ignore[union-attr]
    for i in range(10):
        b.update(f"k{i:03d}", lambda s: s.add("w"))
    for i in range(100, 105):
        a_state[f"k{i:03d}"].add("z")
    net.engines["a"] = SyncEngine("a", net.config, state=a_state)
    net.link("a", "b")
    net.settle(4)
    assert dict(net.engines["a"].state) == dict(b.state)
    done = [e for _, e in net.emitted if isinstance(e, CatchupCompleted)]
    # b ships its 10 newer objects plus its (stale) versions of a's 5; a then ships just its 5.
    assert done == [CatchupCompleted("a", "merkle", 10 + 5), CatchupCompleted("b", "merkle", 5)]
    assert [src for src, e in net.emitted if isinstance(e, CatchupCompleted)] == ["b", "a"]


def digests(effects: list[Effect]) -> list[Digest]:
    return [
        m
        for e in effects
        if isinstance(e, SendStream) and isinstance(m := decode_message(e.data), Digest)
    ]


def test_a_deferred_digest_catch_up_starts_anyway_when_the_peer_never_catches_us_up() -> None:
    cfg = SyncConfig(catchup_timeout=2.0)
    b = SyncEngine("b", cfg, state={"k": crdts.GSet()})  # recovering: the peer goes first
    b.neighbor_up("a", 0.0)
    hello = encode_message(Hello(PROTOCOL_VERSION, 77, None, 0, False))
    out = b.handle(StreamReceived("a", hello), 0.0)
    assert not digests(out)
    assert not digests(b.sync_now(1.0))
    assert digests(b.sync_now(2.5))


def test_a_digest_reply_that_does_not_match_its_probe_is_counted_and_the_probe_kept() -> None:
    # b knows nothing of a: a probes b's tree. A forged reply with the wrong number of bits is a
    # protocol violation (counted, dropped); the genuine reply still completes the catch-up.
    a_state = {f"k{i}": crdts.GSet() for i in range(50)}
    for x in a_state.values():
        x.add("v")
    a = SyncEngine("a", state=a_state)
    b = SyncEngine("b")
    out_a = a.neighbor_up("b", 0.0)
    b.neighbor_up("a", 0.0)
    (hello_a,) = (e for e in out_a if isinstance(e, SendStream))
    # b's Hello reply, then (b holds nothing, so its own catch-up of a is over at once) its
    # CatchupDone, on which a (recovering: it goes second) starts probing.
    out_b = b.handle(StreamReceived("a", hello_a.data), 0.0)
    out = [
        e
        for m in out_b
        if isinstance(m, SendStream)
        for e in a.handle(StreamReceived("b", m.data), 0.0)
    ]
    probes = digests(out)
    assert len(probes) == 1
    forged = DigestReply(probes[0].session, probes[0].req, b"\x01" * 9)
    assert a.handle(StreamReceived("b", encode_message(forged)), 0.0) == []
    assert a.metrics.peer_errors == {"ProtocolViolationError": 1}
    assert a.catching_up() == {"b": "merkle"}
    reply = b.handle(StreamReceived("a", encode_message(probes[0])), 0.0)
    (r,) = (e for e in reply if isinstance(e, SendStream))
    assert digests(a.handle(StreamReceived("b", r.data), 0.0))  # the descent goes on


def test_rounds_hash_a_large_initial_keyspace_in_bounded_slices_ahead_of_any_digest() -> None:
    state: dict[str, Any] = {}
    for i in range(2_500):
        state[f"k{i}"] = x = crdts.GCounter()
        x.increment("r")
    eng = SyncEngine("a", SyncConfig(merkle_prehash_per_round=1_000), state=state)
    lazy = SyncEngine("b", SyncConfig(merkle_prehash_per_round=0), state=dict(state))
    dirty = []
    for t in range(4):
        eng.sync_now(float(t))
        lazy.sync_now(float(t))
        dirty.append(eng._merkle.dirty)
    assert dirty == [1_500, 500, 0, 0]
    assert lazy._merkle.dirty == 2_500  # hashed only when a digest is read
    lazy._merkle.flush(lazy._encoded_state)
    assert eng._merkle.node(0, 0) == lazy._merkle.node(0, 0)


def _deltas(out: list[Effect]) -> list[Delta]:
    msgs = [decode_message(e.data) for e in out if isinstance(e, SendStream)]
    return [m for m in msgs if isinstance(m, Delta)]


def _sent_keys(out: list[Effect]) -> list[str]:
    return sorted(k for m in _deltas(out) for k, _ in m.objects)


def test_resend_timeout_sends_an_unacked_interval_again_only_after_the_timeout() -> None:
    a = SyncEngine("a", SyncConfig(resend_timeout=1.0))
    a.neighbor_up("b", 0.0)
    a.update("k1", lambda s: s.add(1), create=crdts.GSet)
    assert _sent_keys(a.sync_now(1.0)) == ["k1"]
    a.update("k2", lambda s: s.add(2), create=crdts.GSet)
    out = a.sync_now(1.1)  # k1 is in flight: only the new entry goes
    assert _sent_keys(out) == ["k2"] and [(m.lo, m.hi) for m in _deltas(out)] == [(2, 3)]
    assert _sent_keys(a.sync_now(1.2)) == []  # nothing new, nothing timed out
    # no ack within 1 s: only the chunk in flight that long goes again, not the interval from
    # the mark (k2 went at 1.1); and the timeout doubles (an ack this late: a slow receiver)
    assert _sent_keys(a.sync_now(2.0)) == ["k1"]
    assert _sent_keys(a.sync_now(2.2)) == []
    assert _sent_keys(a.sync_now(3.1)) == ["k2"]  # 2 s after it went
    a.handle(StreamReceived("b", encode_message(Ack(a.epoch, 1, 3))), 3.2)
    assert _sent_keys(a.sync_now(3.3)) == [] and a.buffer_size == 0


def test_without_resend_timeout_every_round_resends_the_unacked_interval() -> None:
    a = SyncEngine("a", SyncConfig())
    a.neighbor_up("b", 0.0)
    a.update("k1", lambda s: s.add(1), create=crdts.GSet)
    assert _sent_keys(a.sync_now(1.0)) == ["k1"]
    assert _sent_keys(a.sync_now(1.1)) == ["k1"]  # Algorithm 2 as in the paper


def _adding(v: int) -> Any:
    return lambda s: s.add(v)


def _shipped(out: list[Effect]) -> list[Objects]:
    msgs = [decode_message(e.data) for e in out if isinstance(e, SendStream)]
    return [m for m in msgs if isinstance(m, Objects)]


def _index_catchup(resend_timeout: float) -> SyncEngine:
    """``a`` changed five objects while alone; ``b`` comes back holding a's stream up to 1 (no
    longer buffered): an index catch-up ships those five objects whole."""
    a = SyncEngine("a", SyncConfig(resend_timeout=resend_timeout, max_message_bytes=256))
    for i in range(5):
        a.update(f"k{i}", _adding(i), create=crdts.GSet)
    a.neighbor_up("b", 0.0)
    hello = Hello(PROTOCOL_VERSION, 77, a.epoch, 1, False)
    a.handle(StreamReceived("b", encode_message(hello)), 0.0)
    assert a.catching_up() == {"b": "index"}
    return a


def test_resend_timeout_ships_unacked_catch_up_objects_again_only_after_the_timeout() -> None:
    a = _index_catchup(1.0)
    first = _shipped(a.sync_now(0.1))
    assert sorted(k for m in first for k, _ in m.objects) == [f"k{i}" for i in range(5)]
    assert _shipped(a.sync_now(0.2)) == []  # in flight: not encoded and sent again
    assert _shipped(a.sync_now(0.5)) == []
    again = _shipped(a.sync_now(1.2))  # no ack within 1 s: shipped again from the mark
    assert [(m.lo, m.hi) for m in again] == [(m.lo, m.hi) for m in first]
    for m in again:
        a.handle(StreamReceived("b", encode_message(ObjectsAck(m.session, m.lo, m.hi))), 1.3)
    assert a.catching_up() == {}


def test_without_resend_timeout_every_round_ships_unacked_catch_up_objects() -> None:
    a = _index_catchup(0.0)
    first = _shipped(a.sync_now(0.1))
    assert first and _shipped(a.sync_now(0.2)) == first


def test_entries_of_one_object_are_joined_and_encoded_once_per_round_for_all_neighbours() -> None:
    encoded: list[object] = []

    def encode(x: Any) -> bytes:
        encoded.append(x)
        return crdts.encode(x)

    a = SyncEngine("a", SyncConfig(merkle_prehash_per_round=0), codec=(encode, crdts.decode))
    for peer in ("b", "c", "d"):
        a.neighbor_up(peer, 0.0)
    for i in range(3):
        a.update("k", _adding(i), create=crdts.GSet)
    assert len(encoded) == 3  # each entry once, when recorded
    out = a.sync_now(1.0)
    sent = {m.objects[0][1] for m in _deltas(out)}
    assert len(_deltas(out)) == 3 and len(sent) == 1  # the same join to the three of them
    assert crdts.decode(sent.pop()).value == {0, 1, 2}
    assert len(encoded) == 4  # ... encoded once


def test_resend_timeout_must_not_be_negative() -> None:
    with pytest.raises(ConfigError):
        SyncConfig(resend_timeout=-1.0)


def test_a_delta_arriving_again_byte_identical_is_not_decoded_twice() -> None:
    decodes = 0

    def decode(b: bytes) -> Any:
        nonlocal decodes
        decodes += 1
        return crdts.decode(b)

    b = SyncEngine("b", codec=(crdts.encode, decode))
    for peer in ("a", "c"):
        b.neighbor_up(peer, 0.0)
    g = crdts.GSet()
    d = g.add("x")
    data = crdts.encode(d)
    b.handle(StreamReceived("a", encode_message(Delta(5, 1, 2, [("s", data)]))), 1.0)
    b.handle(StreamReceived("c", encode_message(Delta(6, 1, 2, [("s", data)]))), 1.0)
    assert decodes == 1 and b.metrics.duplicates_skipped == 1
    assert b.value("s") == frozenset({"x"}) and b.buffer_size == 1
    # the DEFAULT filter still knows c holds it: nothing goes back to either sender
    out = b.sync_now(2.0)
    assert [m for m in _deltas(out)] == []
    # a different delta of the same key is decoded and joined
    d2 = g.add("y")
    b.handle(StreamReceived("c", encode_message(Delta(6, 2, 3, [("s", crdts.encode(d2))]))), 2.5)
    assert decodes == 2 and b.value("s") == frozenset({"x", "y"})


def test_the_duplicate_cache_is_bounded_by_the_memory_it_retains() -> None:
    # 1,000 distinct deltas of 50 re-added set elements (~0.5 KiB encoded, ~18 KiB decoded
    # each) over a state that does not grow: the cache of decoded deltas, bounded by entries
    # (8,192), kept all of them (~18 MiB retained); bounded by bytes it keeps ~4 MiB
    src = crdts.ORSet()
    b = SyncEngine("b")
    b.neighbor_up("a", 0.0)
    datas = []
    for _ in range(1000):
        d = crdts.ORSet()
        for e in range(50):
            d.merge(src.add("a", e))
        datas.append(crdts.encode(d))
    tracemalloc.start()
    try:
        for i, data in enumerate(datas):
            b.handle(
                StreamReceived("a", encode_message(Delta(5, i + 1, i + 2, [("s", data)]))), 1.0
            )
            b.sync_now(1.0)  # nothing to forward (BP): the buffer stays empty
        grown, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert b.value("s") == frozenset(range(50)) and b.buffer_size == 0
    assert grown < 6 * 1024 * 1024, grown


def test_classic_delta_decodes_every_repeat() -> None:
    decodes = 0

    def decode(b: bytes) -> Any:
        nonlocal decodes
        decodes += 1
        return crdts.decode(b)

    b = SyncEngine("b", SyncConfig(mode=SyncMode.DELTA), codec=(crdts.encode, decode))
    b.neighbor_up("a", 0.0)
    data = crdts.encode(crdts.GSet().add("x"))
    for lo in (1, 2):
        b.handle(StreamReceived("a", encode_message(Delta(5, lo, lo + 1, [("s", data)]))), 1.0)
    assert b.metrics.duplicates_skipped == 0 and decodes == 2


def _catchup_slots_sent(resend_timeout: float) -> list[tuple[int, int, int]]:
    """(session, lo, hi) of every Objects step a sends to b over 3 rounds while b's acks are
    lost (a catch-up without progress for catchup_timeout restarts as a new session)."""
    from sync._messages import Objects, ObjectsAck

    cfg = SyncConfig(resend_timeout=resend_timeout, max_message_bytes=1024)
    net = Net(["a", "b"], cfg)
    for i in range(200):
        net.do("a", add(f"v{i}", key=f"k{i:04d}"))
    net.link("a", "b")
    sent: list[tuple[int, int, int]] = []

    def drop(msg: tuple[str, str, bytes]) -> bool:
        m = decode_message(msg[2])
        if isinstance(m, Objects) and msg[0] == "a":
            sent.append((m.session, m.lo, m.hi))
        return isinstance(m, ObjectsAck)  # b's acks never arrive

    net.deliver(drop)
    for _ in range(3):
        net.round(drop)
    return sent


def test_resend_timeout_holds_back_catch_up_steps_in_flight() -> None:
    again = _catchup_slots_sent(0.0)
    assert len(again) > len(set(again))  # the paper's way: unacked steps go every round
    held = _catchup_slots_sent(10.0)
    assert held and len(held) == len(set(held))  # each step once until the timeout
    assert max(hi for _, _, hi in held) == 200  # and the whole ship list still went out


def test_state_bytes_are_encoded_once_per_change_and_shared_with_the_merkle_index() -> None:
    eng = SyncEngine("a")
    calls: list[int] = []
    canonical = eng._canonical
    assert canonical is not None

    def counting(x: Any) -> bytes:
        calls.append(1)
        return canonical(x)

    eng._canonical = counting
    eng.update("k", lambda s: s.add(1), create=crdts.GSet)
    b = eng.state_bytes("k")
    assert b is not None and crdts.decode(b) == eng.get("k")
    eng._merkle.flush(eng._encoded_state)  # the item hash reads the same bytes
    assert eng.state_bytes("k") is b
    assert len(calls) == 1
    eng.update("k", lambda s: s.add(2), create=crdts.GSet)
    b2 = eng.state_bytes("k")
    assert b2 is not None and crdts.decode(b2).value == frozenset({1, 2})
    assert len(calls) == 2
    assert eng.state_bytes("missing") is None


def test_the_known_filter_shares_a_received_delta_and_copies_it_only_to_join_a_second() -> None:
    b = SyncEngine("b")
    b.neighbor_up("a", 0.0)
    d1, d2 = crdts.GSet(), crdts.GSet()
    d1.add(1)
    d2.add(2)
    enc1, enc2 = crdts.encode(d1), crdts.encode(d2)
    b.handle(StreamReceived("a", encode_message(Delta(5, 1, 2, [("k", enc1)]))), 0.0)
    first = b._peers["a"].known["k"]
    assert first.value == frozenset({1})
    assert first is b._recent[("k", enc1)]  # no copy for the first delta of a round
    b.handle(StreamReceived("a", encode_message(Delta(5, 2, 3, [("k", enc2)]))), 0.0)
    assert b._peers["a"].known["k"].value == frozenset({1, 2})
    assert first.value == frozenset({1})  # the shared delta was not joined into
    assert b.value("k") == frozenset({1, 2})
