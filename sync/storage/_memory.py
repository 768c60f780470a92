"""``MemoryStore``: the :class:`~sync.storage.Store` interface in memory (tests, ``data_dir=None``).

Nothing survives the process; everything else behaves as the SQLite store does (atomic commits,
key-ordered scans, bytes values), so code tested against it runs unchanged on disk.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Mapping

from sync._errors import CorruptRecordError, StorageError, UsageError

__all__ = ["MemoryStore"]

_SLICE = 1024  # keys copied per lock hold by scan


class MemoryStore:
    """A :class:`~sync.storage.Store` held in a dict (plus a sorted key list for scans)."""

    def __init__(self) -> None:
        self._objects: dict[str, bytes] = {}
        self._keys: list[str] = []  # sorted, for scans in key order
        self._meta: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._corrupt: list[CorruptRecordError] = []
        self.commits = 0

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the store is closed")

    def load_meta(self) -> dict[str, bytes]:
        with self._lock:
            self._check_open()
            return dict(self._meta)

    def commit(self, objects: Mapping[str, bytes], meta: Mapping[str, bytes]) -> None:
        _validate(objects, meta)
        with self._lock:
            self._check_open()
            for key, value in objects.items():
                if key not in self._objects:
                    bisect.insort(self._keys, key)
                self._objects[key] = bytes(value)
            for mkey, mvalue in meta.items():
                self._meta[mkey] = bytes(mvalue)
            self.commits += 1

    def get(self, key: str) -> bytes | None:
        with self._lock:
            self._check_open()
            return self._objects.get(key)

    def scan(
        self, prefix: str = "", *, after: str | None = None, limit: int | None = None
    ) -> Iterator[tuple[str, bytes]]:
        left = limit
        last = after if after is not None and after >= prefix else None
        while left is None or left > 0:
            with self._lock:  # a bounded slice per lock hold: commits may run between slices
                self._check_open()
                keys = self._keys
                i = (
                    bisect.bisect_left(keys, prefix)
                    if last is None
                    else (bisect.bisect_right(keys, last))
                )
                n = _SLICE if left is None else min(_SLICE, left)
                chunk = [(k, self._objects[k]) for k in keys[i : i + n] if k.startswith(prefix)]
            yield from chunk
            if len(chunk) < n:
                return
            last = chunk[-1][0]
            if left is not None:
                left -= len(chunk)

    def count(self) -> int:
        with self._lock:
            self._check_open()
            return len(self._objects)

    def close(self) -> None:
        self._closed = True

    @property
    def corrupt(self) -> list[CorruptRecordError]:
        return self._corrupt


def _validate(objects: Mapping[str, bytes], meta: Mapping[str, bytes]) -> None:
    """The checks every store makes before writing anything (a bad batch writes nothing)."""
    for key, value in objects.items():
        if type(key) is not str:
            raise UsageError(f"object keys are str, got {type(key).__name__}")
        try:
            key.encode()
        except UnicodeEncodeError:
            raise UsageError(f"object key {key!r} is not valid unicode (lone surrogate)") from None
        if not isinstance(value, bytes | bytearray | memoryview):
            raise UsageError(f"object {key!r}: values are bytes, got {type(value).__name__}")
    for mkey, mvalue in meta.items():
        if type(mkey) is not str:
            raise UsageError(f"meta keys are str, got {type(mkey).__name__}")
        if not isinstance(mvalue, bytes | bytearray | memoryview):
            raise UsageError(f"meta {mkey!r}: values are bytes, got {type(mvalue).__name__}")
