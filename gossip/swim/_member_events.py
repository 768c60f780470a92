"""Membership notifications, handed to the application as ``Emit(event)``.

Each carries ``at``: when the change happened here, on the driver's clock (the ``now`` the core
was given: ``Host.now()``, anyio's monotonic clock, on real sockets; virtual seconds in the
simulator). It is left out of equality, so an event compares by what happened, not when.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    at: float = field(default=0.0, compare=False)  # driver-clock seconds


@dataclass(frozen=True, slots=True)
class MemberUpdated:
    """An alive member published new metadata (with a new incarnation)."""

    addr: Addr
    incarnation: int
    meta: bytes
    at: float = field(default=0.0, compare=False)  # driver-clock seconds


@dataclass(frozen=True, slots=True)
class MemberSuspected:
    """A member is suspected of having failed (``by`` is the member that first suspected it)."""

    addr: Addr
    incarnation: int
    by: Addr
    at: float = field(default=0.0, compare=False)  # driver-clock seconds


@dataclass(frozen=True, slots=True)
class MemberRecovered:
    """A suspected member refuted the suspicion and is alive again."""

    addr: Addr
    incarnation: int
    at: float = field(default=0.0, compare=False)  # driver-clock seconds


@dataclass(frozen=True, slots=True)
class MemberDead:
    """A member is declared failed (its suspicion timed out, here or at ``by``)."""

    addr: Addr
    incarnation: int
    by: Addr
    at: float = field(default=0.0, compare=False)  # driver-clock seconds


@dataclass(frozen=True, slots=True)
class MemberLeft:
    """A member left the cluster gracefully."""

    addr: Addr
    incarnation: int
    at: float = field(default=0.0, compare=False)  # driver-clock seconds


@dataclass(frozen=True, slots=True)
class MemberReaped:
    """A dead or left member was forgotten (its tombstone expired)."""

    addr: Addr
    at: float = field(default=0.0, compare=False)  # driver-clock seconds


@dataclass(frozen=True, slots=True)
class LeaveCompleted:
    """This node's leave was disseminated (or ``leave_timeout`` passed): the driver may stop."""

    disseminated: bool
    at: float = field(default=0.0, compare=False)  # driver-clock seconds


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
