"""Wire messages of the sync protocol: one type-tag byte (from ``TAG_RANGES["sync"]``) + msgpack.

Objects travel as ``(key, crdt_bytes)`` pairs, ``crdt_bytes`` being the CRDT codec's own encoding
(``crdts.encode``), so this module never interprets them: the engine decodes them one by one and a
bad object is rejected on its own. Everything else in a message is *metadata* (sequence numbers,
epochs, digests); the engine counts the two separately.

Decoding validates every field's shape and raises :class:`~sync.DecodeError` on anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

import msgpack

from sync._errors import DecodeError

__all__ = [
    "PROTOCOL_VERSION",
    "Ack",
    "CatchupDone",
    "Delta",
    "Digest",
    "DigestReply",
    "Have",
    "Hello",
    "Message",
    "ObjectEntry",
    "Objects",
    "ObjectsAck",
    "decode_message",
    "encode_message",
    "payload_size",
]

PROTOCOL_VERSION = 2  # 2: Hello's recovering flag, packed digests and one-bit replies

ObjectEntry: TypeAlias = tuple[str, bytes]

T_DELTA = 0x48
T_ACK = 0x49
T_HELLO = 0x4A
T_DIGEST = 0x4B
T_DIGEST_REPLY = 0x4C
T_OBJECTS = 0x4D
T_OBJECTS_ACK = 0x4E
T_CATCHUP_DONE = 0x4F
T_HAVE = 0x50

MAX_HAVE = 4096  # entries of one Have (a neighbour lists its own neighbours: a handful)

_U64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Delta:
    """A delta-interval ``[lo, hi)`` of the sender's buffer (epoch ``epoch``), joined per object.

    In state-based mode ``lo == hi == 0`` and ``objects`` is (a chunk of) the whole state."""

    epoch: int
    lo: int
    hi: int
    objects: list[ObjectEntry]


@dataclass(frozen=True, slots=True)
class Ack:
    """The receiver has joined the interval ``[lo, hi)`` of the sender's epoch ``epoch``."""

    epoch: int
    lo: int
    hi: int


@dataclass(frozen=True, slots=True)
class Hello:
    """Sent to a new neighbour: who I am (``epoch``), and what I hold of *your* stream: every entry
    below ``watermark`` of your epoch ``known_epoch`` (``None``: nothing I can vouch for)."""

    version: int
    epoch: int
    known_epoch: int | None
    watermark: int
    reply: bool  # an answer to your Hello (else: please answer with yours)
    # My engine was rebuilt over a kept state and has not been caught up since: my objects are
    # likely stale, so where both of us need a digest catch-up, yours of me goes first.
    recovering: bool = False


@dataclass(frozen=True, slots=True)
class Digest:
    """Merkle catch-up probe: my hashes of some subtrees, and the item hashes of small subtrees.

    Hashes travel packed, 8 bytes each, big-endian. ``groups`` are sibling subtrees: the
    children ``(parent << FANOUT_BITS) | i`` at ``level``, for each bit ``i`` of ``mask``, in bit
    order; a bit also set in ``single`` marks a subtree of one object, whose hash is that object's
    item hash. ``items`` lists the item hashes of a small subtree.
    """

    session: int
    req: int
    groups: list[tuple[int, int, int, int, bytes]]  # (level, parent, mask, single, hashes)
    items: list[tuple[int, int, bytes]]  # (level, prefix, item hashes)

    def entries(self) -> int:
        """How many hashes the probe carries (the bits of its reply)."""
        return sum(len(g[4]) for g in self.groups) // 8 + sum(len(i[2]) for i in self.items) // 8


@dataclass(frozen=True, slots=True)
class DigestReply:
    """One bit per hash of the probe, in its order (groups' children, then items), LSB first:
    set for a subtree that differs from mine, or an object (item hash) I do not hold."""

    session: int
    req: int
    bits: bytes


@dataclass(frozen=True, slots=True)
class Objects:
    """Catch-up step: whole objects ``[lo, hi)`` of the session's ship list."""

    session: int
    lo: int
    hi: int
    objects: list[ObjectEntry]


@dataclass(frozen=True, slots=True)
class ObjectsAck:
    session: int
    lo: int
    hi: int


@dataclass(frozen=True, slots=True)
class CatchupDone:
    """The catch-up is complete: the receiver now holds every entry below ``covered`` of the
    sender's epoch ``epoch`` (the sender's sequence number when the catch-up began)."""

    session: int
    epoch: int
    covered: int


@dataclass(frozen=True, slots=True)
class Have:
    """Sent each round (when it changed) with ``relay_hold`` on: the sender's current neighbours,
    and for each the watermark of its stream the sender holds, ``(address, epoch, mark)`` (mark
    0: nothing yet). A neighbour uses it to relay a delta only to those that lack it.

    ``epoch``/``acked``: the sender's epoch and ``A(you)``, how far its stream counts as
    delivered to you, including the ranges it never sent you because you hold them (BP, the
    known filter) or get them from their source (relay_hold): your watermark of its stream
    moves past them (once a catch-up has set it), else it would stall at the first."""

    marks: list[tuple[str, int, int]]
    epoch: int = 0
    acked: int = 0


Message: TypeAlias = (
    Delta | Ack | Hello | Digest | DigestReply | Objects | ObjectsAck | CatchupDone | Have
)


def _pack(tag: int, body: list[Any]) -> bytes:
    packed: bytes = msgpack.packb(body, use_bin_type=True)
    return bytes((tag,)) + packed


def encode_message(msg: Message) -> bytes:
    """The bytes of ``msg``: its tag, then a msgpack array of its fields."""
    if isinstance(msg, Delta):
        # msgpack packs a tuple as an array: the (key, bytes) entries go as they are
        return _pack(T_DELTA, [msg.epoch, msg.lo, msg.hi, msg.objects])
    if isinstance(msg, Ack):
        return _pack(T_ACK, [msg.epoch, msg.lo, msg.hi])
    if isinstance(msg, Hello):
        return _pack(
            T_HELLO,
            [msg.version, msg.epoch, msg.known_epoch, msg.watermark, msg.reply, msg.recovering],
        )
    if isinstance(msg, Digest):
        return _pack(
            T_DIGEST,
            [msg.session, msg.req, [list(g) for g in msg.groups], [list(i) for i in msg.items]],
        )
    if isinstance(msg, DigestReply):
        return _pack(T_DIGEST_REPLY, [msg.session, msg.req, msg.bits])
    if isinstance(msg, Objects):
        return _pack(T_OBJECTS, [msg.session, msg.lo, msg.hi, msg.objects])
    if isinstance(msg, ObjectsAck):
        return _pack(T_OBJECTS_ACK, [msg.session, msg.lo, msg.hi])
    if isinstance(msg, Have):
        return _pack(T_HAVE, [[list(m) for m in msg.marks], msg.epoch, msg.acked])
    return _pack(T_CATCHUP_DONE, [msg.session, msg.epoch, msg.covered])


# -- decoding: strict shape checks ---------------------------------------------------------------


def _u64(v: Any) -> int:
    if type(v) is not int or not 0 <= v <= _U64:
        raise DecodeError(f"expected an unsigned 64-bit integer, got {type(v).__name__}")
    return v


def _list(v: Any, n: int | None = None) -> list[Any]:
    if type(v) is not list or (n is not None and len(v) != n):
        raise DecodeError(f"expected an array{'' if n is None else f' of {n}'}")
    return v


def _objects(v: Any) -> list[ObjectEntry]:
    out: list[ObjectEntry] = []
    append = out.append
    for o in _list(v):  # every object of every message: the checks inlined
        if type(o) is not list or len(o) != 2:
            raise DecodeError("expected an array of 2")
        key, data = o
        if type(key) is not str or type(data) is not bytes:
            raise DecodeError("an object entry must be [str key, bytes]")
        append((key, data))
    return out


def _range(lo: Any, hi: Any) -> tuple[int, int]:
    lo, hi = _u64(lo), _u64(hi)
    if lo > hi:
        raise DecodeError(f"empty-or-inverted range [{lo}, {hi})")
    return lo, hi


def decode_message(data: bytes) -> Message:
    """Parse one message; raises :class:`DecodeError` on anything malformed."""
    if not data:
        raise DecodeError("empty message")
    tag = data[0]
    try:
        body = msgpack.unpackb(data[1:], raw=False, strict_map_key=True, use_list=True)
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise DecodeError(f"malformed msgpack body: {exc}") from None
    try:
        return _decode_body(tag, body)
    except DecodeError:
        raise
    except (TypeError, ValueError) as exc:  # unpacking a wrong-length array, etc.
        raise DecodeError(f"malformed message (tag {tag:#x}): {exc}") from None
    except RecursionError:  # a guard: no check here recurses, but a peer must never crash us
        raise DecodeError(f"malformed message (tag {tag:#x}): nested too deep") from None


def _decode_body(tag: int, body: Any) -> Message:
    if tag == T_DELTA:
        epoch, lo, hi, objs = _list(body, 4)
        lo, hi = _range(lo, hi)
        return Delta(_u64(epoch), lo, hi, _objects(objs))
    if tag == T_ACK:
        epoch, lo, hi = _list(body, 3)
        lo, hi = _range(lo, hi)
        return Ack(_u64(epoch), lo, hi)
    if tag == T_HELLO:
        if type(body) is list and body and body[0] != PROTOCOL_VERSION:
            # never format a peer's value with repr: a deeply nested one overflows the stack
            v = body[0]
            shown = v if type(v) is int else type(v).__name__
            raise DecodeError(f"unsupported sync protocol version {shown}")
        version, epoch, known, wm, reply, recovering = _list(body, 6)
        if type(reply) is not bool or type(recovering) is not bool:
            raise DecodeError("reply and recovering must be bools")
        if _u64(version) != PROTOCOL_VERSION:
            raise DecodeError(f"unsupported sync protocol version {version}")
        return Hello(
            version,
            _u64(epoch),
            None if known is None else _u64(known),
            _u64(wm),
            reply,
            recovering,
        )
    if tag == T_DIGEST:
        session, req, groups, items = _list(body, 4)
        gs: list[tuple[int, int, int, int, bytes]] = []
        for g in _list(groups):
            level, parent, mask, single, hs = _list(g, 5)
            level, parent, mask, single = _u64(level), _u64(parent), _u64(mask), _u64(single)
            if type(hs) is not bytes or mask >= 1 << 64 or single & ~mask:
                raise DecodeError("a digest group is [level, parent, mask, single, bytes]")
            if len(hs) != 8 * mask.bit_count():
                raise DecodeError("a digest group needs 8 bytes per bit of its mask")
            gs.append((level, parent, mask, single, hs))
        its: list[tuple[int, int, bytes]] = []
        for it in _list(items):
            level, prefix, hs = _list(it, 3)
            if type(hs) is not bytes or len(hs) % 8:
                raise DecodeError("item hashes are 8 bytes each")
            its.append((_u64(level), _u64(prefix), hs))
        return Digest(_u64(session), _u64(req), gs, its)
    if tag == T_DIGEST_REPLY:
        session, req, bits = _list(body, 3)
        if type(bits) is not bytes:
            raise DecodeError("digest reply bits must be bytes")
        return DigestReply(_u64(session), _u64(req), bits)
    if tag == T_OBJECTS:
        session, lo, hi, objs = _list(body, 4)
        lo, hi = _range(lo, hi)
        return Objects(_u64(session), lo, hi, _objects(objs))
    if tag == T_OBJECTS_ACK:
        session, lo, hi = _list(body, 3)
        lo, hi = _range(lo, hi)
        return ObjectsAck(_u64(session), lo, hi)
    if tag == T_CATCHUP_DONE:
        session, epoch, covered = _list(body, 3)
        return CatchupDone(_u64(session), _u64(epoch), _u64(covered))
    if tag == T_HAVE:
        entries, epoch, acked = _list(body, 3)
        entries = _list(entries)
        if len(entries) > MAX_HAVE:
            raise DecodeError(f"a Have lists at most {MAX_HAVE} neighbours")
        marks: list[tuple[str, int, int]] = []
        for m in entries:
            addr, e, mark = _list(m, 3)
            if type(addr) is not str:
                raise DecodeError("a Have entry is [str address, epoch, mark]")
            marks.append((addr, _u64(e), _u64(mark)))
        return Have(marks, _u64(epoch), _u64(acked))
    raise DecodeError(f"unknown sync message tag {tag:#x}")


def payload_size(msg: Message) -> int:
    """Bytes of CRDT payload carried by ``msg`` (the rest of its encoding is metadata)."""
    if isinstance(msg, Delta | Objects):
        return sum(len(d) for _, d in msg.objects)
    return 0
