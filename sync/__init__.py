"""The delta-sync engine (sans-I/O) and the ``Node`` runtime (anyio + SQLite).

Only sans-I/O names are exported here; importing ``sync`` never imports anyio.
"""

from __future__ import annotations

from sync._config import SyncConfig, SyncMode
from sync._engine import CatchupCompleted, SyncEngine
from sync._errors import (
    ConfigError,
    DecodeError,
    NotACrdtError,
    ObjectTooLargeError,
    PeerError,
    ProtocolViolationError,
    SyncError,
    TypeMismatchError,
    UsageError,
)
from sync._merkle import MerkleIndex
from sync._messages import decode_message, encode_message
from sync._metrics import PeerMetrics, SyncMetrics
from sync._subscriptions import Change, Subscription

__all__ = [
    "CatchupCompleted",
    "Change",
    "ConfigError",
    "DecodeError",
    "MerkleIndex",
    "NotACrdtError",
    "ObjectTooLargeError",
    "PeerError",
    "PeerMetrics",
    "ProtocolViolationError",
    "Subscription",
    "SyncConfig",
    "SyncEngine",
    "SyncError",
    "SyncMetrics",
    "SyncMode",
    "TypeMismatchError",
    "UsageError",
    "decode_message",
    "encode_message",
]
