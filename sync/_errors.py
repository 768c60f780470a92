"""Every exception ``sync`` raises. Two families, kept apart on purpose:

- :class:`UsageError` and :class:`ConfigError`: *you* misused the API (a bug in the caller): a
  mutation whose result is not a delta, a key that is not a ``str``, an out-of-range setting.
- :class:`WriteTimeoutError`: a write's consistency level was not reached in time (the write
  itself stands: it is durable locally and keeps replicating).
- :class:`PeerError`: *a peer* sent something the engine rejects (undecodable bytes, an object of
  the wrong type for its key, an ack for data never sent). The engine counts these in its metrics
  and drops the message; they never escape :meth:`SyncEngine.handle`. They are public so tests and
  metrics can name them.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DecodeError",
    "PeerError",
    "ProtocolViolationError",
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


class PeerError(SyncError):
    """A peer sent something that is rejected. Counted and dropped, never fatal."""


class DecodeError(PeerError, ValueError):
    """A sync message could not be decoded (truncated, malformed, unknown tag, wrong version)."""


class TypeMismatchError(PeerError):
    """An object's CRDT type differs from the one held under its key: sent by a peer (counted and
    dropped by the engine), or asked for by the caller (``node.get(name, OtherType)``, raised,
    nothing changed)."""


class ProtocolViolationError(PeerError):
    """A well-formed message that breaks the protocol (e.g. an ack beyond what was ever sent)."""
