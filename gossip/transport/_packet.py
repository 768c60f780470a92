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

from gossip._errors import DecodeError, UsageError
from gossip.transport._keyring import SEAL_OVERHEAD, Keyring
from gossip.transport._replay import STAMP_SIZE, ReplayGuard, stamp, unstamp

__all__ = ["open_packet", "packet_overhead", "seal_packet"]

PACKET = b"packet"


def packet_overhead(src: str) -> int:
    """Bytes a sealed datagram adds to its payload (header, tag, stamp, source address)."""
    return SEAL_OVERHEAD + STAMP_SIZE + 1 + len(src.encode())


def seal_packet(keyring: Keyring, src: str, dst: str, payload: bytes, now: float) -> bytes:
    """A datagram from ``src`` for ``dst`` (both advertised addresses)."""
    raw_src = src.encode()
    if len(raw_src) > 255:
        raise UsageError("advertised address longer than 255 bytes")
    body = stamp(bytes((len(raw_src),)) + raw_src + payload, now)
    return keyring.seal(PACKET, body, bind=dst.encode())


def open_packet(
    keyring: Keyring, data: bytes, dst: str, guard: ReplayGuard, now: float
) -> tuple[str, bytes]:
    """``(src, payload)`` of an authentic, fresh datagram sealed for ``dst`` (our advertised
    address); raises a :class:`~gossip.PeerError`."""
    opened = keyring.open(PACKET, data, bind=dst.encode())
    sent_at, body = unstamp(opened.plaintext)
    if not body or len(body) < 1 + body[0]:
        raise DecodeError("datagram too short for its source address")
    try:
        src = body[1 : 1 + body[0]].decode()
    except UnicodeDecodeError:
        raise DecodeError("source address is not UTF-8") from None
    guard.check(opened.nonce, sent_at, now)
    return src, body[1 + body[0] :]
