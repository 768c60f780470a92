"""Per-connection stream encryption: session keys from the handshake, counter nonces.

After the handshake both ends derive two 32-byte keys (one per direction) with HKDF from the
cluster key that sealed the client's hello, salted with the digest of the whole handshake
transcript (both sealed messages: both ends' addresses, epochs and random bytes, the server's
fresh challenge included). Each frame body is ``AEAD(key, nonce = 4 zero bytes | 64-bit counter,
payload)`` with the counter starting at 0 and counting frames in that direction. The receiver
expects the next counter value, so a frame that is replayed, reordered, dropped or spliced in from
another connection (other session keys) fails authentication, and the connection is closed: a TCP
stream cannot skip a frame. Nothing about the nonce travels on the wire, so frames cost 16 bytes
of tag. The client's first frame is the handshake's ``confirm`` (``_handshake.py``).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from gossip._errors import AuthenticationError
from gossip.transport._keyring import TAG_SIZE, Cipher, Keyring

__all__ = ["StreamCipher", "derive_session"]


class StreamCipher:
    """One direction of a connection: seals (or opens) frames in counter order.

    ``key=None`` is plaintext mode (an explicit :meth:`Keyring.plaintext` on both ends).
    """

    __slots__ = ("_aead", "_counter")

    def __init__(self, key: bytes | None, cipher: Cipher = "chacha20-poly1305") -> None:
        self._aead: ChaCha20Poly1305 | AESGCM | None
        if key is None:
            self._aead = None
        elif cipher == "chacha20-poly1305":
            self._aead = ChaCha20Poly1305(key)
        else:
            self._aead = AESGCM(key)
        self._counter = 0

    @property
    def overhead(self) -> int:
        return 0 if self._aead is None else TAG_SIZE

    def _nonce(self) -> bytes:
        nonce = b"\x00\x00\x00\x00" + self._counter.to_bytes(8, "big")
        self._counter += 1
        return nonce

    def seal(self, payload: bytes) -> bytes:
        if self._aead is None:
            return payload
        return self._aead.encrypt(self._nonce(), payload, None)

    def open(self, body: bytes) -> bytes:
        if self._aead is None:
            return body
        try:
            return self._aead.decrypt(self._nonce(), body, None)
        except InvalidTag:
            raise AuthenticationError("stream frame failed authentication") from None


def derive_session(
    keyring: Keyring, kid: bytes, salt: bytes, *, client: bool
) -> tuple[StreamCipher, StreamCipher]:
    """``(send, receive)`` ciphers for one end of a connection; ``salt`` is the handshake
    transcript digest (:func:`~gossip.transport._handshake.transcript`)."""
    if not keyring.encrypted:
        return StreamCipher(None), StreamCipher(None)
    c2s = keyring.derive(kid, salt, b"stream c2s")
    s2c = keyring.derive(kid, salt, b"stream s2c")
    send, recv = (c2s, s2c) if client else (s2c, c2s)
    return StreamCipher(send, keyring.cipher), StreamCipher(recv, keyring.cipher)
