"""Membership notifications, handed to the application as ``Emit(event)``."""

from __future__ import annotations

from dataclasses import dataclass

from gossip._events import Addr

__all__ = [
    "LeaveCompleted",
    "MemberDead",
    "MemberJoined",
    "MemberLeft",
    "MemberReaped",
    "MemberRecovered",
    "MemberSuspected",
    "MemberUpdated",
    "MembershipEvent",
]


@dataclass(frozen=True, slots=True)
class MemberJoined:
    """A member became known and alive (first sight, or back after being dead or left)."""

    addr: Addr
    incarnation: int
    meta: bytes


@dataclass(frozen=True, slots=True)
class MemberUpdated:
    """An alive member published new metadata (with a new incarnation)."""

    addr: Addr
    incarnation: int
    meta: bytes


@dataclass(frozen=True, slots=True)
class MemberSuspected:
    """A member is suspected of having failed (``by`` is the member that first suspected it)."""

    addr: Addr
    incarnation: int
    by: Addr


@dataclass(frozen=True, slots=True)
class MemberRecovered:
    """A suspected member refuted the suspicion and is alive again."""

    addr: Addr
    incarnation: int


@dataclass(frozen=True, slots=True)
class MemberDead:
    """A member is declared failed (its suspicion timed out, here or at ``by``)."""

    addr: Addr
    incarnation: int
    by: Addr


@dataclass(frozen=True, slots=True)
class MemberLeft:
    """A member left the cluster gracefully."""

    addr: Addr
    incarnation: int


@dataclass(frozen=True, slots=True)
class MemberReaped:
    """A dead or left member was forgotten (its tombstone expired)."""

    addr: Addr


@dataclass(frozen=True, slots=True)
class LeaveCompleted:
    """This node's leave was disseminated (or ``leave_timeout`` passed): the driver may stop."""

    disseminated: bool


MembershipEvent = (
    MemberJoined
    | MemberUpdated
    | MemberSuspected
    | MemberRecovered
    | MemberDead
    | MemberLeft
    | MemberReaped
    | LeaveCompleted
)
