"""Every exception ``gossip`` raises. Two families, kept apart on purpose:

- :class:`UsageError` and :class:`ConfigError`: *you* misused the API (a bug in the caller).
- :class:`PeerError`: *a peer* sent something we reject (garbage, a wrong key, an oversized frame).
  Cores and drivers count and drop these; they never crash a node. They are public so that tests and
  metrics can name them.
- :class:`TransportError`: the network itself failed (unreachable peer, closed transport).
"""

from __future__ import annotations


class GossipError(Exception):
    """Base class of every error raised by ``gossip``."""


class UsageError(GossipError):
    """The API was used wrongly (e.g. a command on a node that has left)."""


class ConfigError(GossipError, ValueError):
    """A configuration value is out of range or inconsistent with another."""


class PeerError(GossipError):
    """A peer sent something that is rejected. Counted and dropped, never fatal."""


class DecodeError(PeerError, ValueError):
    """A message could not be decoded (truncated, malformed, unknown type tag, wrong version)."""


class AuthenticationError(PeerError):
    """A packet or frame failed authentication: no installed key opens it."""


class FrameTooLargeError(PeerError):
    """A frame or packet exceeds the configured size cap."""


class VersionError(PeerError):
    """A peer speaks no wire-protocol version in common with us (handshake version ranges)."""


class ReplayError(PeerError):
    """A packet or handshake was seen before, or is too old (or too far in the future) to check."""


class MessageTooLargeError(UsageError, ValueError):
    """A payload handed to a transport for sending exceeds its size cap (a bug in the caller)."""


class TransportError(GossipError):
    """The transport could not do what was asked."""


class UnreachableError(TransportError):
    """A peer could not be reached (connect refused, timed out, or the link broke)."""
