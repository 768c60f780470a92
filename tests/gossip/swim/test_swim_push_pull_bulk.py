"""A big push-pull is first filtered column-wise (entries equal to what we hold are skipped at C
speed): the outcome must be exactly that of applying every entry one by one."""

from __future__ import annotations

import random

import pytest

from gossip import Effect, PacketReceived, StreamReceived
from gossip.swim import SwimConfig, SwimCore
from gossip.swim import _core as swim_core
from gossip.swim._messages import (
    Gossip,
    PushPull,
    Update,
    UpdateKind,
    encode_message,
    encode_push_pull,
)

PEERS = tuple(f"p{i:03d}" for i in range(120))


def scenario() -> tuple[SwimCore, list[list[Effect]]]:
    core = SwimCore("me", SwimConfig(), random.Random(3), known=PEERS, meta=b"mine")
    out = [core.start(0.0)]
    # Our view: p001 suspected by p002, p003 dead, p004 at incarnation 2.
    news = (
        Update(UpdateKind.SUSPECT, "p001", 0, origin="p002"),
        Update(UpdateKind.DEAD, "p003", 0, origin="p002"),
        Update(UpdateKind.ALIVE, "p004", 2),
    )
    out.append(core.handle(PacketReceived("p002", encode_message(Gossip(news))), 1.0))
    members: list[tuple[str, int, int, bytes]] = [(p, 0, 0, b"") for p in PEERS]
    members[1] = ("p001", 0, 1, b"")  # the same suspicion, from another member: a confirmation
    members[3] = ("p003", 0, 0, b"")  # alive at the incarnation we hold dead: stale
    members[4] = ("p004", 1, 0, b"")  # older than ours: stale
    members[5] = ("p005", 4, 0, b"m5")  # newer: applied
    members[6] = ("p006", 0, 2, b"")  # dead there: a suspicion here
    members[7] = ("p007", 0, 3, b"")  # left
    members.append(("me", 0, 0, b"other"))  # us, with other metadata at our incarnation: refute
    members.append(("new", 0, 0, b""))  # someone we never heard of
    frame = encode_push_pull(PushPull(False, False, tuple(members)))
    out.append(core.handle(StreamReceived("p009", frame), 2.0))
    return core, out


def test_bulk_filter_matches_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, fast_out = scenario()
    monkeypatch.setattr(swim_core, "_BULK", 10**9)
    slow, slow_out = scenario()
    assert fast_out == slow_out
    assert fast.members() == slow.members()
    assert fast.incarnation == slow.incarnation == 1  # the refutation happened
    m = {x.addr: x for x in fast.members()}
    assert m["p005"].incarnation == 4 and m["p005"].meta == b"m5"
    assert m["p006"].state.name == "SUSPECT" and m["p007"].state.name == "LEFT"
    assert m["p003"].state.name == "DEAD" and m["p004"].incarnation == 2
    assert "new" in m
