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
import operator
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
    "decode_bare_seq",
    "decode_datagram",
    "decode_message",
    "decode_push_pull",
    "encode_push_pull",
    "encode_push_pull_state",
    "encode_seq_header",
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


def encode_seq_header(tag: int, seq: int) -> bytes:
    """The tag and header of a ping, ack or nack with sequence number ``seq`` (0 .. 2**32 - 1):
    ``tag, msgpack([seq])``, written directly. These are most of an idle member's datagrams, and
    building a message object and a msgpack packer for each cost more than the rest of the send."""
    if seq < 0x80:
        return bytes((tag, 0x91, seq))
    if seq < 0x100:
        return bytes((tag, 0x91, 0xCC, seq))
    if seq < 0x10000:
        return bytes((tag, 0x91, 0xCD, seq >> 8, seq & 0xFF))
    return bytes((tag, 0x91, 0xCE)) + seq.to_bytes(4, "big")


def encode_header(msg: Ping | PingReq | Ack | Nack | Gossip) -> bytes:
    """The tag and header of ``msg`` without its updates."""
    if isinstance(msg, Ping):
        return encode_seq_header(Tag.PING, msg.seq)
    if isinstance(msg, PingReq):
        return bytes([Tag.PING_REQ]) + _packb([msg.seq, msg.target, msg.nack])
    if isinstance(msg, Ack):
        return encode_seq_header(Tag.ACK, msg.seq)
    if isinstance(msg, Nack):
        return encode_seq_header(Tag.NACK, msg.seq)
    return bytes([Tag.GOSSIP]) + _packb([])


def encode_with_updates(msg: Ping | PingReq | Ack | Nack | Gossip, encoded: list[bytes]) -> bytes:
    """``msg``'s header followed by already-encoded updates (see :func:`encode_update`)."""
    return encode_header(msg) + b"".join(encoded)


def encode_message(msg: Ping | PingReq | Ack | Nack | Gossip) -> bytes:
    updates = () if isinstance(msg, Nack) else msg.updates
    return encode_with_updates(msg, [encode_update(u) for u in updates])


def encode_push_pull(msg: PushPull) -> bytes:
    return encode_push_pull_state(msg.join, msg.reply, [list(m) for m in msg.members])


def encode_push_pull_state(join: bool, reply: bool, members: list[Any]) -> bytes:
    """A push-pull frame from ``(addr, incarnation, state, meta)`` sequences (no PushPull)."""
    return bytes([Tag.PUSH_PULL]) + _packb([join, reply, members])


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


_FIRST, _SECOND, _THIRD, _FOURTH = (operator.itemgetter(i) for i in range(4))

RawUpdate: TypeAlias = tuple[Any, ...]
"""A validated update as it came off the wire: ``[kind, addr, incarnation, meta-or-origin]``."""


def _check_update(v: Any, max_meta: int) -> None:
    """Validate one decoded update in place. No object is built: most piggybacked updates are
    news the receiver already has, and the core skips those before building anything."""
    if type(v) is not tuple or len(v) != 4:
        raise DecodeError("bad update")
    kind, addr, inc, tail = v
    if type(kind) is not int or not 0 <= kind <= 3:
        raise DecodeError("bad update kind")
    if type(addr) is not str or not addr or len(addr) > _MAX_ADDR:
        raise DecodeError("bad address")
    if type(inc) is not int or inc < 0 or inc >= 1 << 64:
        raise DecodeError("bad unsigned integer")
    if kind == 0:
        if type(tail) is not bytes or len(tail) > max_meta:
            raise DecodeError("bad metadata")
    elif kind == 3:
        if not isinstance(tail, str):
            raise DecodeError("bad origin")
    else:
        _addr(tail)


def raw_to_update(v: RawUpdate) -> Update:
    """The :class:`Update` of a validated raw update."""
    kind, addr, inc, tail = v
    if kind == 0:
        return Update(UpdateKind.ALIVE, addr, inc, meta=tail)
    if kind == 3:
        return Update(UpdateKind.LEFT, addr, inc)
    return Update(UpdateKind(kind), addr, inc, origin=tail)


def _check_tag(data: bytes) -> int:
    if not data:
        raise DecodeError("empty payload")
    tag = data[0]
    if not _LO <= tag < _HI:
        raise DecodeError(f"tag {tag:#x} is not SWIM's")
    if tag not in Tag._value2member_map_:
        raise UnknownTagError(f"unknown SWIM tag {tag:#x}")
    if len(data) > (_MAX_STATE if tag == Tag.PUSH_PULL else _MAX_PACKET):
        raise DecodeError("payload too large")
    return tag


def decode_message(data: bytes, max_meta: int = 512) -> SwimMessage:
    """Decode one SWIM payload (datagram or push-pull frame); raise ``DecodeError`` on garbage."""
    if _check_tag(data) == Tag.PUSH_PULL:
        return decode_push_pull(data, max_meta)
    head, raw = decode_datagram(data, max_meta)
    if not raw:
        return head
    updates = tuple(raw_to_update(v) for v in raw)
    if isinstance(head, Ping):
        return Ping(head.seq, updates)
    if isinstance(head, PingReq):
        return PingReq(head.seq, head.target, head.nack, updates)
    if isinstance(head, Ack):
        return Ack(head.seq, updates)
    assert isinstance(head, Gossip)  # decode_datagram rejects a Nack with updates
    return Gossip(updates)


def decode_bare_seq(data: bytes) -> int | None:
    """The sequence number of a datagram that is only a ping, ack or nack header (no updates),
    read straight from the bytes; ``None`` for anything else (which :func:`decode_datagram`
    then decodes, or rejects). The tag is the caller's to check. An idle cluster's datagrams are
    almost all such headers, and this reads them without a message object or a msgpack call."""
    n = len(data)
    if n < 3 or data[1] != 0x91:
        return None
    b = data[2]
    if b < 0x80:
        return b if n == 3 else None
    if b == 0xCC:
        return data[3] if n == 4 else None
    if b == 0xCD:
        return data[3] << 8 | data[4] if n == 5 else None
    if b == 0xCE:
        return int.from_bytes(data[3:7], "big") if n == 7 else None
    return None


def decode_datagram(
    data: bytes, max_meta: int = 512
) -> tuple[Ping | PingReq | Ack | Nack | Gossip, list[RawUpdate]]:
    """Decode a datagram into its header message (without updates) and its piggybacked updates,
    validated but left raw (see :data:`RawUpdate`). ``DecodeError`` on garbage, and on a
    push-pull frame (full state never travels as a datagram)."""
    tag = _check_tag(data)
    if tag == Tag.PUSH_PULL:
        raise DecodeError("push-pull is not a datagram")
    try:
        # Most datagrams are a bare header (probes and acks of an idle cluster): one unpackb.
        objs = [msgpack.unpackb(data[1:], raw=False, strict_map_key=True, use_list=False)]
    except msgpack.ExtraData as e:  # updates follow the header
        unpacker = msgpack.Unpacker(
            raw=False, max_buffer_size=_MAX_PACKET, strict_map_key=True, use_list=False
        )
        try:
            unpacker.feed(e.extra)
            objs = [e.unpacked, *unpacker]
        except Exception as e2:  # msgpack raises many types on garbage; all mean the same
            raise DecodeError(f"malformed SWIM message: {e2.__class__.__name__}") from None
    except Exception as e:
        raise DecodeError(f"malformed SWIM message: {e.__class__.__name__}") from None
    if not objs or type(objs[0]) is not tuple:
        raise DecodeError("missing header")
    h = objs[0]
    raw = objs[1:]
    for v in raw:
        _check_update(v, max_meta)
    head: Ping | PingReq | Ack | Nack | Gossip
    if tag == Tag.PING and len(h) == 1:
        head = Ping(_uint(h[0]))
    elif tag == Tag.PING_REQ and len(h) == 3:
        head = PingReq(_uint(h[0]), _addr(h[1]), _bool(h[2]))
    elif tag == Tag.ACK and len(h) == 1:
        head = Ack(_uint(h[0]))
    elif tag == Tag.NACK and len(h) == 1 and not raw:
        head = Nack(_uint(h[0]))
    elif tag == Tag.GOSSIP and len(h) == 0:
        head = Gossip()
    else:
        raise DecodeError("bad header")
    return head, raw


def decode_push_pull(data: bytes, max_meta: int = 512, max_members: int | None = None) -> PushPull:
    """Decode a push-pull frame (tag included); ``DecodeError`` on garbage, or if it lists more
    than ``max_members`` members (refused from the array header, before decoding them)."""
    if _check_tag(data) != Tag.PUSH_PULL:
        raise DecodeError("not a push-pull frame")
    try:
        return _decode_push_pull(data[1:], max_meta, max_members)
    except DecodeError:
        raise
    except Exception as e:  # msgpack raises many types on garbage; all mean the same to us
        raise DecodeError(f"malformed SWIM message: {e.__class__.__name__}") from None


def _decode_push_pull(body: bytes, max_meta: int, max_members: int | None) -> PushPull:
    limits = {} if max_members is None else {"max_array_len": max(max_members, 4)}
    obj = msgpack.unpackb(
        body, raw=False, strict_map_key=True, max_bin_len=max_meta, use_list=False, **limits
    )
    if type(obj) is not tuple or len(obj) != 3 or type(obj[2]) is not tuple:
        raise DecodeError("bad push-pull")
    entries: tuple[Any, ...] = obj[2]
    if not entries:
        return PushPull(_bool(obj[0]), _bool(obj[1]), ())
    # Column-wise checks at C speed (a full state is thousands of entries, pushed and pulled
    # every period by every member): the same rules as _addr / _uint per field.
    if set(map(type, entries)) != {tuple} or set(map(len, entries)) != {4}:
        raise DecodeError("bad push-pull entry")
    addrs = list(map(_FIRST, entries))
    if set(map(type, addrs)) != {str} or min(map(len, addrs)) == 0:
        raise DecodeError("bad address")
    if max(map(len, addrs)) > _MAX_ADDR:
        raise DecodeError("bad address")
    incs = list(map(_SECOND, entries))
    if set(map(type, incs)) != {int} or min(incs) < 0 or max(incs) >= 1 << 64:
        raise DecodeError("bad unsigned integer")
    states = list(map(_THIRD, entries))
    if set(map(type, states)) != {int} or not set(states) <= {0, 1, 2, 3}:
        raise DecodeError("bad member state")
    metas = list(map(_FOURTH, entries))
    if set(map(type, metas)) != {bytes} or max(map(len, metas)) > max_meta:
        raise DecodeError("bad metadata")
    return PushPull(_bool(obj[0]), _bool(obj[1]), entries)
