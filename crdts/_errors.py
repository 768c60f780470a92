"""Every exception ``crdts`` raises. Two families, kept apart on purpose:

- :class:`DecodeError`: *a peer* (or a disk) handed us bytes we reject: truncated, malformed,
  hostile, an unknown type tag or a format version from the future. Callers count and drop these;
  :func:`crdts.decode` raises nothing else, whatever the input.
- :class:`UsageError`: *you* misused the API (a bug in the caller): a negative increment, an
  element that is not msgpack-native, a replica id that is not a ``str``, a codec tag registered
  twice. It is a :class:`ValueError`, so ``except ValueError`` catches both families; the
  mutator contract ("an invalid mutation raises ``ValueError`` and changes nothing") is met by
  :class:`UsageError`.

Both derive from :class:`CrdtError`.
"""

from __future__ import annotations

__all__ = ["CrdtError", "DecodeError", "EncodeError", "RegistrationError", "UsageError"]


class CrdtError(Exception):
    """Base class of every error raised by ``crdts``."""


class UsageError(CrdtError, ValueError):
    """The API was used wrongly: an invalid mutation or argument. Nothing was changed."""


class EncodeError(UsageError):
    """A value could not be encoded (not msgpack-native, an int beyond 64 bits, a surrogate)."""


class RegistrationError(UsageError):
    """A codec registration is inconsistent (tag or class registered twice, tag out of range)."""


class DecodeError(CrdtError, ValueError):
    """Bytes could not be decoded: truncated, malformed, hostile, unknown tag or future version."""
