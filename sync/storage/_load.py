"""Loading a store's objects at startup: a streaming scan (decoded, or kept encoded for the
Node's lazy start), with corrupt rows reported; upgrading a data dir of an older format.

Policy (docs/storage.md): a row that fails its checksum or does not decode is a
:class:`~sync.CorruptRecordError` naming its key; it is collected (never silently dropped), the
object is left out of the loaded state, and loading goes on with the rest. The caller (the Node)
reports them, and since the lost object may have held dots this replica minted, renews the replica
id (:func:`~sync.storage.renew_replica_id`); the object comes back from any peer through catch-up,
and its row on disk stays as it is until a good state is committed over it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sync._errors import CorruptRecordError, DataDirFormatError
from sync.storage._interface import FORMAT_VERSION, META_FORMAT, MIN_FORMAT_VERSION, Store

__all__ = ["LoadResult", "load_encoded", "load_objects", "upgrade_format"]


@dataclass(slots=True)
class LoadResult:
    """``objects``: key -> decoded state; ``corrupt``: one error per corrupt row, in key order."""

    objects: dict[str, Any] = field(default_factory=dict)
    corrupt: list[CorruptRecordError] = field(default_factory=list)


def load_objects(
    store: Store,
    decode: Callable[[bytes], Any],
    *,
    prefix: str = "",
    progress: Callable[[int], None] | None = None,
    progress_every: int = 100_000,
) -> LoadResult:
    """Stream every object of ``store`` (under ``prefix``) through ``decode`` into a dict.

    Memory beyond the result is one scan batch. ``progress(n)`` is called every
    ``progress_every`` objects. Blocking (run it in a worker thread)."""
    result = LoadResult()
    objects = result.objects
    seen_corrupt = len(store.corrupt)
    for n, (key, raw) in enumerate(store.scan(prefix), 1):
        try:
            objects[key] = decode(raw)
        except Exception as exc:  # the codec's DecodeError, or anything a bad row trips
            result.corrupt.append(CorruptRecordError(key, f"does not decode: {exc}"))
        if progress is not None and n % progress_every == 0:
            progress(n)
    result.corrupt.extend(store.corrupt[seen_corrupt:])
    result.corrupt.sort(key=lambda e: e.key)
    return result


def load_encoded(
    store: Store,
    *,
    prefix: str = "",
    progress: Callable[[int], None] | None = None,
    progress_every: int = 100_000,
) -> LoadResult:
    """Stream every object of ``store`` (under ``prefix``) into a dict of its stored bytes,
    decoding nothing (the Node's lazy start: ``objects`` maps key -> bytes). Only rows failing
    their checksum are in ``corrupt`` here; bytes that do not decode are found at first use.
    Blocking (run it in a worker thread)."""
    result = LoadResult()
    objects = result.objects
    seen_corrupt = len(store.corrupt)
    if progress is None:
        objects.update(store.scan(prefix))
    else:
        for n, (key, raw) in enumerate(store.scan(prefix), 1):
            objects[key] = raw
            if n % progress_every == 0:
                progress(n)
    result.corrupt.extend(store.corrupt[seen_corrupt:])
    result.corrupt.sort(key=lambda e: e.key)
    return result


def stored_format(store: Store) -> int:
    """The format version the store's data is written in (a store without one, such as a new
    :class:`~sync.storage.MemoryStore`, is taken as the current format)."""
    raw = store.load_meta().get(META_FORMAT)
    if raw is None:
        return FORMAT_VERSION
    try:
        return int(raw.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        raise DataDirFormatError(
            f"{store!r} holds no valid format version",
            supported=(MIN_FORMAT_VERSION, FORMAT_VERSION),
        ) from None


def upgrade_format(
    store: Store,
    recode: Callable[[bytes], bytes],
    *,
    batch: int = 10_000,
    progress: Callable[[int], None] | None = None,
) -> list[CorruptRecordError]:
    """Bring a format-1 or 2 store to the current format. From 1, every object's bytes go
    through ``recode`` (decode and encode canonically), committed in batches of ``batch``
    objects, and the format version is written last. Interrupted (a crash), the store stays at
    its old version and the next open upgrades again (recoding is idempotent). A row that fails
    its checksum, or that ``recode`` rejects, is left as it is and returned as a
    :class:`~sync.CorruptRecordError`. From 2, the rows stay as they are (3 only adds the SQLite
    store's log table, which opening the store creates): the version is written. Blocking; a
    no-op for a store already current."""
    found = stored_format(store)
    if found >= FORMAT_VERSION:
        return []
    if found >= 2:
        store.commit({}, {META_FORMAT: str(FORMAT_VERSION).encode()})
        return []
    corrupt: list[CorruptRecordError] = []
    seen_corrupt = len(store.corrupt)
    pending: dict[str, bytes] = {}
    done = 0
    for key, raw in store.scan():
        try:
            new = recode(raw)
        except Exception as exc:  # the codec's DecodeError, or anything a bad row trips
            corrupt.append(CorruptRecordError(key, f"does not decode: {exc}"))
            continue
        if new != raw:
            pending[key] = new
        if len(pending) >= batch:
            store.commit(pending, {})
            done += len(pending)
            pending = {}
            if progress is not None:
                progress(done)
    store.commit(pending, {META_FORMAT: str(FORMAT_VERSION).encode()})
    corrupt.extend(store.corrupt[seen_corrupt:])
    corrupt.sort(key=lambda e: e.key)
    return corrupt
