"""The delta-sync engine (sans-I/O) and the ``Node`` runtime (anyio + SQLite).

Importing ``sync`` never imports anyio: :class:`Node` and its handles load lazily, on first
access of their names (as ``gossip`` does with its drivers).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# First: PyPI has unrelated 'crdts' and 'gossip' packages; if Python finds one of them, say so
# here rather than with an ImportError deep inside the engine.
import sync._layers  # noqa: F401

# isort: split


from sync._config import SyncConfig, SyncMode
from sync._consistency import Consistency, WriteAll, WriteLocal, WriteMajority, WriteTo
from sync._engine import CatchupCompleted, SyncEngine
from sync._errors import (
    ClockError,
    ConfigError,
    CorruptRecordError,
    DataDirFormatError,
    DataDirLockedError,
    DecodeError,
    NotACrdtError,
    ObjectTooLargeError,
    PeerError,
    ProtocolViolationError,
    StorageError,
    SyncError,
    TypeMismatchError,
    UsageError,
    WriteTimeoutError,
)
from sync._keyfile import generate_key, read_key_file, write_key_file
from sync._merkle import MerkleIndex
from sync._messages import decode_message, encode_message
from sync._metrics import PeerMetrics, SyncMetrics
from sync._subscriptions import Change, Subscription

__distribution__ = "deltamesh"  # checked by `python -m deltamesh doctor`

if TYPE_CHECKING:  # the lazy names, for type checkers only
    from sync._handles import (
        CounterHandle,
        GCounterHandle,
        GSetHandle,
        Handle,
        LWWRegisterHandle,
        MapHandle,
        MVRegisterHandle,
        ORMapHandle,
        SetHandle,
    )
    from sync._membership import MemberInfo, MembershipEvent
    from sync._node import Node
    from sync._node_config import NodeConfig

# Names whose modules import anyio or the gossip drivers: name -> module, loaded on first access.
_LAZY: dict[str, str] = {
    "Node": "sync._node",
    "NodeConfig": "sync._node_config",
    "MemberInfo": "sync._membership",
    "MembershipEvent": "sync._membership",
    "Handle": "sync._handles",
    "MapHandle": "sync._handles",
    "SetHandle": "sync._handles",
    "GSetHandle": "sync._handles",
    "CounterHandle": "sync._handles",
    "GCounterHandle": "sync._handles",
    "LWWRegisterHandle": "sync._handles",
    "MVRegisterHandle": "sync._handles",
    "ORMapHandle": "sync._handles",
}

__all__ = [
    "CatchupCompleted",
    "Change",
    "ClockError",
    "ConfigError",
    "Consistency",
    "CorruptRecordError",
    "CounterHandle",
    "DataDirFormatError",
    "DataDirLockedError",
    "DecodeError",
    "GCounterHandle",
    "GSetHandle",
    "Handle",
    "LWWRegisterHandle",
    "MVRegisterHandle",
    "MapHandle",
    "MemberInfo",
    "MembershipEvent",
    "MerkleIndex",
    "Node",
    "NodeConfig",
    "NotACrdtError",
    "ORMapHandle",
    "ObjectTooLargeError",
    "PeerError",
    "PeerMetrics",
    "ProtocolViolationError",
    "SetHandle",
    "StorageError",
    "Subscription",
    "SyncConfig",
    "SyncEngine",
    "SyncError",
    "SyncMetrics",
    "SyncMode",
    "TypeMismatchError",
    "UsageError",
    "WriteAll",
    "WriteLocal",
    "WriteMajority",
    "WriteTimeoutError",
    "WriteTo",
    "decode_message",
    "encode_message",
    "generate_key",
    "read_key_file",
    "write_key_file",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sync' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
