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
from sync._errors import CorruptRecordError, StorageError
from sync._lazy import LazyState
from sync._merkle import item_hash
from sync._node_base import NodeBase
from sync.storage import (
    FORMAT_VERSION,
    META_HLC,
    DataDirInfo,
    LoadResult,
    Store,
    load_encoded,
    open_data_dir,
    renew_replica_id,
    stored_format,
    upgrade_format,
)

__all__ = ["NodeStore"]

log = logging.getLogger("sync.node")

# The Node's own meta entry (besides META_HLC): SWIM's incarnation of this address, so that a
# restarted node announces itself above every claim about its previous life (alive, suspect,
# dead or left at that incarnation) instead of refuting its way up as it hears of them.
META_SWIM_INCARNATION = "swim_incarnation"  # ascii int


class NodeStore(NodeBase):
    """The persistence part of :class:`~sync.Node` (see the module docstring)."""

    async def _open_store(self) -> tuple[LazyState, dict[str, int]]:
        """Open the data dir (in memory without one): replica id, HLC, and every object's stored
        bytes (streamed, **not decoded**: a :class:`~sync._lazy.LazyState` decodes an object
        at its first use), with each object's Merkle item hash derived from its canonical bytes
        (format 2), so the engine indexes them without decoding either. A format-1 dir is
        upgraded first (once: every object decoded and stored canonically).

        A corrupt row is reported (logged, counted in ``metrics()["store"]``), never silently
        dropped; since the lost object may have held dots of ours that peers have seen, the
        replica then takes a fresh id (a reused dot would make a later write vanish)."""
        name, data_dir = self.name, self.config.data_dir

        def open_and_load() -> tuple[
            Store, DataDirInfo, LoadResult, list[str], dict[str, int], str, int
        ]:
            store, info = open_data_dir(data_dir, name)
            try:
                last = _decode_int(store.load_meta().get(META_SWIM_INCARNATION))
                incarnation = 0 if last is None else last + 1
                # persisted before anything is announced: a crash of this life still makes
                # the next one start above it
                store.commit({}, {META_SWIM_INCARNATION: str(incarnation).encode()})
                corrupt = []
                if stored_format(store) < FORMAT_VERSION:
                    log.warning(
                        "node %s: upgrading data dir %s to format %d",
                        name,
                        data_dir,
                        FORMAT_VERSION,
                    )
                    corrupt = upgrade_format(store, _recode)
                loaded = load_encoded(store)
                errors = sorted({str(e) for e in [*corrupt, *loaded.corrupt]})
                rid = info.replica_id
                if errors:
                    rid = renew_replica_id(store, name)
                items = {k: item_hash(k, v) for k, v in loaded.objects.items()}
            except BaseException:
                store.close()
                raise
            return store, info, loaded, errors, items, rid, incarnation

        store, info, loaded, errors, items, rid, incarnation = await anyio.to_thread.run_sync(
            open_and_load
        )
        self._swim_incarnation = incarnation
        self._store = store
        self._store_info = info
        self._corrupt = errors
        for err in errors:
            log.error("node %s: data dir row not loaded: %s", name, err)
        self._replica_id = rid
        last = _decode_hlc(info.hlc, rid) if rid == info.replica_id else None
        self._hlc = HLC(rid, last=last)
        return LazyState(loaded.objects, crdts.decode), items

    def _meta(self) -> dict[str, bytes]:
        assert self._hlc is not None
        last = self._hlc.last
        meta = {} if last is None else {META_HLC: msgpack.packb([last.wall, last.logical])}
        if self._swim is not None:  # raised by refutations while running
            meta[META_SWIM_INCARNATION] = str(self._swim.incarnation).encode()
        return meta

    def _close_store(self) -> None:
        """Commit the meta entries once more (a refutation or the leave may have raised the
        incarnation after the last batch), then close the store."""
        store = self._store
        if store is None:
            return
        try:
            if self._hlc is not None:
                store.commit({}, self._meta())
        except StorageError as exc:
            log.warning("node %s: last meta commit failed: %s", self.name, exc)
        finally:
            store.close()

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
        state = self.engine.state
        lazy = state if isinstance(state, LazyState) else None
        lazy_errors = (
            []
            if lazy is None
            else [str(CorruptRecordError(k, why)) for k, why in sorted(lazy.failed.items())]
        )
        return {
            "data_dir": None if self.config.data_dir is None else str(self.config.data_dir),
            "commits": gc.commits,
            "keys_committed": gc.keys_committed,
            "failures": gc.failures,
            "pending": gc.pending,
            "max_batch": gc.max_batch,
            "last_error": None if gc.last_error is None else str(gc.last_error),
            "corrupt_rows": [*self._corrupt, *lazy_errors],
            "objects_not_decoded": 0 if lazy is None else len(lazy.raw) - len(lazy.failed),
            "objects_decoded_lazily": 0 if lazy is None else lazy.decoded,
            "new_replica_id": info.created or self._replica_id != info.replica_id,
            "clean_start": info.clean,
        }


def _decode_int(raw: bytes | None) -> int | None:
    try:
        n = int(raw.decode("ascii")) if raw else None
    except (ValueError, UnicodeDecodeError):
        return None
    return n if n is not None and n >= 0 else None


def _recode(data: bytes) -> bytes:
    """A format-1 row's bytes as format 2 stores them (the canonical encoding)."""
    return crdts.encode(crdts.decode(data), canonical=True)


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
