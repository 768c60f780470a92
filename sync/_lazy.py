"""A keyspace whose objects are decoded on first use: how a restarted node starts without decoding
what it holds.

Theory of operation
-------------------
A node restarted over a data dir of a million objects used to decode every one of them before it
could start (17x the cost of reading them, and most of its memory). :class:`LazyState` is the
dict the :class:`~sync.SyncEngine` keeps its objects in, holding two kinds of entry: live
objects (the dict itself) and encoded states not decoded yet (:attr:`LazyState.raw`, as read
from disk). Any access to one object (``get``, ``[]``) decodes it then, once, and it is live from
then on; asking whether a key exists, counting and iterating keys decode nothing. Whole-keyspace
views (``items()``, ``values()``) decode everything (only the engine's state-based mode uses them).

What the engine needs of an object it has not decoded is its Merkle item hash (for a catch-up's
digest descent), which the node derives from the stored canonical bytes and hands to the engine
(``SyncEngine(..., item_hashes=...)``), so an object is decoded only when it is read, written,
joined with a received delta, or shipped to a neighbour.

A stored state that passes its checksum but does not decode (a foreign or buggy writer) is found
at its first use: it is recorded in :attr:`LazyState.failed` and that access, and every later one,
raises :class:`~sync.CorruptRecordError` (a typed error for the reader or writer; the engine
counts it and skips the object). Its encoded bytes stay where they are, so nothing overwrites the
row on disk.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from sync._errors import CorruptRecordError

__all__ = ["LazyState"]


class LazyState(dict[str, Any]):
    """``key -> object``, where objects of :attr:`raw` are decoded with ``decode`` on first use.

    ``raw`` (``key -> encoded state``) is taken as is, not copied. ``decoded`` counts the
    objects decoded so far (a start decodes none)."""

    __slots__ = ("_decode", "decoded", "failed", "raw")

    def __init__(self, raw: dict[str, bytes], decode: Callable[[bytes], Any]) -> None:
        super().__init__()
        self.raw = raw
        self._decode = decode
        self.decoded = 0
        self.failed: dict[str, str] = {}  # key -> why its stored state does not decode

    def _load(self, key: str) -> Any:
        """Decode ``key``'s stored state (None if there is none)."""
        data = self.raw.get(key)
        if data is None:
            return None
        if key in self.failed:
            raise CorruptRecordError(key, self.failed[key])
        try:
            x = self._decode(data)
            if not hasattr(x, "join"):
                raise TypeError(f"a {type(x).__name__} is not a CRDT")
        except Exception as exc:  # the codec's DecodeError, or anything a bad row trips
            reason = f"does not decode: {exc}"
            self.failed[key] = reason
            raise CorruptRecordError(key, reason) from exc
        del self.raw[key]
        dict.__setitem__(self, key, x)
        self.decoded += 1
        return x

    def get(self, key: str, default: Any = None) -> Any:
        x = dict.get(self, key)
        if x is None and self.raw:
            x = self._load(key)
        return default if x is None else x

    def __getitem__(self, key: str) -> Any:
        x = dict.get(self, key)
        if x is None:
            x = self._load(key) if self.raw else None
            if x is None:
                raise KeyError(key)
        return x

    def __setitem__(self, key: str, value: Any) -> None:
        if self.raw:
            self.raw.pop(key, None)
            self.failed.pop(key, None)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: str) -> None:
        if key in self.raw:
            del self.raw[key]
            self.failed.pop(key, None)
            dict.pop(self, key, None)
        else:
            dict.__delitem__(self, key)

    def __contains__(self, key: object) -> bool:
        return dict.__contains__(self, key) or key in self.raw

    def __len__(self) -> int:
        return dict.__len__(self) + len(self.raw)

    def __bool__(self) -> bool:
        return dict.__len__(self) > 0 or bool(self.raw)

    def __iter__(self) -> Iterator[str]:
        # a snapshot: reading an object while iterating decodes it, which moves its key
        return iter([*dict.keys(self), *self.raw])

    def keys(self) -> Any:
        return list(self)

    def pop(self, key: str, *default: Any) -> Any:
        if key in self.raw and not dict.__contains__(self, key):
            self._load(key)  # moves it into the dict
        return dict.pop(self, key, *default)

    def load_all(self) -> None:
        """Decode every object still encoded (those that fail stay in :attr:`failed`)."""
        for key in list(self.raw):
            if key not in self.failed:
                with contextlib.suppress(CorruptRecordError):
                    self._load(key)

    def items(self) -> Any:
        self.load_all()
        return dict.items(self)

    def values(self) -> Any:
        self.load_all()
        return dict.values(self)

    def __repr__(self) -> str:
        return f"<LazyState {dict.__len__(self)} live, {len(self.raw)} encoded>"
