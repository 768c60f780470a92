"""SWIM + Lifeguard cluster membership as a sans-I/O core (see :mod:`gossip.swim._core`).

Drive :class:`SwimCore` with ``handle(event, now)`` from the simulator or the anyio host; the
membership changes come out as ``Emit`` effects carrying the events below.
"""

from __future__ import annotations

from gossip.swim._config import SwimConfig
from gossip.swim._core import SwimCore
from gossip.swim._member_events import (
    LeaveCompleted,
    MemberDead,
    MemberJoined,
    MemberLeft,
    MemberReaped,
    MemberRecovered,
    MembershipEvent,
    MemberSuspected,
    MemberUpdated,
)
from gossip.swim._messages import UnknownTagError
from gossip.swim._state import Member, MemberState
from gossip.swim._suspicion import suspicion_timeout

__all__ = [
    "LeaveCompleted",
    "Member",
    "MemberDead",
    "MemberJoined",
    "MemberLeft",
    "MemberReaped",
    "MemberRecovered",
    "MemberState",
    "MemberSuspected",
    "MemberUpdated",
    "MembershipEvent",
    "SwimConfig",
    "SwimCore",
    "UnknownTagError",
    "suspicion_timeout",
]
