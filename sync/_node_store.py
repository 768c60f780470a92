"""The Node's data dir: opening it (replica id, HLC, the objects), what the group committer
persists, and the durability boundary (nothing leaves before the commit that holds it).
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import anyio.to_thread
import msgpack

import crdts
from crdts import HLC, HLCTimestamp
from gossip import UnreachableError
from sync._errors import StorageError
from sync._node_base import NodeBase
from sync.storage import (
    META_HLC,
    DataDirInfo,
    LoadResult,
    Store,
    load_objects,
    open_data_dir,
    renew_replica_id,
)

__all__ = ["NodeStore"]

log = logging.getLogger("sync.node")


class NodeStore(NodeBase):
    """The persistence part of :class:`~sync.Node` (see the module docstring)."""

    async def _open_store(self) -> dict[str, Any]:
        """Open the data dir (in memory without one): replica id, HLC, every object (streamed).

        A corrupt row is reported (logged, counted in ``metrics()["store"]``), never silently
        dropped; since the lost object may have held dots of ours that peers have seen, the
        replica then takes a fresh id (a reused dot would make a later write vanish)."""
        name, data_dir = self.name, self.config.data_dir

        def open_and_load() -> tuple[Store, DataDirInfo, LoadResult, str]:
            store, info = open_data_dir(data_dir, name)
            try:
                loaded = load_objects(store, crdts.decode)
                rid = info.replica_id
                if loaded.corrupt:
                    rid = renew_replica_id(store, name)
            except BaseException:
                store.close()
                raise
            return store, info, loaded, rid

        store, info, loaded, rid = await anyio.to_thread.run_sync(open_and_load)
        self._store = store
        self._store_info = info
        self._corrupt = [str(e) for e in loaded.corrupt]
        for err in loaded.corrupt:
            log.error("node %s: data dir row not loaded: %s", name, err)
        self._replica_id = rid
        last = _decode_hlc(info.hlc, rid) if rid == info.replica_id else None
        self._hlc = HLC(rid, last=last)
        return loaded.objects

    def _encode_state(self, key: str) -> bytes | None:
        x = self.engine.get(key)
        return None if x is None else crdts.encode(x)

    def _meta(self) -> dict[str, bytes]:
        assert self._hlc is not None
        last = self._hlc.last
        return {} if last is None else {META_HLC: msgpack.packb([last.wall, last.logical])}

    async def _before_send(self) -> None:
        """The durability boundary: nothing leaves this node before the commit that holds it
        (else a replica restarted after kill -9 would mint again a dot a peer has seen)."""
        gc = self._committer
        if gc is not None:
            try:
                await gc.wait_durable()
            except StorageError as exc:
                raise UnreachableError(f"local store failing, nothing is sent: {exc}") from exc

    async def _durable(self) -> None:
        """Wait until every change made so far is committed to the store."""
        assert self._committer is not None
        await self._committer.wait_durable()

    def _store_metrics(self) -> dict[str, Any]:
        gc, info = self._committer, self._store_info
        assert gc is not None and info is not None
        return {
            "data_dir": None if self.config.data_dir is None else str(self.config.data_dir),
            "commits": gc.commits,
            "keys_committed": gc.keys_committed,
            "failures": gc.failures,
            "pending": gc.pending,
            "max_batch": gc.max_batch,
            "last_error": None if gc.last_error is None else str(gc.last_error),
            "corrupt_rows": list(self._corrupt),
            "new_replica_id": info.created or self._replica_id != info.replica_id,
            "clean_start": info.clean,
        }


def _decode_hlc(raw: bytes | None, replica: str) -> HLCTimestamp | None:
    """The persisted HLC (``[wall, logical]``), or None if absent or unreadable (the clock then
    restarts from the wall clock, which is safe: LWW ties break on the replica id)."""
    if not raw:
        return None
    try:
        wall, logical = msgpack.unpackb(raw)
    except Exception:
        return None
    if type(wall) is not int or type(logical) is not int or wall < 0 or logical < 0:
        return None
    return HLCTimestamp(wall, logical, replica)
