"""Every exception ``sync`` raises. Two families, kept apart on purpose:

- :class:`UsageError` and :class:`ConfigError`: *you* misused the API (a bug in the caller): a
  mutation whose result is not a delta, a key that is not a ``str``, an out-of-range setting.
- :class:`WriteTimeoutError`: a write's consistency level was not reached in time (the write
  itself stands: it is durable locally and keeps replicating).
- :class:`PeerError`: *a peer* sent something the engine rejects (undecodable bytes, an object of
  the wrong type for its key, an ack for data never sent). The engine counts these in its metrics
  and drops the message; they never escape :meth:`SyncEngine.handle`. They are public so tests and
  metrics can name them.
- :class:`StorageError`: the local store failed (disk full, read-only, I/O error) or refuses a data
  dir: :class:`DataDirFormatError` (written by a newer or unknown format),
  :class:`DataDirLockedError` (another process holds it), :class:`CorruptRecordError` (a stored
  row fails its checksum or does not decode: reported with its key, never silently dropped).
"""

from __future__ import annotations

__all__ = [
    "ClockError",
    "ConfigError",
    "CorruptRecordError",
    "DataDirFormatError",
    "DataDirLockedError",
    "DecodeError",
    "NotACrdtError",
    "ObjectTooLargeError",
    "PeerError",
    "ProtocolViolationError",
    "StorageError",
    "SyncError",
    "TypeMismatchError",
    "UsageError",
    "WriteTimeoutError",
]


class SyncError(Exception):
    """Base class of every error raised by ``sync``."""


class UsageError(SyncError, ValueError):
    """The API was used wrongly (a bug in the caller). Nothing was changed."""


class ConfigError(SyncError, ValueError):
    """A configuration value is out of range or inconsistent with another."""


class WriteTimeoutError(SyncError, TimeoutError):
    """A consistency level (``WriteTo``, ``WriteMajority``, ``WriteAll``) was not reached within
    the timeout. The write is not undone: it is durable locally and keeps replicating.
    ``confirmed`` names the replicas (addresses, this node included) known to hold it."""

    def __init__(self, message: str, *, confirmed: frozenset[str] = frozenset()) -> None:
        super().__init__(message)
        self.confirmed = confirmed


class ClockError(SyncError):
    """This node's wall clock jumped ahead (beyond ``NodeConfig.max_clock_jump``) of where its
    monotonic clock says it should be: the write is refused rather than stamped (and every later
    write of this replica) into the future. Nothing was changed."""


class PeerError(SyncError):
    """A peer sent something that is rejected. Counted and dropped, never fatal."""


class DecodeError(PeerError, ValueError):
    """A sync message could not be decoded (truncated, malformed, unknown tag, wrong version)."""


class TypeMismatchError(PeerError):
    """An object's CRDT type differs from the one held under its key: sent by a peer (counted and
    dropped by the engine), or asked for by the caller (``node.get(name, OtherType)``, raised,
    nothing changed)."""


class NotACrdtError(PeerError):
    """A peer sent an object that decodes to something other than a CRDT (e.g. a registered
    value type such as ``HLCTimestamp``): it lacks the contract's join/merge/leq/copy/diff/
    decompose/value. Rejected before anything is stored, in every mode."""


class ObjectTooLargeError(PeerError):
    """A peer sent an object whose encoding exceeds ``SyncConfig.max_object_bytes``: rejected
    before it is decoded (decoding a valid object costs time and memory in its size)."""


class ProtocolViolationError(PeerError):
    """A well-formed message that breaks the protocol (e.g. an ack beyond what was ever sent)."""


class StorageError(SyncError):
    """The local store failed (disk full, read-only file system, I/O error, store closed).

    A write that fails with it was **not** acknowledged: it is applied in memory and is committed
    with a later batch once the disk recovers, but nothing promised its durability."""


class DataDirFormatError(StorageError):
    """The data dir was written by a format this version cannot read (newer, or not a deltamesh
    data dir at all). ``found`` is the format version on disk (``None`` if there is none),
    ``supported`` the range this version reads."""

    def __init__(
        self, message: str, *, found: int | None = None, supported: tuple[int, int] = (0, 0)
    ) -> None:
        super().__init__(message)
        self.found = found
        self.supported = supported


class DataDirLockedError(StorageError):
    """Another process (or another open store in this one) holds the data dir's lock."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class CorruptRecordError(StorageError):
    """A stored object's row is torn or corrupt (checksum mismatch, or bytes that do not decode).

    ``key`` names the object; ``reason`` says what failed. Reported (and counted), never silently
    dropped; the rest of the data still loads (see docs/storage.md for the policy)."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"stored object {key!r} is corrupt: {reason}")
        self.key = key
        self.reason = reason
