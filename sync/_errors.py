"""Every exception ``sync`` raises. Two families, kept apart on purpose:

- :class:`UsageError` and :class:`ConfigError`: *you* misused the API (a bug in the caller): a
  mutation whose result is not a delta, a key that is not a ``str``, an out-of-range setting.
- :class:`PeerError`: *a peer* sent something the engine rejects (undecodable bytes, an object of
  the wrong type for its key, an ack for data never sent). The engine counts these in its metrics
  and drops the message; they never escape :meth:`SyncEngine.handle`. They are public so tests and
  metrics can name them.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DecodeError",
    "NotACrdtError",
    "ObjectTooLargeError",
    "PeerError",
    "ProtocolViolationError",
    "SyncError",
    "TypeMismatchError",
    "UsageError",
]


class SyncError(Exception):
    """Base class of every error raised by ``sync``."""


class UsageError(SyncError, ValueError):
    """The API was used wrongly (a bug in the caller). Nothing was changed."""


class ConfigError(SyncError, ValueError):
    """A configuration value is out of range or inconsistent with another."""


class PeerError(SyncError):
    """A peer sent something that is rejected. Counted and dropped, never fatal."""


class DecodeError(PeerError, ValueError):
    """A sync message could not be decoded (truncated, malformed, unknown tag, wrong version)."""


class TypeMismatchError(PeerError):
    """A peer sent an object whose CRDT type differs from the local object under the same key."""


class NotACrdtError(PeerError):
    """A peer sent an object that decodes to something other than a CRDT (e.g. a registered
    value type such as ``HLCTimestamp``): it lacks the contract's join/merge/leq/copy/diff/
    decompose/value. Rejected before anything is stored, in every mode."""


class ObjectTooLargeError(PeerError):
    """A peer sent an object whose encoding exceeds ``SyncConfig.max_object_bytes``: rejected
    before it is decoded (decoding a valid object costs time and memory in its size)."""


class ProtocolViolationError(PeerError):
    """A well-formed message that breaks the protocol (e.g. an ack beyond what was ever sent)."""
