"""Opening a node's data dir: the store, its lock and format check, and the replica id.

The replica id mints the dots of every write this data dir makes. It is minted when the dir (or
its database) is new, persisted in the same transaction as nothing else, and read back on every
later open, so it is stable across restarts of one dir. A dir that is new, wiped or lost, or
whose id is missing, gets a **fresh** id even under the same node name: reusing an id after its
state was lost would mint dots the peers have already seen, and those writes would vanish.
"""

from __future__ import annotations

import os
import secrets

from sync._errors import UsageError
from sync.storage._interface import META_HLC, META_NAME, META_REPLICA_ID, DataDirInfo, Store
from sync.storage._memory import MemoryStore
from sync.storage._sqlite import SQLiteStore

__all__ = ["mint_replica_id", "open_data_dir", "renew_replica_id"]


def mint_replica_id(name: str) -> str:
    """A new replica id for node ``name``: ``f"{name}-{16 random hex digits}"`` (64 bits from the
    OS, so two mints never collide in practice)."""
    if type(name) is not str or not name:
        raise UsageError("the node name must be a non-empty str")
    return f"{name}-{secrets.token_hex(8)}"


def renew_replica_id(store: Store, name: str) -> str:
    """Mint a fresh replica id for ``store`` and commit it (the old one is never used again).

    For when part of this replica's own history may be lost although the dir is not new: a
    corrupt row (the object may have held dots of ours that peers have seen)."""
    rid = mint_replica_id(name)
    store.commit({}, {META_REPLICA_ID: rid.encode(), META_NAME: name.encode()})
    return rid


def open_data_dir(
    path: str | os.PathLike[str] | None, name: str, *, max_bytes: int | None = None
) -> tuple[Store, DataDirInfo]:
    """Open (creating it if needed) the data dir at ``path`` for node ``name``.

    Takes the dir's exclusive lock (:class:`~sync.DataDirLockedError`), checks its format
    (:class:`~sync.DataDirFormatError`), mints or reads the replica id and returns the persisted
    HLC bytes. ``path=None``: an in-memory store with a fresh replica id (nothing persists).
    ``max_bytes`` caps the database size (see :class:`SQLiteStore`). Blocking.
    """
    if type(name) is not str or not name:
        raise UsageError("the node name must be a non-empty str")
    if path is None:
        mem = MemoryStore()
        rid = renew_replica_id(mem, name)
        return mem, DataDirInfo(replica_id=rid, created=True, hlc=None, clean=False)
    store = SQLiteStore(path, max_bytes=max_bytes)
    try:
        meta = store.load_meta()
        found = _decode_id(meta.get(META_REPLICA_ID))
        created = store.created or found is None
        # new dir, or its id is gone: never guess, mint afresh
        rid = renew_replica_id(store, name) if found is None else found
        hlc = None if created else meta.get(META_HLC)
        return store, DataDirInfo(
            replica_id=rid, created=created, hlc=hlc, clean=store.was_clean and not created
        )
    except BaseException:
        store.close()
        raise


def _decode_id(raw: bytes | None) -> str | None:
    if not raw:
        return None
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None
