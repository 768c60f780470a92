"""Transports: the interface, wire format, cluster key, and the UDP/TCP and in-memory networks.

The sans-I/O parts (framing, handshake, keyring, replay guard, config, metrics, the
:class:`Transport` protocol) import eagerly; the anyio implementations (:class:`NetTransport`,
:class:`MemoryNetwork`, :class:`MemoryTransport`, the fault-injecting :class:`FaultyTransport`
and its :class:`Faults`) load on first access, so importing this package never imports anyio.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gossip.transport._addr import format_addr, parse_addr
from gossip.transport._config import TransportConfig
from gossip.transport._frame import FrameDecoder, encode_frame
from gossip.transport._handshake import MAGIC, PROTOCOL_VERSIONS, Hello, negotiate
from gossip.transport._interface import (
    DirectFrames,
    DirectPackets,
    Incoming,
    StreamIncoming,
    Transport,
)
from gossip.transport._keyring import KEY_SIZE, Keyring, key_id
from gossip.transport._metrics import DROP_REASONS, TransportMetrics
from gossip.transport._replay import ReplayGuard
from gossip.transport._wrapper import TransportWrapper

if TYPE_CHECKING:
    from gossip.transport._faulty import Faults, FaultyTransport
    from gossip.transport._memory import MemoryNetwork, MemoryTransport
    from gossip.transport._net import NetTransport

_LAZY: dict[str, str] = {
    "NetTransport": "gossip.transport._net",
    "MemoryNetwork": "gossip.transport._memory",
    "MemoryTransport": "gossip.transport._memory",
    "FaultyTransport": "gossip.transport._faulty",
    "Faults": "gossip.transport._faulty",
}

__all__ = [
    "DROP_REASONS",
    "KEY_SIZE",
    "MAGIC",
    "PROTOCOL_VERSIONS",
    "DirectFrames",
    "DirectPackets",
    "Faults",
    "FaultyTransport",
    "FrameDecoder",
    "Hello",
    "Incoming",
    "Keyring",
    "MemoryNetwork",
    "MemoryTransport",
    "NetTransport",
    "ReplayGuard",
    "StreamIncoming",
    "Transport",
    "TransportConfig",
    "TransportMetrics",
    "TransportWrapper",
    "encode_frame",
    "format_addr",
    "key_id",
    "negotiate",
    "parse_addr",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gossip.transport' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
