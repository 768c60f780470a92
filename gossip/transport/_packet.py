"""Datagram layout: ``seal("packet", stamp(len(src) | src | payload), bind=dst)``.

The sender's advertised address travels inside the authenticated plaintext, so a packet's source
is the same string its sender uses on streams (and survives NAT or a wildcard bind); on a keyed
cluster it cannot be forged by anyone without the key. The destination address (the receiver's
advertised address, as the sender addressed it) is bound into the associated data without being
sent: a datagram sealed for A fails authentication at B, so a copy captured on its way to A is
worthless anywhere else, and at A itself the replay guard (``_replay.py``, fed by the wall-clock
stamp) accepts it once.
"""

from __future__ import annotations

import functools

from gossip._errors import DecodeError, UsageError
from gossip.transport._keyring import SEAL_OVERHEAD, Keyring
from gossip.transport._replay import STAMP_SIZE, ReplayGuard, stamp, unstamp

__all__ = ["open_packet", "packet_overhead", "seal_packet"]

PACKET = b"packet"


def packet_overhead(src: str) -> int:
    """Bytes a sealed datagram adds to its payload (header, tag, stamp, source address)."""
    return SEAL_OVERHEAD + STAMP_SIZE + 1 + len(src.encode())


# A node seals and opens every datagram with the same few addresses (its own, its peers'): their
# encoded forms are kept rather than re-encoded per datagram.
_encoded = functools.lru_cache(maxsize=4096)(str.encode)


@functools.lru_cache(maxsize=4096)
def _src_prefix(src: str) -> bytes:
    raw_src = src.encode()
    if len(raw_src) > 255:
        raise UsageError("advertised address longer than 255 bytes")
    return bytes((len(raw_src),)) + raw_src


def seal_packet(keyring: Keyring, src: str, dst: str, payload: bytes, now: float) -> bytes:
    """A datagram from ``src`` for ``dst`` (both advertised addresses)."""
    body = stamp(_src_prefix(src) + payload, now)
    return keyring.seal(PACKET, body, bind=_encoded(dst))


def open_packet(
    keyring: Keyring, data: bytes, dst: str, guard: ReplayGuard, now: float
) -> tuple[str, bytes]:
    """``(src, payload)`` of an authentic, fresh datagram sealed for ``dst`` (our advertised
    address); raises a :class:`~gossip.PeerError`."""
    opened = keyring.open(PACKET, data, bind=_encoded(dst))
    sent_at, body = unstamp(opened.plaintext)
    if not body or len(body) < 1 + body[0]:
        raise DecodeError("datagram too short for its source address")
    try:
        src = body[1 : 1 + body[0]].decode()
    except UnicodeDecodeError:
        raise DecodeError("source address is not UTF-8") from None
    guard.check(opened.nonce, sent_at, now)
    return src, body[1 + body[0] :]
