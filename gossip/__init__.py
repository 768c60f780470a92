"""Cluster membership and messaging: SWIM + Lifeguard, HyParView + Plumtree, transports, simulator.

Importing ``gossip`` (or any of its protocol cores) never imports anyio: the anyio drivers and real
transports are loaded lazily, on first access of their names, so the sans-I/O cores stay importable
on their own (a test checks this in a subprocess).
"""

from __future__ import annotations

import importlib
from typing import Any

from gossip._errors import (
    AuthenticationError,
    ConfigError,
    DecodeError,
    FrameTooLargeError,
    GossipError,
    PeerError,
    TransportError,
    UnreachableError,
    UsageError,
)
from gossip._events import (
    TAG_RANGES,
    Addr,
    CancelTimer,
    CloseStream,
    Effect,
    Emit,
    Event,
    PacketReceived,
    PeerUnreachable,
    ProtocolCore,
    SendPacket,
    SendStream,
    SetTimer,
    StreamReceived,
    TimerFired,
    TimerKey,
    protocol_of,
)

# Names that pull in anyio (drivers, real transports): name -> module, imported on first access.
_LAZY: dict[str, str] = {}

__all__ = [
    "TAG_RANGES",
    "Addr",
    "AuthenticationError",
    "CancelTimer",
    "CloseStream",
    "ConfigError",
    "DecodeError",
    "Effect",
    "Emit",
    "Event",
    "FrameTooLargeError",
    "GossipError",
    "PacketReceived",
    "PeerError",
    "PeerUnreachable",
    "ProtocolCore",
    "SendPacket",
    "SendStream",
    "SetTimer",
    "StreamReceived",
    "TimerFired",
    "TimerKey",
    "TransportError",
    "UnreachableError",
    "UsageError",
    "protocol_of",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gossip' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
