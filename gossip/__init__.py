"""Cluster membership and messaging: SWIM + Lifeguard, HyParView + Plumtree, transports, simulator.

Importing ``gossip`` (or any of its protocol cores) never imports anyio: the anyio drivers and real
transports are loaded lazily, on first access of their names, so the sans-I/O cores stay importable
on their own (a test checks this in a subprocess).
"""

from __future__ import annotations

__distribution__ = "deltamesh"  # checked by sync and `python -m deltamesh doctor`

import importlib
from typing import TYPE_CHECKING, Any

from gossip._errors import (
    AuthenticationError,
    ConfigError,
    DecodeError,
    FrameTooLargeError,
    GossipError,
    MessageTooLargeError,
    PeerError,
    ReplayError,
    TransportError,
    UnreachableError,
    UsageError,
    VersionError,
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

if TYPE_CHECKING:  # the lazy names, for type checkers only
    from gossip.runtime._host import Host
    from gossip.transport._config import TransportConfig
    from gossip.transport._faulty import Faults, FaultyTransport
    from gossip.transport._keyring import Keyring
    from gossip.transport._memory import MemoryNetwork, MemoryTransport
    from gossip.transport._net import NetTransport

# Names that pull in anyio (drivers, real transports): name -> module, imported on first access.
_LAZY: dict[str, str] = {
    "Host": "gossip.runtime._host",
    "NetTransport": "gossip.transport._net",
    "MemoryNetwork": "gossip.transport._memory",
    "MemoryTransport": "gossip.transport._memory",
    "Keyring": "gossip.transport._keyring",
    "TransportConfig": "gossip.transport._config",
    "FaultyTransport": "gossip.transport._faulty",
    "Faults": "gossip.transport._faulty",
}

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
    "Faults",
    "FaultyTransport",
    "FrameTooLargeError",
    "GossipError",
    "Host",
    "Keyring",
    "MemoryNetwork",
    "MemoryTransport",
    "MessageTooLargeError",
    "NetTransport",
    "PacketReceived",
    "PeerError",
    "PeerUnreachable",
    "ProtocolCore",
    "ReplayError",
    "SendPacket",
    "SendStream",
    "SetTimer",
    "StreamReceived",
    "TimerFired",
    "TimerKey",
    "TransportConfig",
    "TransportError",
    "UnreachableError",
    "UsageError",
    "VersionError",
    "protocol_of",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gossip' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
