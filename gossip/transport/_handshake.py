"""The stream handshake: version ranges, restart epochs, both ends' addresses, a fresh challenge.

A connection opens with the 4-byte preamble :data:`MAGIC`; the client sends a sealed ``hello``,
the server answers with a sealed ``welcome`` (or a refusal), and the client proves it holds the
cluster key *and* saw this welcome with a ``confirm`` frame sealed under the new session key::

    client -> server   MAGIC | frame(seal("hello",   stamp(msgpack(hello))))
    server -> client           frame(seal("welcome", stamp(msgpack(welcome))))
    client -> server           frame(session_c2s(CONFIRM))   then ordinary frames

Both messages carry the sender's supported wire-protocol version range ``[vmin, vmax]``, its
restart epoch, its advertised address (``addr``: a connection is registered under it, so either
side reuses the one connection), the *other* end's address (``dst``: the hello names the server's
``ip:port`` as the client's socket reached it, the welcome the client's advertised address) and 16
random bytes. The welcome
also echoes the client's bytes (so an old welcome cannot be replayed at a new client) and holds
the chosen version (the highest both support), or an ``error`` if the server refuses (no common
version, or a hello addressed to another node).

Why three messages (protocol version 2). A hello is sealed with the cluster key and goes through
the replay guard, but a recorded hello stays valid for the replay window, and a guard only knows
what *its* node saw: in version 1 a hello that C sent to A, replayed to B (or to A after a
restart), was accepted, and B sent C's frames to the replayer's socket. Now a hello names its
destination (a node refuses a hello for another address) and the session keys are derived from
the whole transcript, the server's fresh random bytes included; the server registers the
connection only after the ``confirm`` frame authenticates under them, which only a holder of the
cluster key who received this very welcome can produce. A recorded hello is worthless: it earns a
welcome that its replayer cannot answer, and the half-open connection is dropped after
``handshake_timeout``. Stream frames after the handshake are sealed with the session keys
(``_session.py``).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any

import msgpack

from gossip._errors import ConfigError, DecodeError, VersionError
from gossip.transport._keyring import Keyring
from gossip.transport._replay import ReplayGuard, stamp, unstamp

__all__ = [
    "CONFIRM",
    "MAGIC",
    "MAX_HELLO_SIZE",
    "PROTOCOL_VERSIONS",
    "Hello",
    "negotiate",
    "open_hello",
    "seal_hello",
    "transcript",
]

MAGIC = b"DMSH"
MAX_HELLO_SIZE = 4096  # bytes: a handshake frame larger than this is garbage
# The wire-protocol versions this code speaks (min, max). 2: hellos name their destination and
# the client confirms the server's fresh challenge (version 1 nodes are refused, with a clear
# error on both sides); datagrams bind their destination address.
PROTOCOL_VERSIONS = (2, 2)
CONFIRM = b"DMSH confirm"  # the payload of the client's first session frame
HELLO = b"hello"
WELCOME = b"welcome"


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    """One side's handshake message (``hello`` from the client, ``welcome`` from the server)."""

    versions: tuple[int, int]  # supported wire-protocol versions, inclusive
    epoch: int  # the sender's restart epoch (grows with every restart)
    addr: str  # the sender's advertised address
    nonce: bytes  # 16 random bytes (the server's are the fresh challenge)
    dst: str = ""  # hello: the server's ip:port as reached; welcome: the client's advertised addr
    echo: bytes = b""  # welcome: the client's nonce
    version: int = 0  # welcome: the chosen version
    error: str = ""  # welcome: why the server refuses (version mismatch)

    @staticmethod
    def fresh_nonce() -> bytes:
        return os.urandom(16)


def negotiate(ours: tuple[int, int], theirs: tuple[int, int]) -> int:
    """The highest version both ranges hold; :class:`VersionError` if none."""
    lo, hi = max(ours[0], theirs[0]), min(ours[1], theirs[1])
    if lo > hi:
        raise VersionError(
            f"protocol version mismatch: we speak {ours[0]}..{ours[1]}, "
            f"the peer speaks {theirs[0]}..{theirs[1]}"
        )
    return hi


def transcript(hello_body: bytes, welcome_body: bytes) -> bytes:
    """The digest of both sealed handshake messages: the salt of the session keys, so the keys
    (and the client's ``confirm``) are bound to both ends' addresses, epochs and random bytes."""
    digest = hashlib.sha256(b"deltamesh handshake\x00")
    digest.update(len(hello_body).to_bytes(4, "big") + hello_body)
    digest.update(welcome_body)
    return digest.digest()


def validate_versions(versions: tuple[int, int]) -> None:
    if len(versions) != 2 or not 1 <= versions[0] <= versions[1] or versions[1] > 255:
        raise ConfigError(
            f"version range must be (min, max) with 1 <= min <= max <= 255: {versions}"
        )


def seal_hello(keyring: Keyring, hello: Hello, now: float, *, welcome: bool = False) -> bytes:
    """The sealed body of a handshake frame; ``now`` is the wall clock (seconds)."""
    body: dict[str, Any] = {
        "vmin": hello.versions[0],
        "vmax": hello.versions[1],
        "epoch": hello.epoch,
        "addr": hello.addr,
        "nonce": hello.nonce,
        "dst": hello.dst,
    }
    if welcome:
        body.update(echo=hello.echo, version=hello.version, error=hello.error)
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return keyring.seal(WELCOME if welcome else HELLO, stamp(packed, now))


def open_hello(
    keyring: Keyring, data: bytes, guard: ReplayGuard, now: float, *, welcome: bool = False
) -> tuple[Hello, bytes]:
    """Authenticate, replay-check and decode a handshake frame body: ``(hello, key id)``.

    Raises :class:`~gossip.AuthenticationError`, :class:`~gossip.ReplayError` or
    :class:`~gossip.DecodeError`.
    """
    opened = keyring.open(WELCOME if welcome else HELLO, data)
    sent_at, packed = unstamp(opened.plaintext)
    guard.check(opened.nonce, sent_at, now)
    try:
        body = msgpack.unpackb(packed, raw=False)
        if not isinstance(body, dict):
            raise TypeError("handshake body is not a map")
        vmin, vmax, epoch = body["vmin"], body["vmax"], body["epoch"]
        addr, nonce = body["addr"], body["nonce"]
        ints = (vmin, vmax, epoch)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in ints):
            raise TypeError("version range and epoch must be integers")
        if not isinstance(addr, str) or not isinstance(nonce, bytes) or len(nonce) != 16:
            raise TypeError("bad address or nonce")
        dst = body.get("dst", "")  # absent from version 1 messages (refused after negotiation)
        if not isinstance(dst, str):
            raise TypeError("bad destination address")
        echo, version, error = b"", 0, ""
        if welcome:
            echo, version, error = body["echo"], body["version"], body["error"]
            if not isinstance(echo, bytes) or not isinstance(version, int):
                raise TypeError("bad echo or version")
            if not isinstance(error, str):
                raise TypeError("bad error")
    except (ValueError, TypeError, KeyError, msgpack.ExtraData, msgpack.FormatError) as exc:
        raise DecodeError(f"malformed handshake: {exc}") from None
    hello = Hello(
        versions=(vmin, vmax),
        epoch=epoch,
        addr=addr,
        nonce=nonce,
        dst=dst,
        echo=echo,
        version=version,
        error=error,
    )
    return hello, opened.key_id
