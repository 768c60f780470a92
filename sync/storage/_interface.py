"""The storage interface a Node persists through, and what opening a data dir tells it.

A store is a durable map ``key (str) -> bytes`` (each value the ``crdts.encode`` bytes of one
object's whole state) plus a small map of meta entries (format version, replica id, HLC, ...).
It is **blocking** and has **one writer**: the Node calls it from a worker thread, and all writes
go through :meth:`Store.commit`, one atomic transaction per group-commit batch. Reads never see a
half-applied commit. Any failure of the medium is a :class:`~sync.StorageError`.

To plug in another store, implement these six methods (``MemoryStore`` is the smallest example)
and pass it where the Node takes a store; see docs/storage.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sync._errors import CorruptRecordError

__all__ = [
    "FORMAT_VERSION",
    "META_CLEAN",
    "META_FORMAT",
    "META_HLC",
    "META_NAME",
    "META_REPLICA_ID",
    "MIN_FORMAT_VERSION",
    "DataDirInfo",
    "Store",
]

FORMAT_VERSION = 3
"""The on-disk format this version writes (and the newest it reads).

1: ``objects`` rows hold ``crdts.encode(state)``. 2: they hold the *canonical* encoding
(``crdts.encode(state, canonical=True)``: equal states, equal bytes), so the Node derives each
object's Merkle item hash from the bytes alone and starts without decoding anything. 3: as 2, and
the SQLite store's commits append to a ``log`` table that is folded into ``objects`` from time to
time (see :mod:`sync.storage._sqlite`): a version that knows no log must not read such a dir. A
format-1 or 2 dir is upgraded in place by :func:`~sync.storage.upgrade_format` when a Node opens
it (from 2, only the version changes)."""

MIN_FORMAT_VERSION = 1
"""The oldest on-disk format this version still reads."""

# Meta keys the storage layer itself reads and writes. Other meta keys belong to the caller.
META_FORMAT = "format"  # ascii int: FORMAT_VERSION of the writer
META_REPLICA_ID = "replica_id"  # utf-8: the replica id minted for this data dir
META_NAME = "name"  # utf-8: the node name the dir was created under (informational)
META_HLC = "hlc"  # the Node's persisted hybrid logical clock (opaque bytes to the store)
META_CLEAN = "clean"  # b"1" once closed cleanly, b"0" while open (a crash leaves b"0")


@runtime_checkable
class Store(Protocol):
    """A durable ``str -> bytes`` map of object states plus meta entries. Blocking, one writer."""

    def load_meta(self) -> dict[str, bytes]:
        """Every meta entry."""
        ...

    def commit(self, objects: Mapping[str, bytes], meta: Mapping[str, bytes]) -> None:
        """Write ``objects`` (whole states, replacing what is stored under their keys) and
        ``meta`` entries in **one atomic transaction**: after a crash at any instant either all
        of it is there or none. Returns only once it is durable. Raises
        :class:`~sync.StorageError` if it could not be committed (then none of it is)."""
        ...

    def get(self, key: str) -> bytes | None:
        """The stored bytes of ``key``, or ``None``. A row found corrupt raises
        :class:`~sync.CorruptRecordError`."""
        ...

    def scan(
        self, prefix: str = "", *, after: str | None = None, limit: int | None = None
    ) -> Iterator[tuple[str, bytes]]:
        """``(key, bytes)`` of the keys starting with ``prefix``, in key (code point) order,
        only keys ``> after`` when given, at most ``limit`` of them. Streams: memory stays
        bounded whatever the store holds. A corrupt row is not yielded: it is recorded in
        :attr:`corrupt` (and counted) and the scan goes on."""
        ...

    def count(self) -> int:
        """How many objects are stored."""
        ...

    def close(self) -> None:
        """Release the store (and its data dir lock). Idempotent."""
        ...

    @property
    def corrupt(self) -> list[CorruptRecordError]:
        """The :class:`~sync.CorruptRecordError` of each corrupt row met so far (by scan/get)."""
        ...


@dataclass(frozen=True, kw_only=True, slots=True)
class DataDirInfo:
    """What :func:`~sync.storage.open_data_dir` found or made.

    ``replica_id``: the id this data dir mints dots under (fresh for a new, wiped or lost dir).
    ``created``: the dir (or its store) was new, so the id is fresh.
    ``hlc``: the persisted hybrid logical clock (the bytes the Node committed under
    ``META_HLC``), ``None`` when there is none.
    ``clean``: the previous process closed the dir cleanly (``False`` after a crash or kill -9,
    and for a new dir).
    """

    replica_id: str
    created: bool
    hlc: bytes | None
    clean: bool = False
