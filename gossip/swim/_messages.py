"""SWIM wire messages and their codec.

A datagram is ``tag byte + msgpack(header array) + msgpack(update)*``: the header names the
message, the updates after it are the piggybacked membership changes. Each update is encoded on
its own, once, when it is queued, so the packet budget is simple addition of known sizes.
A push-pull frame (stream) is ``tag + msgpack([join, reply, [[addr, inc, state, meta], ...]])``.

Tags come from the ``swim`` range of :data:`gossip._events.TAG_RANGES`. Anything malformed raises
:class:`~gossip._errors.DecodeError`; an unknown tag inside the range is :class:`UnknownTagError`
(a ``DecodeError`` too, counted apart so a newer peer's messages are visibly dropped).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, TypeAlias

import msgpack

from gossip._errors import DecodeError
from gossip._events import TAG_RANGES, Addr

__all__ = [
    "Ack",
    "Gossip",
    "Nack",
    "Ping",
    "PingReq",
    "PushPull",
    "SwimMessage",
    "Tag",
    "UnknownTagError",
    "Update",
    "UpdateKind",
    "decode_message",
    "encode_push_pull",
    "encode_update",
    "encode_with_updates",
]

_LO, _HI = TAG_RANGES["swim"]
_MAX_ADDR = 256  # bytes of an address on the wire
_MAX_PACKET = 65536  # bytes; datagrams are far smaller, streams carry push-pull
_MAX_STATE = 1 << 26  # bytes of a push-pull frame


class Tag(enum.IntEnum):
    PING = _LO
    PING_REQ = _LO + 1
    ACK = _LO + 2
    NACK = _LO + 3
    GOSSIP = _LO + 4
    PUSH_PULL = _LO + 5


class UpdateKind(enum.IntEnum):
    ALIVE = 0
    SUSPECT = 1
    DEAD = 2
    LEFT = 3


class UnknownTagError(DecodeError):
    """A tag in SWIM's range that this version does not know."""


@dataclass(frozen=True, slots=True)
class Update:
    """A piggybacked membership change. ``meta`` only for ALIVE, ``origin`` (who declared it)
    only for SUSPECT and DEAD."""

    kind: UpdateKind
    addr: Addr
    incarnation: int
    meta: bytes = b""
    origin: Addr = ""


@dataclass(frozen=True, slots=True)
class Ping:
    seq: int
    updates: tuple[Update, ...] = ()


@dataclass(frozen=True, slots=True)
class PingReq:
    seq: int
    target: Addr
    nack: bool
    updates: tuple[Update, ...] = ()


@dataclass(frozen=True, slots=True)
class Ack:
    seq: int
    updates: tuple[Update, ...] = ()


@dataclass(frozen=True, slots=True)
class Nack:
    seq: int


@dataclass(frozen=True, slots=True)
class Gossip:
    updates: tuple[Update, ...] = ()


@dataclass(frozen=True, slots=True)
class PushPull:
    """Full state: ``(addr, incarnation, state, meta)`` per member, the sender's own included."""

    join: bool
    reply: bool
    members: tuple[tuple[Addr, int, int, bytes], ...]


SwimMessage: TypeAlias = Ping | PingReq | Ack | Nack | Gossip | PushPull


# -- encoding ------------------------------------------------------------------------------------


def _packb(obj: object) -> bytes:
    out: bytes = msgpack.packb(obj)
    return out


def encode_update(u: Update) -> bytes:
    tail: bytes | str = u.meta if u.kind == UpdateKind.ALIVE else u.origin
    return _packb([int(u.kind), u.addr, u.incarnation, tail])


def encode_header(msg: Ping | PingReq | Ack | Nack | Gossip) -> bytes:
    """The tag and header of ``msg`` without its updates."""
    if isinstance(msg, Ping):
        return bytes([Tag.PING]) + _packb([msg.seq])
    if isinstance(msg, PingReq):
        return bytes([Tag.PING_REQ]) + _packb([msg.seq, msg.target, msg.nack])
    if isinstance(msg, Ack):
        return bytes([Tag.ACK]) + _packb([msg.seq])
    if isinstance(msg, Nack):
        return bytes([Tag.NACK]) + _packb([msg.seq])
    return bytes([Tag.GOSSIP]) + _packb([])


def encode_with_updates(msg: Ping | PingReq | Ack | Nack | Gossip, encoded: list[bytes]) -> bytes:
    """``msg``'s header followed by already-encoded updates (see :func:`encode_update`)."""
    return encode_header(msg) + b"".join(encoded)


def encode_message(msg: Ping | PingReq | Ack | Nack | Gossip) -> bytes:
    updates = () if isinstance(msg, Nack) else msg.updates
    return encode_with_updates(msg, [encode_update(u) for u in updates])


def encode_push_pull(msg: PushPull) -> bytes:
    body = [msg.join, msg.reply, [list(m) for m in msg.members]]
    return bytes([Tag.PUSH_PULL]) + _packb(body)


# -- decoding ------------------------------------------------------------------------------------


def _addr(v: Any) -> Addr:
    if not isinstance(v, str) or not v or len(v) > _MAX_ADDR:
        raise DecodeError("bad address")
    return v


def _uint(v: Any) -> int:
    if type(v) is not int or v < 0 or v >= 1 << 64:
        raise DecodeError("bad unsigned integer")
    return v


def _bool(v: Any) -> bool:
    if type(v) is not bool:
        raise DecodeError("bad boolean")
    return v


def _update(v: Any, max_meta: int) -> Update:
    if not isinstance(v, list) or len(v) != 4:
        raise DecodeError("bad update")
    kind_raw, addr, inc, tail = v
    if type(kind_raw) is not int or kind_raw not in (0, 1, 2, 3):
        raise DecodeError("bad update kind")
    kind = UpdateKind(kind_raw)
    if kind == UpdateKind.ALIVE:
        if not isinstance(tail, bytes) or len(tail) > max_meta:
            raise DecodeError("bad metadata")
        return Update(kind, _addr(addr), _uint(inc), meta=tail)
    if kind == UpdateKind.LEFT:
        if tail != "" and not isinstance(tail, str):
            raise DecodeError("bad origin")
        return Update(kind, _addr(addr), _uint(inc))
    return Update(kind, _addr(addr), _uint(inc), origin=_addr(tail))


def decode_message(data: bytes, max_meta: int = 512) -> SwimMessage:
    """Decode one SWIM payload (datagram or push-pull frame); raise ``DecodeError`` on garbage."""
    if not data:
        raise DecodeError("empty payload")
    tag = data[0]
    if not _LO <= tag < _HI:
        raise DecodeError(f"tag {tag:#x} is not SWIM's")
    if tag not in Tag._value2member_map_:
        raise UnknownTagError(f"unknown SWIM tag {tag:#x}")
    if len(data) > (_MAX_STATE if tag == Tag.PUSH_PULL else _MAX_PACKET):
        raise DecodeError("payload too large")
    try:
        if tag == Tag.PUSH_PULL:
            return _decode_push_pull(data[1:], max_meta)
        unpacker = msgpack.Unpacker(
            raw=False, max_buffer_size=_MAX_PACKET, strict_map_key=True, use_list=True
        )
        unpacker.feed(data[1:])
        objs = list(unpacker)
    except DecodeError:
        raise
    except Exception as e:  # msgpack raises many types on garbage; all mean the same to us
        raise DecodeError(f"malformed SWIM message: {e.__class__.__name__}") from None
    if not objs or not isinstance(objs[0], list):
        raise DecodeError("missing header")
    h = objs[0]
    updates = tuple(_update(o, max_meta) for o in objs[1:])
    if tag == Tag.PING and len(h) == 1:
        return Ping(_uint(h[0]), updates)
    if tag == Tag.PING_REQ and len(h) == 3:
        return PingReq(_uint(h[0]), _addr(h[1]), _bool(h[2]), updates)
    if tag == Tag.ACK and len(h) == 1:
        return Ack(_uint(h[0]), updates)
    if tag == Tag.NACK and len(h) == 1 and not updates:
        return Nack(_uint(h[0]))
    if tag == Tag.GOSSIP and len(h) == 0:
        return Gossip(updates)
    raise DecodeError("bad header")


def _decode_push_pull(body: bytes, max_meta: int) -> PushPull:
    obj = msgpack.unpackb(body, raw=False, strict_map_key=True, max_bin_len=max_meta)
    if not isinstance(obj, list) or len(obj) != 3 or not isinstance(obj[2], list):
        raise DecodeError("bad push-pull")
    members: list[tuple[Addr, int, int, bytes]] = []
    for m in obj[2]:
        if not isinstance(m, list) or len(m) != 4:
            raise DecodeError("bad push-pull entry")
        addr, inc, state, meta = m
        if type(state) is not int or state not in (0, 1, 2, 3):
            raise DecodeError("bad member state")
        if not isinstance(meta, bytes) or len(meta) > max_meta:
            raise DecodeError("bad metadata")
        members.append((_addr(addr), _uint(inc), state, meta))
    return PushPull(_bool(obj[0]), _bool(obj[1]), tuple(members))
