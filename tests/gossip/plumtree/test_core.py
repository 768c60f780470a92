"""Plumtree core, driven by hand: feed one event, inspect the effects."""

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
from gossip.plumtree import (
    Delivered,
    Gossip,
    Graft,
    IHave,
    Message,
    Plumtree,
    PlumtreeConfig,
    Prune,
    decode,
    encode,
)


def node(*peers: str, **cfg: object) -> Plumtree:
    pt = Plumtree("me", rng=random.Random(0), config=PlumtreeConfig(**cfg))  # type: ignore[arg-type]
    for p in peers:
        pt.neighbor_up(p, 0.0)
    return pt


def feed(pt: Plumtree, src: str, msg: Message, now: float = 1.0) -> list[Effect]:
    return pt.handle(StreamReceived(src, encode(msg)), now)


def sent(effects: list[Effect]) -> list[tuple[str, Message]]:
    return [(e.dst, decode(e.data)) for e in effects if isinstance(e, SendStream)]


def test_broadcast_goes_eager_to_all_new_neighbours() -> None:
    pt = node("a", "b")
    out = pt.broadcast(b"hi", 0.0)
    msgs = sent(out)
    assert sorted(d for d, _ in msgs) == ["a", "b"]
    assert all(m == Gossip(pt.last_mid or 0, 0, b"hi") for _, m in msgs)
    assert not [e for e in out if isinstance(e, Emit)]  # not delivered back to the sender


def test_first_copy_delivers_and_forwards_duplicate_prunes() -> None:
    pt = node("a", "b", "c")
    out = feed(pt, "a", Gossip(42, 3, b"p"))
    assert [e.event for e in out if isinstance(e, Emit)] == [Delivered(42, b"p", "a", 4)]
    assert sorted(d for d, m in sent(out)) == ["b", "c"]
    assert all(m == Gossip(42, 4, b"p") for _, m in sent(out))
    out = feed(pt, "b", Gossip(42, 1, b"p"))
    assert sent(out) == [("b", Prune())]
    assert pt.lazy_peers == {"b"} and pt.eager_peers == {"a", "c"}
    assert pt.stats.duplicates == 1


def test_prune_makes_link_lazy_and_lazy_peers_get_batched_ihave() -> None:
    pt = node("a", "b")
    feed(pt, "b", Prune())
    assert pt.lazy_peers == {"b"}
    out = pt.broadcast(b"1", 0.0) + pt.broadcast(b"2", 0.0)
    assert [d for d, _ in sent(out)] == ["a", "a"]
    (flush,) = [e for e in out if isinstance(e, SetTimer)]
    out = pt.handle(TimerFired(flush.key), flush.at)
    ((dst, msg),) = sent(out)
    assert dst == "b" and isinstance(msg, IHave) and len(msg.entries) == 2


def test_missing_message_is_grafted_after_the_timeout() -> None:
    pt = node("a", "b", graft_timeout=0.5, graft_retry=0.2)
    feed(pt, "a", Prune())
    feed(pt, "b", Prune())
    out = feed(pt, "a", IHave(((7, 2),)), now=1.0)
    out += feed(pt, "b", IHave(((7, 3),)), now=1.1)
    (timer,) = [e for e in out if isinstance(e, SetTimer)]
    assert timer.at == pytest.approx(1.5)
    out = pt.handle(TimerFired(timer.key), 1.5)
    assert sent(out) == [("a", Graft(7, 2))] and "a" in pt.eager_peers
    (retry,) = [e for e in out if isinstance(e, SetTimer)]
    out = pt.handle(TimerFired(retry.key), retry.at)
    assert sent(out) == [("b", Graft(7, 3))]
    feed(pt, "b", Gossip(7, 3, b"late"))
    assert pt.has_seen(7)


def test_graft_is_answered_with_the_payload() -> None:
    pt = node("a", "b")
    feed(pt, "a", Gossip(9, 0, b"x"))
    feed(pt, "b", Prune())
    out = feed(pt, "b", Graft(9, 1))
    assert sent(out) == [("b", Gossip(9, 1, b"x"))] and "b" in pt.eager_peers


def test_neighbor_down_forgets_peer_and_its_announcements() -> None:
    pt = node("a", "b")
    feed(pt, "a", IHave(((5, 1),)))
    pt.neighbor_down("a", 2.0)
    assert pt.eager_peers == {"b"}
    out = pt.handle(TimerFired(("plumtree", "graft", 5)), 3.0)
    assert sent(out) == []


def test_seen_cache_is_bounded() -> None:
    pt = node("a", seen_cache=3)
    for mid in range(1, 6):
        feed(pt, "a", Gossip(mid, 0, b""))
    assert [pt.has_seen(m) for m in range(1, 6)] == [False, False, True, True, True]


def test_usage_and_config_errors() -> None:
    pt = node(max_payload=4)
    with pytest.raises(UsageError):
        pt.broadcast(b"too long", 0.0)
    with pytest.raises(UsageError):
        pt.broadcast("text", 0.0)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        PlumtreeConfig(graft_timeout=0)
    with pytest.raises(ConfigError):
        PlumtreeConfig(seen_cache=0)


class _Source:
    def __init__(self, *peers: str) -> None:
        self.active_view = frozenset(peers)


def test_neighbor_source_is_followed_and_unreachable_peers_come_back() -> None:
    src = _Source("a", "b")
    pt = Plumtree("me", rng=random.Random(0), neighbors=src)
    assert pt.eager_peers == {"a", "b"}
    pt.handle(PeerUnreachable("a"), 1.0)  # the link broke; HyParView reconnected at once
    assert pt.eager_peers == {"a", "b"}
    src.active_view = frozenset({"b", "c"})
    out = pt.broadcast(b"x", 2.0)
    assert sorted(d for d, _ in sent(out)) == ["b", "c"]


def test_received_payloads_over_max_payload_are_dropped_unseen() -> None:
    """Issue 12, item 8: 50 gossip messages of 4 MiB were kept (200 MB) and forwarded (400 MB).
    Now a payload over ``max_payload`` (1 MiB by default) is neither kept nor forwarded."""
    pt = node("a", "b", "c")
    big = bytes(4 << 20)
    for i in range(50):
        assert feed(pt, "a", Gossip(1000 + i, 0, big)) == []
    assert pt.stats.oversize_dropped == 50 and pt.stats.delivered == 0
    assert not pt.has_seen(1000)
    out = feed(pt, "a", Gossip(7, 0, bytes(1 << 20)))  # at the cap: delivered, forwarded
    assert len([e for e in out if isinstance(e, Emit)]) == 1 and len(sent(out)) == 2


def test_the_seen_cache_is_capped_in_bytes() -> None:
    pt = node("a", "b", cache_bytes=1 << 20, max_payload=256 << 10)
    for i in range(20):
        feed(pt, "a", Gossip(100 + i, 0, bytes(100 << 10)))
    assert pt.cached_bytes <= 1 << 20
    assert pt.stats.payloads_evicted == 10
    # An evicted payload cannot answer a GRAFT, but its id still marks duplicates.
    assert sent(feed(pt, "b", Graft(100, 0))) == []
    assert sent(feed(pt, "b", Graft(119, 0))) == [("b", Gossip(119, 1, bytes(100 << 10)))]
    assert sent(feed(pt, "b", Gossip(100, 0, b"again"))) == [("b", Prune())]
