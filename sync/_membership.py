"""What a Node reports about its cluster: members (SWIM's list, with the names carried in member
metadata) and timestamped membership events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgpack

from gossip.swim import (
    Member,
    MemberDead,
    MemberJoined,
    MemberLeft,
    MemberReaped,
    MemberRecovered,
    MemberSuspected,
    MemberUpdated,
)

__all__ = [
    "MemberInfo",
    "MemberStateName",
    "MembershipEvent",
    "decode_meta",
    "encode_meta",
    "membership_event",
]

MemberStateName = Literal["alive", "suspect", "dead", "left"]
EventKind = Literal["joined", "updated", "suspected", "recovered", "dead", "left", "reaped"]
_STATES: tuple[MemberStateName, ...] = ("alive", "suspect", "dead", "left")


def encode_meta(name: str) -> bytes:
    """SWIM member metadata of a Node: a msgpack map (room for more fields later)."""
    return msgpack.packb({"name": name})  # type: ignore[no-any-return]


def decode_meta(meta: bytes) -> str:
    """The node name in ``meta`` ("" if absent or not ours: metadata is peer input)."""
    if not meta:
        return ""
    try:
        d = msgpack.unpackb(meta, raw=False, strict_map_key=True)
    except Exception:
        return ""
    name = d.get("name") if isinstance(d, dict) else None
    return name if isinstance(name, str) else ""


@dataclass(frozen=True, slots=True)
class MemberInfo:
    """One member as this node's SWIM sees it."""

    name: str  # from its metadata ("" until known)
    addr: str  # the address peers dial; what SWIM and HyParView identify it by
    state: MemberStateName
    incarnation: int

    @classmethod
    def of(cls, m: Member) -> MemberInfo:
        return cls(decode_meta(m.meta), m.addr, _STATES[int(m.state)], m.incarnation)


@dataclass(frozen=True, slots=True)
class MembershipEvent:
    """A membership change, stamped with the wall-clock time it was seen here (``at``, seconds
    since the epoch)."""

    kind: EventKind
    name: str
    addr: str
    state: MemberStateName | None  # the member's state after the event (None once reaped)
    at: float


def membership_event(ev: object, name: str, at: float) -> MembershipEvent | None:
    """The Node event for a SWIM notification (None for anything else)."""
    if isinstance(ev, MemberJoined):
        return MembershipEvent("joined", decode_meta(ev.meta) or name, ev.addr, "alive", at)
    if isinstance(ev, MemberUpdated):
        return MembershipEvent("updated", decode_meta(ev.meta) or name, ev.addr, "alive", at)
    if isinstance(ev, MemberSuspected):
        return MembershipEvent("suspected", name, ev.addr, "suspect", at)
    if isinstance(ev, MemberRecovered):
        return MembershipEvent("recovered", name, ev.addr, "alive", at)
    if isinstance(ev, MemberDead):
        return MembershipEvent("dead", name, ev.addr, "dead", at)
    if isinstance(ev, MemberLeft):
        return MembershipEvent("left", name, ev.addr, "left", at)
    if isinstance(ev, MemberReaped):
        return MembershipEvent("reaped", name, ev.addr, None, at)
    return None
