"""Replay protection for datagrams and handshakes: timestamps plus a bounded cache of nonces.

What the transport guarantees (with a keyed :class:`~gossip.transport.Keyring`):

- *Across clusters*: nothing sealed for another cluster (another key, or the same key with another
  cluster label) is ever accepted; that is the AEAD's job (``_keyring.py``).
- *Within a cluster, packets and handshakes*: every sealed packet carries its sender's wall-clock
  time (milliseconds) inside the authenticated plaintext, and its 96-bit random nonce is unique.
  A receiver rejects a message stamped more than ``window`` seconds before or after its own clock
  (``ReplayError``, counted as ``stale``) and remembers the nonce of every accepted message until
  its stamp leaves the window, so a copy within the window is rejected (``replay``). Hence *no
  packet is ever accepted twice by the same running node*. The cache holds at most ``max_entries``
  nonces; under a flood that would overflow it the guard evicts the oldest entry and then rejects
  anything stamped at or before the evicted one (it can no longer tell), trading a few late
  legitimate packets (best effort anyway) for the guarantee. A restarted node has an empty cache,
  so a packet captured less than ``window`` seconds before the restart could be replayed to it
  once: keep the window short (the default is 60 s) and note that protocol messages are
  idempotent (SWIM, HyParView).
- *Streams*: frames are sealed under per-connection session keys with counter nonces
  (``_session.py``); a frame replayed, reordered, dropped or copied from another connection fails
  authentication and the connection is closed.

Clocks of cluster members must agree within ``window`` (NTP suffices).
"""

from __future__ import annotations

import heapq
import struct

from gossip._errors import ConfigError, DecodeError, ReplayError

__all__ = ["STAMP_SIZE", "ReplayGuard", "stamp", "unstamp"]

_STAMP = struct.Struct(">Q")
STAMP_SIZE = _STAMP.size  # bytes


def stamp(body: bytes, now: float) -> bytes:
    """Prefix ``body`` with the wall-clock time ``now`` (seconds) in milliseconds."""
    return _STAMP.pack(max(0, int(now * 1000))) + body


def unstamp(data: bytes) -> tuple[float, bytes]:
    """Split a stamped message into ``(sent_at seconds, body)``."""
    if len(data) < STAMP_SIZE:
        raise DecodeError("message too short for its timestamp")
    (ms,) = _STAMP.unpack_from(data)
    return ms / 1000.0, data[STAMP_SIZE:]


class ReplayGuard:
    """Remembers the nonces of accepted messages for ``window`` seconds (sans-I/O: pass ``now``)."""

    __slots__ = ("_expiry", "_floor", "_seen", "max_entries", "window")

    def __init__(self, *, window: float = 60.0, max_entries: int = 100_000) -> None:
        if window <= 0:
            raise ConfigError("replay window must be > 0 seconds")
        if max_entries < 1:
            raise ConfigError("replay cache needs at least one entry")
        self.window = window
        self.max_entries = max_entries
        self._seen: dict[bytes, float] = {}  # nonce -> sent_at
        self._expiry: list[tuple[float, bytes]] = []  # heap of (sent_at, nonce)
        self._floor = float("-inf")  # anything stamped at or before this is rejected

    def __len__(self) -> int:
        return len(self._seen)

    def check(self, nonce: bytes, sent_at: float, now: float) -> None:
        """Accept (and remember) the message, or raise :class:`ReplayError`."""
        if not nonce:
            return  # plaintext mode: nothing authenticated to remember
        self._expire(now)
        if sent_at < now - self.window or sent_at > now + self.window:
            raise ReplayError(f"stale: stamped {sent_at - now:+.1f} s from our clock")
        if sent_at <= self._floor:
            raise ReplayError("stale: older than the replay cache can vouch for")
        if nonce in self._seen:
            raise ReplayError("replay: nonce already seen")
        self._seen[nonce] = sent_at
        heapq.heappush(self._expiry, (sent_at, nonce))
        while len(self._seen) > self.max_entries:
            old_at, old = heapq.heappop(self._expiry)
            del self._seen[old]
            self._floor = max(self._floor, old_at)

    def _expire(self, now: float) -> None:
        horizon = now - self.window
        heap = self._expiry
        while heap and heap[0][0] < horizon:
            _, old = heapq.heappop(heap)
            del self._seen[old]
