"""A full-state push-pull against a big member list: the entries the receiver already holds are
skipped before any object is built; everything else follows SWIM's precedence rules."""

from __future__ import annotations

import random

from gossip import Effect, Emit, PacketReceived, SendStream, SetTimer, StreamReceived
from gossip.swim import SwimConfig, SwimCore
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


def test_push_pull_merge_skips_known_and_applies_news() -> None:
    core, out = scenario()
    m = {x.addr: x for x in core.members()}
    assert core.incarnation == 1  # other metadata for us at our incarnation: refuted
    assert m["p005"].incarnation == 4 and m["p005"].meta == b"m5"  # newer: applied
    assert m["p006"].state.name == "SUSPECT"  # remote dead is a suspicion here
    assert m["p007"].state.name == "LEFT"
    assert m["p003"].state.name == "DEAD" and m["p004"].incarnation == 2  # stale: ignored
    assert "new" in m and m["new"].state.name == "ALIVE"
    # The same suspicion of p001 from another member is a confirmation: a shorter deadline.
    deadlines = [e.at for e in out[2] if isinstance(e, SetTimer) and e.key == ("suspect", "p001")]
    assert len(deadlines) == 1
    assert [e for e in out[2] if isinstance(e, SendStream)]  # and the reply
    # Nothing about the 110 members that were already known and unchanged.
    changed = {getattr(e.event, "addr", None) for e in out[2] if isinstance(e, Emit)}
    assert changed <= {"p005", "p006", "p007", "new", None}
