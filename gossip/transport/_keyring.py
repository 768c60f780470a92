"""The cluster key: a keyring of AEAD keys that seals every packet and handshake.

Theory of operation
-------------------
A sealed message is ``format (1) | key id (4) | nonce (12) | AEAD ciphertext + tag (16)``. The AEAD
is ChaCha20-Poly1305 (default) or AES-256-GCM from ``cryptography``, with 32-byte keys. Its
associated data binds the message to

- the *cluster label* (a string every node of a cluster shares), so two clusters that happen to
  share a key still cannot inject into each other;
- the message *kind* (``packet``, ``hello``, ``welcome``), so a sealed packet can never be
  reflected as a handshake or the other way round;
- the header itself (format byte and key id);
- for datagrams, the *destination* address (``bind``, not sent): a datagram sealed for one
  member fails authentication at every other, so a captured datagram cannot be replayed to a
  node that was not its destination (each node's replay guard stops second copies at the
  destination itself).

Encryption always uses the *primary* key; decryption accepts any installed key. The key id (the
first 4 bytes of SHA-256 over a fixed label and the key) names the key that sealed a message, so
the receiver opens it with exactly one trial; an unknown id is rejected at once. Key ids reveal
nothing useful about a 256-bit key. Nonces are 96 random bits per message: the collision
probability stays below 2**-32 for the first 2**32 messages sealed under one key; rotate keys
long before that.

Rotation is the three-step rollout memberlist and Serf use: ``add(new)`` on every node, then
``use(new)`` on every node, then ``remove(old)`` on every node. Between the steps every node
accepts both keys, so no message is lost. Established stream connections keep their session
keys (derived at handshake, see ``_session.py``) until they are closed.

Plaintext mode (:meth:`Keyring.plaintext`) is an explicit choice: messages carry format byte 0
and no protection at all. A keyed node rejects plaintext messages and vice versa.

Replay protection is not the keyring's business: see ``_replay.py`` for what the transport
guarantees.
"""

from __future__ import annotations

import hashlib
import os
from typing import Literal, NamedTuple

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from gossip._errors import AuthenticationError, ConfigError, DecodeError, UsageError

__all__ = ["KEY_SIZE", "SEAL_OVERHEAD", "Cipher", "Keyring", "Opened", "key_id"]

KEY_SIZE = 32  # bytes
NONCE_SIZE = 12  # bytes
TAG_SIZE = 16  # bytes
KEY_ID_SIZE = 4  # bytes
FORMAT_PLAIN = 0x00
FORMAT_SEALED = 0x01
HEADER_SIZE = 1 + KEY_ID_SIZE + NONCE_SIZE
SEAL_OVERHEAD = HEADER_SIZE + TAG_SIZE  # bytes a sealed message adds to its plaintext

_AAD_CACHE = 4096  # associated-data strings kept (one per peer address and key, about)

Cipher = Literal["chacha20-poly1305", "aes-256-gcm"]
_AEAD = ChaCha20Poly1305 | AESGCM


def key_id(key: bytes) -> bytes:
    """The 4-byte id that names ``key`` on the wire."""
    return hashlib.sha256(b"deltamesh key id\x00" + key).digest()[:KEY_ID_SIZE]


class Opened(NamedTuple):
    """A message that passed authentication."""

    plaintext: bytes
    nonce: bytes  # unique per sealed message: the replay guard's key (empty in plaintext mode)
    key_id: bytes  # the key that opened it (empty in plaintext mode)


class Keyring:
    """The keys of one cluster; the first one added (or the last one passed to :meth:`use`) is
    the primary, used to seal. Mutations take effect at once on every transport that holds the
    keyring."""

    __slots__ = ("_aad_cache", "_aeads", "_keys", "_plain", "_primary", "cipher", "cluster")

    def __init__(
        self,
        keys: list[bytes] | tuple[bytes, ...],
        *,
        cluster: str = "deltamesh",
        cipher: Cipher = "chacha20-poly1305",
    ) -> None:
        if cipher not in ("chacha20-poly1305", "aes-256-gcm"):
            raise ConfigError(f"unknown cipher {cipher!r}")
        if not keys:
            raise ConfigError(
                "a keyring needs at least one key; use Keyring.plaintext() to opt out"
            )
        if not cluster or len(cluster.encode()) > 255:
            raise ConfigError("cluster label must be 1..255 bytes of UTF-8")
        self.cluster = cluster
        self.cipher: Cipher = cipher
        self._aad_cache: dict[tuple[bytes, bytes, bytes, str], bytes] = {}
        self._keys: dict[bytes, bytes] = {}
        self._aeads: dict[bytes, _AEAD] = {}
        self._primary: bytes | None = None
        self._plain = False
        for key in keys:
            self.add(key)
        self._primary = key_id(keys[0])

    @classmethod
    def plaintext(cls, *, cluster: str = "deltamesh") -> Keyring:
        """A keyring that neither encrypts nor authenticates: an explicit opt-out of security."""
        ring = cls.__new__(cls)
        if not cluster or len(cluster.encode()) > 255:
            raise ConfigError("cluster label must be 1..255 bytes of UTF-8")
        ring.cluster = cluster
        ring.cipher = "chacha20-poly1305"
        ring._aad_cache = {}
        ring._keys = {}
        ring._aeads = {}
        ring._primary = None
        ring._plain = True
        return ring

    @staticmethod
    def generate_key() -> bytes:
        """A fresh random 32-byte key (from the OS CSPRNG)."""
        return os.urandom(KEY_SIZE)

    # -- management ------------------------------------------------------------------------

    @property
    def encrypted(self) -> bool:
        """False only for :meth:`plaintext` keyrings."""
        return self._primary is not None

    @property
    def primary_id(self) -> bytes | None:
        return self._primary

    @property
    def key_ids(self) -> list[bytes]:
        """Ids of every installed key, primary first."""
        rest = [k for k in self._keys if k != self._primary]
        return ([self._primary] if self._primary is not None else []) + rest

    def add(self, key: bytes) -> None:
        """Install ``key`` for decryption (a no-op if already installed)."""
        self._require_keyed("add")
        if not isinstance(key, bytes) or len(key) != KEY_SIZE:
            raise ConfigError(f"keys are {KEY_SIZE} bytes")
        kid = key_id(key)
        known = self._keys.get(kid)
        if known is not None and known != key:
            raise ConfigError("two keys share a key id; generate another key")
        self._keys[kid] = key
        aead: _AEAD = ChaCha20Poly1305(key) if self.cipher == "chacha20-poly1305" else AESGCM(key)
        self._aeads[kid] = aead

    def use(self, key: bytes) -> None:
        """Make the installed ``key`` the primary (the one that seals)."""
        self._require_keyed("use")
        kid = key_id(key)
        if self._keys.get(kid) != key:
            raise UsageError("add() a key before use()")
        self._primary = kid

    def rotate(self, key: bytes) -> None:
        """``add(key)`` then ``use(key)``; the old keys stay installed until removed."""
        self.add(key)
        self.use(key)

    def remove(self, key: bytes) -> None:
        """Uninstall ``key``; messages sealed with it are rejected from now on."""
        self._require_keyed("remove")
        kid = key_id(key)
        if kid == self._primary:
            raise UsageError("cannot remove the primary key; use() another key first")
        self._keys.pop(kid, None)
        self._aeads.pop(kid, None)

    def _require_keyed(self, what: str) -> None:
        if self._plain:
            raise UsageError(f"{what}() on a plaintext keyring: plaintext is an explicit choice")

    # -- sealing ---------------------------------------------------------------------------

    def _aad(self, kind: bytes, header: bytes, bind: bytes) -> bytes:
        # Every datagram sealed or opened builds one; a member at rest has few distinct ones
        # (its peers' addresses as binds, its own when opening), so they are kept: building
        # one cost more instructions than the AEAD on a probe-sized packet.
        cache_key = (kind, header, bind, self.cluster)
        aad = self._aad_cache.get(cache_key)
        if aad is not None:
            return aad
        aad = b"deltamesh/1\x00" + kind + b"\x00" + self.cluster.encode() + b"\x00" + header
        # Length-prefixed, so no two (header, bind) pairs give the same associated data.
        if bind:
            aad += len(bind).to_bytes(2, "big") + bind
        if len(self._aad_cache) >= _AAD_CACHE:
            self._aad_cache.clear()  # peers come and go: start over rather than grow
        self._aad_cache[cache_key] = aad
        return aad

    def seal(self, kind: bytes, plaintext: bytes, *, bind: bytes = b"") -> bytes:
        """Seal ``plaintext`` as a message of ``kind`` under the primary key.

        ``bind`` (at most 65,535 bytes) joins the associated data without being sent: the
        receiver must pass the same bytes to :meth:`open` (datagrams bind their destination
        address, so a datagram sealed for one node fails authentication at any other)."""
        if self._primary is None:
            return bytes((FORMAT_PLAIN,)) + plaintext
        nonce = os.urandom(NONCE_SIZE)
        header = bytes((FORMAT_SEALED,)) + self._primary
        aad = self._aad(kind, header, bind)
        body = self._aeads[self._primary].encrypt(nonce, plaintext, aad)
        return header + nonce + body

    def open(self, kind: bytes, data: bytes, *, bind: bytes = b"") -> Opened:
        """Authenticate and decrypt a message of ``kind`` (sealed with the same ``bind``).

        Raises :class:`AuthenticationError` (unknown key, wrong key, wrong cluster, tampered,
        plaintext/keyed mismatch) or :class:`DecodeError` (too short to be a message).
        """
        if not data:
            raise DecodeError("empty message")
        fmt = data[0]
        if self._primary is None:
            if fmt != FORMAT_PLAIN:
                raise AuthenticationError("sealed message on a plaintext keyring")
            return Opened(data[1:], b"", b"")
        if fmt != FORMAT_SEALED:
            raise AuthenticationError("unsealed message on a keyed keyring")
        if len(data) < SEAL_OVERHEAD:
            raise DecodeError(f"sealed message of {len(data)} bytes is truncated")
        kid = data[1 : HEADER_SIZE - NONCE_SIZE]
        aead = self._aeads.get(kid)
        if aead is None:
            raise AuthenticationError("sealed with a key that is not installed")
        nonce = data[HEADER_SIZE - NONCE_SIZE : HEADER_SIZE]
        try:
            plaintext = aead.decrypt(
                nonce, data[HEADER_SIZE:], self._aad(kind, data[: HEADER_SIZE - NONCE_SIZE], bind)
            )
        except InvalidTag:
            raise AuthenticationError("authentication failed") from None
        return Opened(plaintext, nonce, kid)

    def derive(self, kid: bytes, salt: bytes, info: bytes) -> bytes:
        """A 32-byte subkey of installed key ``kid`` (HKDF-SHA256), bound to the cluster label."""
        key = self._keys.get(kid)
        if key is None:
            raise AuthenticationError("key no longer installed")
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_SIZE,
            salt=salt,
            info=b"deltamesh/1\x00" + self.cluster.encode() + b"\x00" + info,
        )
        return hkdf.derive(key)

    def __repr__(self) -> str:
        if self._primary is None:
            return f"Keyring.plaintext(cluster={self.cluster!r})"
        return f"Keyring(cluster={self.cluster!r}, cipher={self.cipher!r}, keys={len(self._keys)})"
