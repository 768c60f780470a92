"""Loading a store's objects at startup: a streaming scan, decoded, with corrupt rows reported.

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

from sync._errors import CorruptRecordError
from sync.storage._interface import Store

__all__ = ["LoadResult", "load_objects"]


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
