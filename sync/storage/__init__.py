"""Durable storage for the Node: the :class:`Store` interface, ``SQLiteStore`` (the default, WAL
mode), ``MemoryStore`` (tests), opening a data dir (lock, format check, replica id) and the
group-commit loop. Guide: docs/storage.md.

Importing ``sync.storage`` never imports anyio: the group committer (an anyio driver) is loaded
lazily, on first access of its name.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sync._errors import CorruptRecordError, DataDirFormatError, DataDirLockedError, StorageError
from sync.storage._datadir import mint_replica_id, open_data_dir, renew_replica_id
from sync.storage._interface import (
    FORMAT_VERSION,
    META_CLEAN,
    META_FORMAT,
    META_HLC,
    META_NAME,
    META_REPLICA_ID,
    MIN_FORMAT_VERSION,
    DataDirInfo,
    Store,
)
from sync.storage._load import (
    LoadResult,
    load_encoded,
    load_objects,
    stored_format,
    upgrade_format,
)
from sync.storage._memory import MemoryStore
from sync.storage._sqlite import SQLiteStore

if TYPE_CHECKING:
    from sync.storage._committer import GroupCommitter

_LAZY: dict[str, str] = {"GroupCommitter": "sync.storage._committer"}

__all__ = [
    "FORMAT_VERSION",
    "META_CLEAN",
    "META_FORMAT",
    "META_HLC",
    "META_NAME",
    "META_REPLICA_ID",
    "MIN_FORMAT_VERSION",
    "CorruptRecordError",
    "DataDirFormatError",
    "DataDirInfo",
    "DataDirLockedError",
    "GroupCommitter",
    "LoadResult",
    "MemoryStore",
    "SQLiteStore",
    "StorageError",
    "Store",
    "load_encoded",
    "load_objects",
    "mint_replica_id",
    "open_data_dir",
    "renew_replica_id",
    "stored_format",
    "upgrade_format",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
