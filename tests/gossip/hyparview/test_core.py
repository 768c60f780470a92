"""HyParView core, driven by hand: feed one event, inspect the effects (no network)."""

from __future__ import annotations

import random

import pytest

from gossip import (
    ConfigError,
    Effect,
    Emit,
    PeerUnreachable,
    SendStream,
    SetTimer,
    StreamReceived,
    TimerFired,
    UsageError,
)
from gossip.hyparview import (
    Disconnect,
    ForwardJoin,
    HyParView,
    HyParViewConfig,
    Join,
    JoinAccept,
    Message,
    Neighbor,
    NeighborDown,
    NeighborReply,
    NeighborUp,
    Shuffle,
    ShuffleReply,
    decode,
    encode,
)

CFG = HyParViewConfig(active_size=3, passive_size=5)


def node(addr: str = "me", epoch: int = 0, cfg: HyParViewConfig = CFG) -> HyParView:
    hv = HyParView(addr, rng=random.Random(addr), config=cfg, epoch=epoch)
    hv.start(0.0)
    return hv


def feed(hv: HyParView, src: str, msg: Message, now: float = 1.0) -> list[Effect]:
    return hv.handle(StreamReceived(src, encode(msg)), now)


def sent(effects: list[Effect]) -> list[tuple[str, Message]]:
    return [(e.dst, decode(e.data)) for e in effects if isinstance(e, SendStream)]


def emitted(effects: list[Effect]) -> list[object]:
    return [e.event for e in effects if isinstance(e, Emit)]


def linked(hv: HyParView, *peers: str) -> None:
    """Give ``hv`` active neighbours through the protocol (they ask with low priority)."""
    for p in peers:
        feed(hv, p, Neighbor(False, 0, 7))
    assert hv.active_view >= set(peers)


def test_join_sends_join_and_links_only_on_accept() -> None:
    hv = node()
    out = hv.join(["seed", "me"], 0.0)
    assert sent(out) == [("seed", Join(0))]
    joining = [hv.is_joining]
    assert hv.active_view == frozenset()
    out = feed(hv, "seed", JoinAccept(0))
    joining.append(hv.is_joining)
    assert hv.active_view == {"seed"} and joining == [True, False]
    assert emitted(out) == [NeighborUp("seed")]


def test_first_node_sends_nothing() -> None:
    hv = node()
    assert sent(hv.join(["me"], 0.0)) == []


def test_contact_accepts_join_and_starts_walks() -> None:
    hv = node()
    linked(hv, "a", "b")
    out = feed(hv, "new", Join(4))
    assert "new" in hv.active_view
    msgs = sent(out)
    assert ("new", JoinAccept(0)) in msgs
    walks = sorted(d for d, m in msgs if m == ForwardJoin("new", 4, CFG.arwl))
    assert walks == ["a", "b"]


def test_forward_join_walk_ends_with_high_priority_neighbor_request() -> None:
    hv = node()
    linked(hv, "a", "b")
    out = feed(hv, "a", ForwardJoin("new", 0, 0))
    ((dst, msg),) = sent(out)
    assert dst == "new" and isinstance(msg, Neighbor) and msg.high
    assert "new" not in hv.active_view  # only once the reply arrives
    out = feed(hv, "new", NeighborReply(True, 0, msg.req))
    assert "new" in hv.active_view and NeighborUp("new") in emitted(out)


def test_forward_join_at_prwl_lands_in_passive_and_walks_on() -> None:
    hv = node()
    linked(hv, "a", "b")
    out = feed(hv, "a", ForwardJoin("new", 0, CFG.prwl))
    assert "new" in hv.passive_view
    assert sent(out) == [("b", ForwardJoin("new", 0, CFG.prwl - 1))]


def test_low_priority_needs_a_free_slot_high_priority_evicts() -> None:
    hv = node()
    linked(hv, "a", "b", "c")
    out = feed(hv, "d", Neighbor(False, 0, 1))
    assert sent(out) == [("d", NeighborReply(False, 0, 1))]
    assert "d" not in hv.active_view and "d" in hv.passive_view
    out = feed(hv, "e", Neighbor(True, 0, 2))
    assert "e" in hv.active_view and len(hv.active_view) == 3
    (victim,) = {"a", "b", "c"} - hv.active_view
    msgs = sent(out)
    assert (victim, Disconnect(0, False)) in msgs and ("e", NeighborReply(True, 0, 2)) in msgs
    assert NeighborDown(victim, "evicted") in emitted(out)
    assert victim in hv.passive_view


def test_disconnect_moves_peer_to_passive_and_stale_one_is_ignored() -> None:
    hv = node()
    feed(hv, "a", Neighbor(False, 5, 1))  # a is at epoch 5
    out = feed(hv, "a", Disconnect(4, False))  # from an earlier incarnation of a
    assert "a" in hv.active_view and emitted(out) == [] and hv.stats.stale_ignored == 1
    out = feed(hv, "a", Disconnect(5, False))
    assert "a" not in hv.active_view and "a" in hv.passive_view
    assert emitted(out) == [NeighborDown("a", "disconnect")]


def test_leaving_peer_is_forgotten() -> None:
    hv = node()
    linked(hv, "a")
    feed(hv, "a", Disconnect(0, True))
    assert "a" not in hv.active_view and "a" not in hv.passive_view


def test_failed_peer_is_replaced_from_passive_at_once() -> None:
    hv = node()
    linked(hv, "a")
    feed(hv, "x", Neighbor(False, 0, 1))
    feed(hv, "y", Neighbor(False, 0, 1))
    feed(hv, "z", Neighbor(True, 0, 1))  # evicts one of a/x/y into the passive view
    assert len(hv.passive_view) == 1
    out = hv.handle(PeerUnreachable("z"), 2.0)
    assert NeighborDown("z", "failed") in emitted(out)
    ((dst, msg),) = sent(out)
    assert dst in hv.passive_view and isinstance(msg, Neighbor) and not msg.high


def test_isolated_node_asks_with_high_priority() -> None:
    hv = node()
    linked(hv, "a")
    feed(hv, "a", Disconnect(0, False))  # a to passive; we ask it back with high priority...
    out = hv.handle(PeerUnreachable("a"), 2.0)  # ...but a is gone: nothing left
    assert hv.active_view == frozenset()
    assert sent(out) == []


def test_late_reply_is_answered_with_disconnect_when_full() -> None:
    hv = node()
    linked(hv, "a", "b", "c")
    out = feed(hv, "z", NeighborReply(True, 0, 12345))  # nobody asked
    assert sent(out) == [("z", Disconnect(0, False))]
    assert "z" not in hv.active_view and hv.stats.late_replies == 1


def _request_to(hv: HyParView, out: list[Effect], peer: str) -> Neighbor:
    ((dst, msg),) = [(d, m) for d, m in sent(out) if isinstance(m, Neighbor)]
    assert dst == peer and isinstance(msg, Neighbor)
    return msg


def test_late_reply_while_a_request_is_pending_waits_for_that_reply() -> None:
    # A full node has a request out to z (the end of a join walk) when an older accepting reply
    # from z turns up. Answering it with DISCONNECT would cross the pending request: z could
    # accept that request, then drop us on the DISCONNECT, and the accepting reply we link on
    # would be obsolete (a one-sided link, found by a simulator run). The pending reply decides.
    hv = node()
    linked(hv, "a", "b", "c")
    q = _request_to(hv, feed(hv, "a", ForwardJoin("z", 0, 0)), "z")
    out = feed(hv, "z", NeighborReply(True, 0, q.req ^ 1), now=1.5)  # an older request's reply
    assert sent(out) == [] and "z" in hv.pending and "z" not in hv.active_view
    assert hv.stats.late_replies == 1
    out = feed(hv, "z", NeighborReply(True, 0, q.req), now=1.6)
    assert "z" in hv.active_view and "z" not in hv.pending  # z holds us too: it accepted q
    assert [m for _, m in sent(out)] == [Disconnect(0, False)]  # to the evicted neighbour


def test_late_accepting_reply_with_a_free_slot_asks_again_before_linking() -> None:
    # The replier added us when it answered, but we cannot tell whether it has dropped us since
    # (a DISCONNECT of ours may have crossed the reply): a fresh request, queued behind anything
    # we sent before, finds out; only its reply links.
    hv = node()
    linked(hv, "a")
    out = feed(hv, "z", NeighborReply(True, 0, 4242))  # nobody waits for it any more
    q = _request_to(hv, out, "z")
    assert "z" not in hv.active_view and "z" in hv.pending and not q.high
    out = feed(hv, "z", NeighborReply(True, 0, q.req), now=1.2)
    assert "z" in hv.active_view and NeighborUp("z") in emitted(out)


def test_late_accepting_reply_to_a_timed_out_request_links() -> None:
    # Slow, not obsolete: we asked z, gave up, and have not disconnected z since, so z's late
    # acceptance is current and fills the free slot at once (on a path whose replies are
    # always slower than the timeout, asking again would never succeed).
    hv = node()
    linked(hv, "a")
    out = feed(hv, "a", ForwardJoin("z", 0, 0))
    q = _request_to(hv, out, "z")
    (timer,) = [e for e in out if isinstance(e, SetTimer)]
    hv.handle(TimerFired(timer.key), timer.at)
    assert "z" not in hv.pending
    out = feed(hv, "z", NeighborReply(True, 0, q.req), now=timer.at + 0.5)
    assert "z" in hv.active_view and NeighborUp("z") in emitted(out)
    assert hv.stats.late_replies == 1


def test_no_disconnect_to_the_join_contact_while_the_join_is_out() -> None:
    # A late acceptance from the contact we are joining through, while we are full: a
    # DISCONNECT now would cross the JOIN (the contact accepts it, then drops us), and the
    # JOIN_ACCEPT we link on would be obsolete. The JOIN_ACCEPT decides instead.
    hv = node()
    hv.join(["c"], 0.5)
    linked(hv, "a", "b", "x")
    out = feed(hv, "c", NeighborReply(True, 0, 999), now=1.5)
    assert sent(out) == [] and hv.is_joining
    feed(hv, "c", JoinAccept(0), now=1.6)
    assert "c" in hv.active_view and not hv.is_joining


def test_join_accept_overtaken_by_our_disconnect_does_not_link() -> None:
    # We joined through a walk before the (slow) contact answered, then disconnected the
    # contact; its JOIN_ACCEPT, sent before our DISCONNECT reached it, is obsolete.
    hv = node()
    out = hv.join(["c"], 0.0)
    (timer,) = [e for e in out if isinstance(e, SetTimer) and e.key != ("hyparview", "round")]
    linked(hv, "a", "b", "x")
    hv.handle(TimerFired(timer.key), timer.at)  # joined through a walk: no longer waiting
    assert not hv.is_joining
    out = feed(hv, "c", NeighborReply(True, 0, 999), now=2.0)  # full: undone with DISCONNECT
    assert sent(out) == [("c", Disconnect(0, False))]
    out = feed(hv, "c", JoinAccept(0), now=2.1)
    assert "c" not in hv.active_view
    assert sent(out) == [("c", Disconnect(0, False))]
    # With a free slot, an obsolete acceptance is answered with a fresh request instead.
    hv.handle(PeerUnreachable("a"), 2.2)
    hv.handle(PeerUnreachable("b"), 2.2)
    for key in [k for k in hv.pending]:
        hv.handle(PeerUnreachable(key), 2.3)  # the replacements asked for fail too
    out = feed(hv, "c", JoinAccept(0), now=2.4)
    assert "c" not in hv.active_view
    q = _request_to(hv, out, "c")
    feed(hv, "c", NeighborReply(True, 0, q.req), now=2.5)
    assert "c" in hv.active_view


def test_join_is_retried_while_the_only_links_are_nodes_that_joined_through_us() -> None:
    hv = node()
    out = hv.join(["seed"], 0.0)
    (timer,) = [e for e in out if isinstance(e, SetTimer) and e.key != ("hyparview", "round")]
    feed(hv, "newcomer", Join(0), now=0.5)  # accepted: we are its contact
    assert hv.active_view == {"newcomer"}
    out = hv.handle(TimerFired(timer.key), timer.at)
    assert sent(out) == [("seed", Join(0))] and hv.is_joining  # not in the cluster yet
    # A link formed otherwise (here: the end of a join walk asks us) means we are in.
    walk = _request_to(hv, feed(hv, "newcomer", ForwardJoin("w", 0, 0), now=1.2), "w")
    feed(hv, "w", NeighborReply(True, 0, walk.req), now=1.3)
    (timer,) = [e for e in out if isinstance(e, SetTimer)]
    out = hv.handle(TimerFired(timer.key), timer.at)
    assert sent(out) == [] and not hv.is_joining


def test_request_timeout_abandons_candidate() -> None:
    hv = node()
    linked(hv, "a", "b")
    out = feed(hv, "a", ForwardJoin("q", 0, 0))
    (timer,) = [e for e in out if isinstance(e, SetTimer)]
    assert "q" in hv.pending
    hv.handle(TimerFired(timer.key), timer.at)
    assert "q" not in hv.pending and "q" not in hv.active_view


def test_shuffle_walks_then_is_answered_by_the_last_node() -> None:
    hv = node()
    linked(hv, "a", "b")
    out = feed(hv, "a", Shuffle("o", 3, 9, ("o", "x1", "x2")))
    assert sent(out) == [("b", Shuffle("o", 2, 9, ("o", "x1", "x2")))]
    out = feed(hv, "a", Shuffle("o", 1, 9, ("o", "x1", "x2")))
    ((dst, msg),) = sent(out)
    assert dst == "o" and isinstance(msg, ShuffleReply) and msg.sid == 9
    assert {"o", "x1", "x2"} <= hv.passive_view


def test_round_sends_a_shuffle_with_own_id() -> None:
    hv = node()
    linked(hv, "a")
    out = hv.handle(TimerFired(("hyparview", "round")), 20.0)
    shuffles = [(d, m) for d, m in sent(out) if isinstance(m, Shuffle)]
    assert len(shuffles) == 1 and shuffles[0][0] == "a"
    assert shuffles[0][1].origin == "me" and "me" in shuffles[0][1].nodes


def test_garbage_is_counted_and_dropped() -> None:
    hv = node()
    assert hv.handle(StreamReceived("x", b"\x20\xc1garbage"), 1.0) == []
    assert hv.stats.decode_errors == 1


def test_leave_tells_neighbours_and_blocks_rejoin() -> None:
    hv = node()
    linked(hv, "a", "b")
    out = hv.leave(3.0)
    assert sorted(d for d, m in sent(out) if m == Disconnect(0, True)) == ["a", "b"]
    assert hv.active_view == frozenset()
    with pytest.raises(UsageError):
        hv.join(["a"], 4.0)


def test_swim_can_report_a_failure() -> None:
    hv = node()
    linked(hv, "a")
    out = hv.peer_failed("a", 2.0)
    assert NeighborDown("a", "failed") in emitted(out)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"active_size": 0},
        {"prwl": 7},
        {"shuffle_interval": 0.0},
        {"neighbor_timeout": float("nan")},
        {"reconnect_memory": -1},
    ],
)
def test_config_rejects_bad_values(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        HyParViewConfig(**kwargs)  # type: ignore[arg-type]


def test_config_presets() -> None:
    assert HyParViewConfig.paper().active_size == 5
    big = HyParViewConfig.for_cluster_size(10_000)
    assert (big.active_size, big.passive_size) == (5, 30)
    assert HyParViewConfig.local().shuffle_interval == 1.0
