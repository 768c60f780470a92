"""The record a member keeps about each peer (and itself): state, incarnation, metadata."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from gossip._events import Addr

__all__ = ["Member", "MemberState"]


class MemberState(enum.IntEnum):
    """Where a member stands. The wire carries the integer value."""

    ALIVE = 0
    SUSPECT = 1
    DEAD = 2
    LEFT = 3


@dataclass(frozen=True, slots=True)
class Member:
    """A snapshot of one member as this node sees it.

    ``state_change`` is the local time (driver clock, seconds) of the last state change: dead and
    left members are reaped ``gossip_to_the_dead_time`` after it.
    """

    addr: Addr
    incarnation: int
    state: MemberState
    meta: bytes
    state_change: float
