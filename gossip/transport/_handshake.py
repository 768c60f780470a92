"""The stream handshake: version ranges, restart epochs, advertised addresses, session nonces.

A connection opens with the 4-byte preamble :data:`MAGIC`, then the client sends one frame holding
a sealed ``hello`` and the server answers with one frame holding a sealed ``welcome``::

    client -> server   MAGIC | frame(seal("hello",   stamp(msgpack(hello))))
    server -> client           frame(seal("welcome", stamp(msgpack(welcome))))

Both carry the sender's supported wire-protocol version range ``[vmin, vmax]``, its restart epoch,
its advertised address (the ``"host:port"`` its peers use for it: a connection is registered under
it, so either side reuses the one connection) and 16 random bytes. The welcome also echoes the
client's random bytes (so an old welcome cannot be replayed at a new client), the chosen version
(the highest both support) or an ``error`` if there is none. Hellos are sealed with the cluster key
and go through the replay guard like packets; a node without the key cannot complete a handshake,
so it can neither join nor inject. Stream frames after the handshake are sealed with session keys
(``_session.py``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import msgpack

from gossip._errors import ConfigError, DecodeError, VersionError
from gossip.transport._keyring import Keyring
from gossip.transport._replay import ReplayGuard, stamp, unstamp

__all__ = [
    "MAGIC",
    "MAX_HELLO_SIZE",
    "PROTOCOL_VERSIONS",
    "Hello",
    "negotiate",
    "open_hello",
    "seal_hello",
]

MAGIC = b"DMSH"
MAX_HELLO_SIZE = 4096  # bytes: a handshake frame larger than this is garbage
PROTOCOL_VERSIONS = (1, 1)  # the wire-protocol versions this code speaks (min, max)
HELLO = b"hello"
WELCOME = b"welcome"


@dataclass(frozen=True, slots=True, kw_only=True)
class Hello:
    """One side's handshake message (``hello`` from the client, ``welcome`` from the server)."""

    versions: tuple[int, int]  # supported wire-protocol versions, inclusive
    epoch: int  # the sender's restart epoch (grows with every restart)
    addr: str  # the sender's advertised address
    nonce: bytes  # 16 random bytes, salt of the session keys
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
        echo=echo,
        version=version,
        error=error,
    )
    return hello, opened.key_id
