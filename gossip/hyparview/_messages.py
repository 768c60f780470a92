"""HyParView wire messages: a one-byte type tag from the ``hyparview`` range, then a msgpack array.

Every message that can change a link carries the sender's restart ``epoch``, so a message sent by
an earlier incarnation of a node (delivered late, e.g. on a connection that outlived a restart) is
recognised and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import msgpack

from gossip._errors import DecodeError
from gossip._events import TAG_RANGES

_LO, _HI = TAG_RANGES["hyparview"]

TAG_JOIN = _LO + 0
TAG_JOIN_ACCEPT = _LO + 1
TAG_FORWARD_JOIN = _LO + 2
TAG_NEIGHBOR = _LO + 3
TAG_NEIGHBOR_REPLY = _LO + 4
TAG_DISCONNECT = _LO + 5
TAG_SHUFFLE = _LO + 6
TAG_SHUFFLE_REPLY = _LO + 7

_MAX_IDS = 1024  # a shuffle never carries more ids than this; more is garbage
_MAX_ADDR = 512  # bytes of one address


@dataclass(frozen=True, slots=True)
class Join:
    """A new node asks a contact to admit it (the contact adds it to its active view)."""

    epoch: int


@dataclass(frozen=True, slots=True)
class JoinAccept:
    """The contact admitted the joiner: the joiner now adds the contact to its active view."""

    epoch: int


@dataclass(frozen=True, slots=True)
class ForwardJoin:
    """Random walk announcing ``node``; it ends with a NEIGHBOR request to ``node``."""

    node: str
    node_epoch: int
    ttl: int


@dataclass(frozen=True, slots=True)
class Neighbor:
    """Ask the receiver to add the sender to its active view.

    ``high`` priority (the sender's active view is empty, or the request ends a FORWARDJOIN walk)
    is always accepted; low priority only if the receiver has a free slot.
    """

    high: bool
    epoch: int
    req: int


@dataclass(frozen=True, slots=True)
class NeighborReply:
    """Answer to :class:`Neighbor` ``req``; on ``accepted`` the requester adds the replier."""

    accepted: bool
    epoch: int
    req: int


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The sender removed the receiver from its active view (``leaving``: it is shutting down)."""

    epoch: int
    leaving: bool


@dataclass(frozen=True, slots=True)
class Shuffle:
    """A random walk from ``origin`` carrying a sample of its views, exchanged at the walk's end."""

    origin: str
    ttl: int
    sid: int
    nodes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ShuffleReply:
    """A sample of the replier's passive view, answering shuffle ``sid``."""

    sid: int
    nodes: tuple[str, ...]


Message: TypeAlias = (
    Join | JoinAccept | ForwardJoin | Neighbor | NeighborReply | Disconnect | Shuffle | ShuffleReply
)


def _pack(tag: int, body: list[Any]) -> bytes:
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return bytes((tag,)) + packed


def encode(msg: Message) -> bytes:
    """The wire form of ``msg``."""
    match msg:
        case Join(epoch):
            return _pack(TAG_JOIN, [epoch])
        case JoinAccept(epoch):
            return _pack(TAG_JOIN_ACCEPT, [epoch])
        case ForwardJoin(node, node_epoch, ttl):
            return _pack(TAG_FORWARD_JOIN, [node, node_epoch, ttl])
        case Neighbor(high, epoch, req):
            return _pack(TAG_NEIGHBOR, [high, epoch, req])
        case NeighborReply(accepted, epoch, req):
            return _pack(TAG_NEIGHBOR_REPLY, [accepted, epoch, req])
        case Disconnect(epoch, leaving):
            return _pack(TAG_DISCONNECT, [epoch, leaving])
        case Shuffle(origin, ttl, sid, nodes):
            return _pack(TAG_SHUFFLE, [origin, ttl, sid, list(nodes)])
        case ShuffleReply(sid, nodes):
            return _pack(TAG_SHUFFLE_REPLY, [sid, list(nodes)])
    raise TypeError(f"not a HyParView message: {msg!r}")  # pragma: no cover


def _int(v: Any, what: str) -> int:
    if type(v) is not int or not (-(2**63) <= v < 2**64):
        raise DecodeError(f"hyparview: {what} must be an int, got {type(v).__name__}")
    return v


def _nat(v: Any, what: str) -> int:
    n = _int(v, what)
    if n < 0:
        raise DecodeError(f"hyparview: {what} must be >= 0, got {n}")
    return n


def _bool(v: Any, what: str) -> bool:
    if type(v) is not bool:
        raise DecodeError(f"hyparview: {what} must be a bool, got {type(v).__name__}")
    return v


def _addr(v: Any, what: str) -> str:
    if type(v) is not str or not v or len(v) > _MAX_ADDR:
        raise DecodeError(f"hyparview: {what} must be a non-empty address string")
    return v


def _addrs(v: Any, what: str) -> tuple[str, ...]:
    if type(v) is not list or len(v) > _MAX_IDS:
        raise DecodeError(f"hyparview: {what} must be a list of at most {_MAX_IDS} addresses")
    return tuple(_addr(a, what) for a in v)


_ARITY = {
    TAG_JOIN: 1,
    TAG_JOIN_ACCEPT: 1,
    TAG_FORWARD_JOIN: 3,
    TAG_NEIGHBOR: 3,
    TAG_NEIGHBOR_REPLY: 3,
    TAG_DISCONNECT: 2,
    TAG_SHUFFLE: 4,
    TAG_SHUFFLE_REPLY: 2,
}


def decode(data: bytes) -> Message:
    """Parse one message; anything malformed raises :class:`~gossip.DecodeError`."""
    if not data:
        raise DecodeError("hyparview: empty message")
    tag = data[0]
    arity = _ARITY.get(tag)
    if arity is None:
        raise DecodeError(f"hyparview: unknown type tag 0x{tag:02x}")
    try:
        body = msgpack.unpackb(data[1:], raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises many types on garbage: all mean "malformed"
        raise DecodeError(f"hyparview: malformed body: {exc}") from None
    if type(body) is not list or len(body) != arity:
        raise DecodeError(f"hyparview: tag 0x{tag:02x} expects a {arity}-element array")
    if tag == TAG_JOIN:
        return Join(_nat(body[0], "epoch"))
    if tag == TAG_JOIN_ACCEPT:
        return JoinAccept(_nat(body[0], "epoch"))
    if tag == TAG_FORWARD_JOIN:
        return ForwardJoin(
            _addr(body[0], "node"), _nat(body[1], "node epoch"), _nat(body[2], "ttl")
        )
    if tag == TAG_NEIGHBOR:
        return Neighbor(_bool(body[0], "priority"), _nat(body[1], "epoch"), _int(body[2], "req"))
    if tag == TAG_NEIGHBOR_REPLY:
        return NeighborReply(
            _bool(body[0], "accepted"), _nat(body[1], "epoch"), _int(body[2], "req")
        )
    if tag == TAG_DISCONNECT:
        return Disconnect(_nat(body[0], "epoch"), _bool(body[1], "leaving"))
    if tag == TAG_SHUFFLE:
        return Shuffle(
            _addr(body[0], "origin"),
            _nat(body[1], "ttl"),
            _int(body[2], "sid"),
            _addrs(body[3], "nodes"),
        )
    return ShuffleReply(_int(body[0], "sid"), _addrs(body[1], "nodes"))
