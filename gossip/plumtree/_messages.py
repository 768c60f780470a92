"""Plumtree wire messages: a one-byte type tag from the ``plumtree`` range, then a msgpack array."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import msgpack

from gossip._errors import DecodeError
from gossip._events import TAG_RANGES

_LO, _HI = TAG_RANGES["plumtree"]

TAG_GOSSIP = _LO + 0
TAG_IHAVE = _LO + 1
TAG_GRAFT = _LO + 2
TAG_PRUNE = _LO + 3

_MAX_IHAVE = 4096  # ids in one IHAVE frame; more is garbage
_MAX_ID = 2**64


@dataclass(frozen=True, slots=True)
class Gossip:
    """Eager push of a payload: message ``mid`` at ``round`` hops from its origin."""

    mid: int
    round: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class IHave:
    """Lazy push: the sender has these ``(mid, round)`` messages."""

    entries: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Graft:
    """Repair the tree: make the link eager again and send message ``mid`` (if not 0)."""

    mid: int
    round: int


@dataclass(frozen=True, slots=True)
class Prune:
    """The link is redundant: the receiver moves the sender to its lazy set."""


Message: TypeAlias = Gossip | IHave | Graft | Prune


def _pack(tag: int, body: list[Any]) -> bytes:
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return bytes((tag,)) + packed


def encode(msg: Message) -> bytes:
    """The wire form of ``msg``."""
    match msg:
        case Gossip(mid, rnd, payload):
            return _pack(TAG_GOSSIP, [mid, rnd, payload])
        case IHave(entries):
            return _pack(TAG_IHAVE, [x for e in entries for x in e])
        case Graft(mid, rnd):
            return _pack(TAG_GRAFT, [mid, rnd])
        case Prune():
            return bytes((TAG_PRUNE,))
    raise TypeError(f"not a Plumtree message: {msg!r}")  # pragma: no cover


def _nat(v: Any, what: str, hi: int = _MAX_ID) -> int:
    if type(v) is not int or not (0 <= v < hi):
        raise DecodeError(f"plumtree: {what} must be an int in [0, {hi})")
    return v


def decode(data: bytes) -> Message:
    """Parse one message; anything malformed raises :class:`~gossip.DecodeError`."""
    if not data:
        raise DecodeError("plumtree: empty message")
    tag = data[0]
    if tag == TAG_PRUNE:
        if len(data) != 1:
            raise DecodeError("plumtree: PRUNE has no body")
        return Prune()
    if tag not in (TAG_GOSSIP, TAG_IHAVE, TAG_GRAFT):
        raise DecodeError(f"plumtree: unknown type tag 0x{tag:02x}")
    try:
        body = msgpack.unpackb(data[1:], raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises many types on garbage: all mean "malformed"
        raise DecodeError(f"plumtree: malformed body: {exc}") from None
    if type(body) is not list:
        raise DecodeError("plumtree: body must be an array")
    if tag == TAG_GOSSIP:
        if len(body) != 3 or type(body[2]) is not bytes:
            raise DecodeError("plumtree: GOSSIP is [mid, round, payload bytes]")
        return Gossip(_nat(body[0], "mid"), _nat(body[1], "round", 2**31), body[2])
    if tag == TAG_GRAFT:
        if len(body) != 2:
            raise DecodeError("plumtree: GRAFT is [mid, round]")
        return Graft(_nat(body[0], "mid"), _nat(body[1], "round", 2**31))
    if len(body) % 2 or len(body) > 2 * _MAX_IHAVE:
        raise DecodeError("plumtree: IHAVE is a flat list of (mid, round) pairs")
    return IHave(
        tuple(
            (_nat(body[i], "mid"), _nat(body[i + 1], "round", 2**31))
            for i in range(0, len(body), 2)
        )
    )
