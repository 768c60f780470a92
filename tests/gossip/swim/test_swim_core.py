"""The SWIM core fed by hand: one event in, effects out (no network, no driver)."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest

from gossip import (
    CancelTimer,
    CloseStream,
    Effect,
    Emit,
    PacketReceived,
    SendPacket,
    SendStream,
    SetTimer,
    StreamReceived,
    TimerFired,
    UsageError,
)
from gossip.swim import (
    LeaveCompleted,
    MemberDead,
    MemberJoined,
    MemberRecovered,
    MemberState,
    MemberSuspected,
    MemberUpdated,
    SwimConfig,
    SwimCore,
)
from gossip.swim._messages import (
    Ack,
    Gossip,
    Nack,
    Ping,
    PingReq,
    PushPull,
    Tag,
    Update,
    UpdateKind,
    decode_message,
    encode_message,
    encode_push_pull,
)


def make(
    addr: str = "me", known: tuple[str, ...] = ("a", "b", "c", "d"), **cfg: object
) -> SwimCore:
    core = SwimCore(addr, SwimConfig(**cfg), random.Random(7), known=known)  # type: ignore[arg-type]
    core.start(0.0)
    return core


def sent(effects: list[Effect]) -> list[tuple[str, object]]:
    return [(e.dst, decode_message(e.data)) for e in effects if isinstance(e, SendPacket)]


def emitted(effects: list[Effect]) -> list[object]:
    return [e.event for e in effects if isinstance(e, Emit)]


def gossip(src: str, *updates: Update) -> PacketReceived:
    return PacketReceived(src, encode_message(Gossip(updates)))


def suspect_deadlines(effects: list[Effect], addr: str) -> list[float]:
    return [e.at for e in effects if isinstance(e, SetTimer) and e.key == ("suspect", addr)]


def probe(core: SwimCore, now: float) -> tuple[str, Ping]:
    (dst, msg), *_ = sent(core.handle(TimerFired(("probe",)), now))
    assert isinstance(msg, Ping)
    return dst, msg


def test_ping_is_acked_with_the_same_seq() -> None:
    core = make()
    out = sent(core.handle(PacketReceived("a", encode_message(Ping(42))), 1.0))
    assert out == [("a", Ack(42))]


def test_bare_pings_and_acks_take_the_short_path_with_the_same_outcome() -> None:
    """A header-only ping or ack is read straight from its bytes: same answers, same rules."""
    core = make(skip_heard_probes=False)  # "a" pinged us: it could be skipped as the target
    wide = bytes([Tag.PING, 0x91, 0xCE, 0, 1, 0, 0])  # Ping(65536) with a 32-bit integer
    assert decode_message(wide) == Ping(65536)
    assert sent(core.handle(PacketReceived("a", wide), 1.0)) == [("a", Ack(65536))]
    dst, msg = probe(core, 2.0)
    stray = core.stats["stray_acks"]
    core.handle(PacketReceived("x", encode_message(Ack(msg.seq))), 2.01)  # not the target
    assert core.stats["stray_acks"] == stray + 1
    effects = core.handle(PacketReceived(dst, encode_message(Ack(msg.seq))), 2.02)
    assert CancelTimer(("probe_timeout", msg.seq)) in effects
    assert core.stats["packets_received"] == 3


def test_round_robin_probes_every_member_once_per_pass() -> None:
    core = make()
    targets = []
    for i in range(8):
        dst, msg = probe(core, float(i))
        core.handle(PacketReceived(dst, encode_message(Ack(msg.seq))), i + 0.01)
        targets.append(dst)
    assert sorted(targets[:4]) == ["a", "b", "c", "d"]
    assert sorted(targets[4:]) == ["a", "b", "c", "d"]


def test_silent_target_gets_ping_req_then_suspect() -> None:
    core = make()
    target, ping = probe(core, 0.0)
    out = sent(core.handle(TimerFired(("probe_timeout", ping.seq)), 0.5))
    helpers = {dst for dst, m in out if isinstance(m, PingReq)}
    assert len(helpers) == 3 and target not in helpers
    assert all(m.target == target and m.nack for _, m in out if isinstance(m, PingReq))
    # No ack and no nack by the end of the period: target suspected, local health worsens by
    # the three missing nacks.
    effects = core.handle(TimerFired(("probe",)), 1.0)
    assert MemberSuspected(target, 0, "me") in emitted(effects)
    assert core.member(target).state == MemberState.SUSPECT  # type: ignore[union-attr]
    assert core.awareness == 3
    # The next probe interval is scaled by the local health multiplier.
    timers = [e for e in effects if isinstance(e, SetTimer) and e.key == ("probe",)]
    assert timers[0].at == pytest.approx(1.0 + 4 * 1.0)


def test_indirect_ack_counts_as_success_and_nacks_spare_awareness() -> None:
    core = make(skip_heard_probes=False)  # the next target is a helper we just heard from
    target, ping = probe(core, 0.0)
    out = sent(core.handle(TimerFired(("probe_timeout", ping.seq)), 0.5))
    nacked = [
        emitted(core.handle(PacketReceived(h, encode_message(Nack(ping.seq))), 0.7)) for h, _ in out
    ]
    assert MemberSuspected(target, 0, "me") in nacked[-1]  # with the last nack, not at 1.0
    effects = core.handle(TimerFired(("probe",)), 1.0)
    assert core.awareness == 0  # every helper nacked: the target, not us, is the problem
    target2, ping2 = next((d, m) for d, m in sent(effects) if isinstance(m, Ping))
    out = sent(core.handle(TimerFired(("probe_timeout", ping2.seq)), 1.5))
    helper = out[0][0]
    core.handle(PacketReceived(helper, encode_message(Ack(ping2.seq))), 1.7)  # relayed ack
    assert not any(
        isinstance(e, MemberSuspected) for e in emitted(core.handle(TimerFired(("probe",)), 2.0))
    )
    assert core.member(target2).state == MemberState.ALIVE  # type: ignore[union-attr]


def test_a_probe_fails_as_soon_as_every_helper_has_nacked() -> None:
    """Every helper pinged the target and heard nothing: the target is suspected then, not at
    the period's end (memberlist waits for it); missing nacks still wait for the period."""
    for last_nack in (True, False):
        core = make(skip_heard_probes=False)
        target, ping = probe(core, 0.0)
        helpers = [h for h, _ in sent(core.handle(TimerFired(("probe_timeout", ping.seq)), 0.5))]
        nacking = helpers if last_nack else helpers[:-1]
        early = []
        for h in nacking:
            early += emitted(core.handle(PacketReceived(h, encode_message(Nack(ping.seq))), 0.9))
        suspected = MemberSuspected(target, 0, "me") in early
        assert suspected == last_nack
        assert (core.member(target).state == MemberState.SUSPECT) == last_nack  # type: ignore[union-attr]
        if last_nack:  # a late ack is a stray once the probe has failed (no double failure)
            stray = core.stats["stray_acks"]
            core.handle(PacketReceived(target, encode_message(Ack(ping.seq))), 0.95)
            assert core.stats["stray_acks"] == stray + 1
        end = emitted(core.handle(TimerFired(("probe",)), 1.0))
        assert (MemberSuspected(target, 0, "me") in end) == (not last_nack)
        assert core.stats["probes_failed"] == 1
        assert core.awareness == (0 if last_nack else 1)  # one nack missing: +1
    # Switched off: memberlist's behaviour, the suspicion waits for the period's end.
    core = make(skip_heard_probes=False, suspect_on_nacks=False)
    target, ping = probe(core, 0.0)
    for h, _ in sent(core.handle(TimerFired(("probe_timeout", ping.seq)), 0.5)):
        assert emitted(core.handle(PacketReceived(h, encode_message(Nack(ping.seq))), 0.9)) == []
    assert MemberSuspected(target, 0, "me") in emitted(core.handle(TimerFired(("probe",)), 1.0))


def test_a_member_heard_from_during_the_last_period_is_not_pinged() -> None:
    """Any datagram from a member shows it alive: when its turn comes within a period of it,
    the probe is spent without a ping (and so without an ack); a suspect is still pinged."""
    core = make()
    target, ping = probe(core, 0.0)  # a first tick: the period starts
    core.handle(PacketReceived(target, encode_message(Ack(ping.seq))), 0.1)  # answered
    # Hear from everyone this period (a ping, an ack-less gossip, a ping-req, a nack...).
    core.handle(PacketReceived("a", encode_message(Ping(5))), 0.2)
    core.handle(PacketReceived("b", encode_message(Gossip(()))), 0.3)
    core.handle(PacketReceived("c", encode_message(PingReq(6, "a", True))), 0.4)
    core.handle(PacketReceived("d", encode_message(Nack(99))), 0.5)
    skipped = core.stats["probes_skipped"]
    pings = [m for _, m in sent(core.handle(TimerFired(("probe",)), 1.0)) if isinstance(m, Ping)]
    assert pings == [] and core.stats["probes_skipped"] == skipped + 1
    # Evidence lasts one period: at the next tick nobody was heard from, so the next target is
    # pinged.
    pings = [m for _, m in sent(core.handle(TimerFired(("probe",)), 2.0)) if isinstance(m, Ping)]
    assert len(pings) == 1
    # A suspect is pinged even if heard from (the ping carries the suspicion: buddy system).
    core = make(known=("a",))
    core.handle(gossip("x", Update(UpdateKind.SUSPECT, "a", 0, origin="x")), 0.1)
    core.handle(PacketReceived("a", encode_message(Nack(1))), 0.2)
    out = sent(core.handle(TimerFired(("probe",)), 1.0))
    assert [(d, type(m)) for d, m in out] == [("a", Ping)]
    # While our local health score is above 0 every turn is a ping: an answered probe is what
    # lowers it (Lifeguard), and skipping them kept a mass failure's survivors probing slowly.
    core = make(known=("a", "b"))
    target, ping = probe(core, 0.0)
    core.handle(TimerFired(("probe_timeout", ping.seq)), 0.5)  # no ack, no helper nacks
    other = "b" if target == "a" else "a"
    core.handle(PacketReceived(other, encode_message(Ping(5))), 0.6)
    out = sent(core.handle(TimerFired(("probe",)), 1.0))
    assert core.awareness > 0
    assert [d for d, m in out if isinstance(m, Ping)] == [other]
    # Switched off: every turn is a ping.
    core = make(known=("a",), skip_heard_probes=False)
    core.handle(PacketReceived("a", encode_message(Ping(5))), 0.2)
    assert [
        d for d, m in sent(core.handle(TimerFired(("probe",)), 1.0)) if isinstance(m, Ping)
    ] == ["a"]


def test_acks_count_only_from_whom_we_asked() -> None:
    """Issue 12, item 2: an ack (or nack) with the right seq from any other member is dropped,
    so a stray or replayed ack cannot keep a silent target alive."""
    core = make()
    target, ping = probe(core, 0.0)
    others = [a for a in ("a", "b", "c", "d") if a != target]
    core.handle(PacketReceived(others[0], encode_message(Ack(ping.seq))), 0.1)
    core.handle(PacketReceived("stranger", encode_message(Ack(ping.seq))), 0.1)
    out = sent(core.handle(TimerFired(("probe_timeout", ping.seq)), 0.5))
    assert {m.target for _, m in out if isinstance(m, PingReq)} == {target}  # still unacked
    helpers = {dst for dst, _ in out}
    core.handle(PacketReceived("stranger", encode_message(Nack(ping.seq))), 0.6)
    core.handle(PacketReceived("stranger", encode_message(Ack(ping.seq))), 0.7)
    effects = core.handle(TimerFired(("probe",)), 1.0)
    assert MemberSuspected(target, 0, "me") in emitted(effects)
    assert core.awareness == len(helpers)  # the stranger's nack did not count either
    assert core.stats["stray_acks"] == 4
    # A relay forwards only its target's ack.
    out = sent(core.handle(PacketReceived("a", encode_message(PingReq(9, "b", True))), 2.0))
    relay_seq = out[0][1].seq  # type: ignore[attr-defined]
    assert sent(core.handle(PacketReceived("c", encode_message(Ack(relay_seq))), 2.1)) == []
    out = sent(core.handle(PacketReceived("b", encode_message(Ack(relay_seq))), 2.2))
    assert [(dst, m.seq) for dst, m in out] == [("a", 9)]  # type: ignore[attr-defined]


def test_relays_ping_req_and_nacks_on_silence() -> None:
    core = make()
    out = sent(core.handle(PacketReceived("a", encode_message(PingReq(9, "b", True))), 1.0))
    ((dst, ping),) = out
    assert dst == "b" and isinstance(ping, Ping)
    # The target answers: the ack goes back to the requester under its own seq.
    out = sent(core.handle(PacketReceived("b", encode_message(Ack(ping.seq))), 1.1))
    assert out == [("a", Ack(9))]
    # Another request, target silent: a nack after the probe timeout.
    out = sent(core.handle(PacketReceived("a", encode_message(PingReq(10, "c", True))), 2.0))
    relay_seq = out[0][1].seq  # type: ignore[attr-defined]
    assert sent(core.handle(TimerFired(("relay", relay_seq)), 2.5)) == [("a", Nack(10))]


def test_refutes_a_suspicion_of_itself_and_gossips_alive() -> None:
    core = make()
    msg = Gossip((Update(UpdateKind.SUSPECT, "me", 0, origin="a"),))
    core.handle(PacketReceived("a", encode_message(msg)), 1.0)
    assert core.incarnation == 1
    assert core.awareness == 1
    # The refutation rides on the next packet we send.
    out = sent(core.handle(PacketReceived("b", encode_message(Ping(5))), 1.1))
    assert out[0][1] == Ack(5, (Update(UpdateKind.ALIVE, "me", 1),))


def test_stale_suspicion_is_ignored() -> None:
    core = make()
    core.handle(
        PacketReceived(
            "a", encode_message(Gossip((Update(UpdateKind.SUSPECT, "me", 0, origin="a"),)))
        ),
        1.0,
    )
    core.handle(
        PacketReceived(
            "a", encode_message(Gossip((Update(UpdateKind.SUSPECT, "me", 0, origin="b"),)))
        ),
        1.1,
    )
    assert core.incarnation == 1


def test_precedence_rules() -> None:
    core = make()
    ev = emitted(core.handle(gossip("x", Update(UpdateKind.SUSPECT, "a", 0, origin="b")), 1.0))
    assert ev == [MemberSuspected("a", 0, "b")]
    # alive at the same incarnation does not clear a suspicion; a higher one does.
    assert emitted(core.handle(gossip("x", Update(UpdateKind.ALIVE, "a", 0)), 1.1)) == []
    assert emitted(core.handle(gossip("x", Update(UpdateKind.ALIVE, "a", 1)), 1.2)) == [
        MemberRecovered("a", 1)
    ]
    # dead beats alive at the same incarnation; a stale alive cannot revive it.
    assert emitted(core.handle(gossip("x", Update(UpdateKind.DEAD, "a", 1, origin="b")), 1.3)) == [
        MemberDead("a", 1, "b")
    ]
    assert emitted(core.handle(gossip("x", Update(UpdateKind.ALIVE, "a", 1)), 1.4)) == []
    assert emitted(core.handle(gossip("x", Update(UpdateKind.ALIVE, "a", 2, meta=b"m")), 1.5)) == [
        MemberJoined("a", 2, b"m")
    ]
    assert emitted(core.handle(gossip("x", Update(UpdateKind.ALIVE, "a", 3, meta=b"n")), 1.6)) == [
        MemberUpdated("a", 3, b"n")
    ]


def test_suspicion_timeout_shrinks_with_independent_confirmations() -> None:
    known = tuple(f"p{i}" for i in range(99))  # n = 100: min 8 s, max 48 s, K = 2
    core = make(known=known)

    def g(o: str) -> PacketReceived:
        return gossip(o, Update(UpdateKind.SUSPECT, "p1", 0, origin=o))

    assert suspect_deadlines(core.handle(g("p2"), 10.0), "p1") == [pytest.approx(58.0)]
    assert suspect_deadlines(core.handle(g("p2"), 11.0), "p1") == []  # not independent
    d1 = suspect_deadlines(core.handle(g("p3"), 12.0), "p1")
    assert d1 == [pytest.approx(10.0 + 48 - 40 * 0.6309297535714574)]
    assert suspect_deadlines(core.handle(g("p4"), 13.0), "p1") == [pytest.approx(18.0)]
    assert suspect_deadlines(core.handle(g("p5"), 14.0), "p1") == []  # K reached
    ev = emitted(core.handle(TimerFired(("suspect", "p1")), 18.0))
    assert ev == [MemberDead("p1", 0, "me")]


def test_plain_swim_uses_the_minimum_timeout() -> None:
    core = SwimCore("me", SwimConfig.lan().without_lifeguard(), random.Random(1), known=("a", "b"))
    core.start(0.0)
    effects = core.handle(
        PacketReceived(
            "a", encode_message(Gossip((Update(UpdateKind.SUSPECT, "b", 0, origin="a"),)))
        ),
        3.0,
    )
    assert [e.at for e in effects if isinstance(e, SetTimer) and e.key == ("suspect", "b")] == [7.0]


def test_buddy_system_ping_carries_the_suspicion() -> None:
    core = make(known=("a",))
    core.handle(
        PacketReceived(
            "x", encode_message(Gossip((Update(UpdateKind.SUSPECT, "a", 0, origin="x"),)))
        ),
        0.5,
    )
    _, ping = probe(core, 1.0)
    assert ping.updates[0] == Update(UpdateKind.SUSPECT, "a", 0, origin="me")


def test_retransmit_limit_and_budget() -> None:
    core = make(known=("a",), packet_budget=256)  # n = 2: limit 4 * ceil(log10 3) = 4
    core.handle(
        PacketReceived("x", encode_message(Gossip((Update(UpdateKind.ALIVE, "new", 0),)))), 0.5
    )
    carried = 0
    for i in range(10):
        out = sent(core.handle(PacketReceived("a", encode_message(Ping(i))), 1.0 + i))
        carried += len(out[0][1].updates)  # type: ignore[attr-defined]
    assert carried == SwimConfig().retransmit_limit(3)
    many = tuple(Update(UpdateKind.ALIVE, f"member-{i:03d}", 0, meta=b"x" * 20) for i in range(30))
    core.handle(PacketReceived("x", encode_message(Gossip(many))), 20.0)
    effects = core.handle(PacketReceived("a", encode_message(Ping(99))), 21.0)
    packet = next(e for e in effects if isinstance(e, SendPacket))
    assert 200 < len(packet.data) <= 256


def test_idle_member_sends_no_gossip() -> None:
    core = make()
    for i in range(10):  # drain the queue of our own joins (there is none: static bootstrap)
        assert sent(core.handle(TimerFired(("gossip",)), 0.2 * i)) == []


def test_push_pull_merges_and_replies() -> None:
    core = make(known=())
    state = PushPull(True, False, (("s", 3, 0, b"meta"), ("t", 1, 2, b""), ("u", 0, 3, b"")))
    effects = core.handle(StreamReceived("s", encode_push_pull(state)), 1.0)
    assert MemberJoined("s", 3, b"meta") in emitted(effects)
    # A remote "dead" is only a suspicion here (memberlist's rule); "left" stays unknown.
    assert core.member("t") is None
    (reply,) = [e for e in effects if isinstance(e, SendStream)]
    msg = decode_message(reply.data)
    assert isinstance(msg, PushPull) and msg.reply
    assert ("me", 0, 0, b"") in msg.members and ("s", 3, 0, b"meta") in msg.members


def test_the_link_is_closed_once_our_push_pull_is_answered_only_if_asked() -> None:
    """close_push_pull_links (for a host running SWIM alone): the reply to our push-pull ends
    the exchange, so the link is closed; a request is answered and its link left to the asker."""
    reply = encode_push_pull(PushPull(False, True, (("s", 0, 0, b""),)))
    request = encode_push_pull(PushPull(False, False, (("s", 0, 0, b""),)))
    core = make(known=(), close_push_pull_links=True)
    assert CloseStream("s") in core.handle(StreamReceived("s", reply), 1.0)
    effects = core.handle(StreamReceived("s", request), 2.0)
    assert [type(e) for e in effects if isinstance(e, SendStream | CloseStream)] == [SendStream]
    core = make(known=())  # off by default: a Node's other cores share the link
    assert not any(isinstance(e, CloseStream) for e in core.handle(StreamReceived("s", reply), 1.0))


def test_garbage_is_counted_and_dropped() -> None:
    core = make()
    assert core.handle(PacketReceived("a", b"\x01\xc1\xff"), 1.0) == []
    assert core.handle(PacketReceived("a", b"\x1f\x90"), 1.0) == []
    assert core.handle(StreamReceived("a", encode_message(Ping(1))), 1.0) == []
    assert core.stats["decode_errors"] == 2
    assert core.stats["unknown_tags"] == 1


def test_leave_then_commands_are_usage_errors() -> None:
    core = make(known=("a",))
    effects = core.leave(1.0)
    assert CancelTimer(("probe",)) in effects
    done: list[object] = []
    for i in range(10):
        done += emitted(core.handle(TimerFired(("gossip",)), 1.0 + 0.2 * i))
    assert done == [LeaveCompleted(True)]
    with pytest.raises(UsageError):
        core.update_meta(b"x", 5.0)
    with pytest.raises(ValueError):
        make().update_meta(b"x" * 600, 1.0)


def test_a_leave_before_the_join_reply_reaches_the_seed_that_took_us_in() -> None:
    # a joins through b; b takes a in, but a leaves before b's reply arrives (a knows no live
    # member yet). The old core finished at once and told no one: b kept a alive until its
    # suspicion timeout declared it dead.
    a = SwimCore("a", SwimConfig.local(), random.Random(1), seeds=("b",))
    b = SwimCore("b", SwimConfig.local(), random.Random(2))
    b.start(0.0)
    (join,) = [e for e in a.start(0.0) if isinstance(e, SendStream)]
    b.handle(StreamReceived("a", join.data), 0.01)  # its reply to a is never delivered
    took_in = b.member("a")
    assert took_in is not None and took_in.state == MemberState.ALIVE
    effects = a.leave(0.02)
    assert emitted(effects) == [LeaveCompleted(True)]
    out = [e for e in effects if isinstance(e, SendStream)]
    assert [e.dst for e in out] == ["b"]
    for e in out:  # the same stream as the join, so it arrives after it
        replies = b.handle(StreamReceived("a", e.data), 0.03)
        assert not [r for r in replies if isinstance(r, SendStream)]  # a asked for no answer
    left = b.member("a")
    assert left is not None and left.state == MemberState.LEFT and left.incarnation == 0


def test_start_twice_is_a_usage_error() -> None:
    core = make()
    with pytest.raises(UsageError):
        core.start(1.0)


@pytest.mark.parametrize("eager", [True, False])
def test_gossip_timer_runs_only_while_there_is_news(eager: bool) -> None:
    cfg = dataclasses.replace(SwimConfig.lan(), eager_gossip=eager)
    core = SwimCore("me", cfg, random.Random(3), known=("a", "b"))
    start = core.start(0.0)
    assert not [e for e in start if isinstance(e, SetTimer) and e.key == ("gossip",)]
    effects = core.handle(gossip("a", Update(UpdateKind.ALIVE, "c", 0)), 1.0)
    armed = [e.at for e in effects if isinstance(e, SetTimer) and e.key == ("gossip",)]
    assert len(armed) == 1
    if eager:  # news to an idle member goes out at once
        assert armed[0] == 1.0
    else:  # the next tick of the free-running ticker: within one interval, not a whole one
        assert 1.0 < armed[0] <= 1.2
    # It re-arms on the ticker's ticks while the update still has sends left, then stops.
    rounds = 0
    at = armed[0]
    ticks: list[float] = []
    transmissions = 0
    while True:
        out = core.handle(TimerFired(("gossip",)), at)
        transmissions += len(sent(out))
        rounds += 1
        nxt = [e for e in out if isinstance(e, SetTimer) and e.key == ("gossip",)]
        if not nxt:
            break
        ticks.append(nxt[0].at)
        at = nxt[0].at
        assert rounds < 20
    if eager:  # then the ticker's next tick
        assert 1.0 < ticks[0] <= 1.2
    else:
        assert ticks[0] == pytest.approx(armed[0] + 0.2)
    assert all(b - a == pytest.approx(0.2) for a, b in itertools.pairwise(ticks))
    # eager or not, the update is sent its retransmit limit of times, no more
    assert transmissions == cfg.retransmit_limit(core.num_members())
    assert sent(core.handle(TimerFired(("gossip",)), at + 1.0)) == []


def test_gossip_ticks_keep_a_random_phase_per_member() -> None:
    # memberlist's gossip ticker starts after a random stagger, so news queued at one instant
    # waits U(0, interval) at each member, not the same whole interval everywhere.
    waits = []
    for seed in range(40):
        cfg = dataclasses.replace(SwimConfig.lan(), eager_gossip=False)
        core = SwimCore("me", cfg, random.Random(seed), known=("a", "b"))
        core.start(0.0)
        effects = core.handle(gossip("a", Update(UpdateKind.ALIVE, "c", 0)), 5.03)
        (at,) = [e.at for e in effects if isinstance(e, SetTimer) and e.key == ("gossip",)]
        waits.append(at - 5.03)
    assert all(0 < w <= 0.2 + 1e-9 for w in waits)
    assert 0.06 < sum(waits) / len(waits) < 0.14  # about interval / 2
    assert min(waits) < 0.05 and max(waits) > 0.15


def test_relay_nacks_inside_the_requesters_indirect_phase() -> None:
    core = make()  # probe_interval 1.0, probe_timeout 0.5
    assert SwimConfig().nack_timeout() == pytest.approx(0.4)
    effects = core.handle(PacketReceived("a", encode_message(PingReq(10, "c", True))), 2.0)
    (relay_seq,) = [m.seq for _, m in sent(effects) if isinstance(m, Ping)]
    timers = [e.at for e in effects if isinstance(e, SetTimer) and e.key == ("relay", relay_seq)]
    # The requester sent the ping-req 0.5 s into its 1 s period: a nack after 0.4 s more lands
    # before the period ends (one after the full probe timeout would land just after it).
    assert timers == [pytest.approx(2.4)]
    effects = core.handle(TimerFired(("relay", relay_seq)), 2.4)
    assert sent(effects) == [("a", Nack(10))]
    # A late ack from the target is still relayed until the probe timeout.
    assert [e.at for e in effects if isinstance(e, SetTimer)] == [pytest.approx(2.5)]
    out = sent(core.handle(PacketReceived("c", encode_message(Ack(relay_seq))), 2.45))
    assert out == [("a", Ack(10))]
    # Without a nack asked for, the relay just expires at the probe timeout.
    effects = core.handle(PacketReceived("a", encode_message(PingReq(11, "d", False))), 3.0)
    (relay_seq,) = [m.seq for _, m in sent(effects) if isinstance(m, Ping)]
    timers = [e.at for e in effects if isinstance(e, SetTimer) and e.key == ("relay", relay_seq)]
    assert timers == [pytest.approx(3.5)]
    assert sent(core.handle(TimerFired(("relay", relay_seq)), 3.5)) == []


def test_a_push_pull_listing_400k_fake_members_is_refused_whole() -> None:
    """Issue 12, item 8: one push-pull listing 400,000 fake members took 11 s, kept 233 MB and
    emitted 400,000 MemberJoined. A push-pull listing more than ``max_members`` is refused from
    its array header; below the cap, news of members past it is dropped and counted."""
    core = make()
    fake = tuple(
        (f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}:7946", 0, 0, b"") for i in range(400_000)
    )
    effects = core.handle(StreamReceived("a", encode_push_pull(PushPull(False, True, fake))), 1.0)
    assert emitted(effects) == [] and len(core.members()) == 5
    assert core.stats["decode_errors"] == 1
    small = make(max_members=8)
    effects = small.handle(
        StreamReceived("a", encode_push_pull(PushPull(False, True, fake[:6]))), 1.0
    )
    assert len(emitted(effects)) == 3 and len(small.members()) == 8
    assert small.stats["members_refused"] == 3


def test_our_push_pull_never_exceeds_its_byte_cap() -> None:
    """Issue 12, item 8: with enough members (and metadata) our own push-pull grew past the
    transport's frame cap and could never be sent. It is cut to ``max_push_pull_bytes``:
    ourselves first, then live members."""
    known = tuple(f"member-{i:05d}.example.internal:7946" for i in range(3000))
    core = make(known=known, max_push_pull_bytes=64 * 1024)
    core.handle(gossip("a", Update(UpdateKind.DEAD, known[0], 0, origin="a")), 0.5)
    out = core.join(["seed:1"], 1.0)
    (frame,) = [e.data for e in out if isinstance(e, SendStream)]
    assert 60 * 1024 < len(frame) <= 64 * 1024
    pp = decode_message(frame)
    assert isinstance(pp, PushPull) and pp.members[0][0] == "me"
    assert known[0] not in {m[0] for m in pp.members}  # the tombstone went first
    assert core.stats["push_pull_truncated"] == 1
    assert len(encode_push_pull(PushPull(True, False, pp.members))) == len(frame)
