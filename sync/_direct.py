"""The Node's direct protocol (the ``app`` tag range): replica writes for consistency levels and
status requests (sans-I/O).

Theory of operation
-------------------
Delta sync is epidemic: a write reaches the active-view neighbours, and everyone else through
them. Their acks say "this *neighbour* holds it", nothing about members beyond the active view.
So, like Akka Distributed Data's ``WriteTo``/``WriteMajority``/``WriteAll``, a write that asks
for ``n`` replicas is also sent *directly* to ``n - 1`` members (``WRITE``: the objects' deltas,
or whole states for a flush); each joins it (idempotent: a lattice join) into its own store,
commits it to its disk, and only then answers ``WRITE_ACK``. An ack therefore means exactly
"that member holds the write durably". ``STATUS`` asks a node for a status snapshot (the CLI's
``deltamesh status HOST:PORT``, over the encrypted transport: only key holders can ask).

The core only encodes, decodes and emits; the Node applies writes, waits for its commit, acks,
and keeps the waiting writers (:class:`~sync._replication.Replication`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from gossip._events import (
    Effect,
    Emit,
    Event,
    SendStream,
    StreamReceived,
)

__all__ = [
    "DirectCore",
    "StatusReplied",
    "StatusRequested",
    "WriteAcked",
    "WriteRequested",
]

_WRITE, _WRITE_ACK, _STATUS, _STATUS_REPLY = 0x70, 0x71, 0x72, 0x73


@dataclass(frozen=True, slots=True)
class WriteRequested:
    src: str
    req: int
    objects: list[tuple[str, bytes]]  # (name, crdts-encoded delta or state)


@dataclass(frozen=True, slots=True)
class WriteAcked:
    src: str
    req: int


@dataclass(frozen=True, slots=True)
class StatusRequested:
    src: str
    req: int


@dataclass(frozen=True, slots=True)
class StatusReplied:
    src: str
    req: int
    status: dict[str, Any]


class DirectCore:
    """Encodes and decodes the direct messages; malformed ones are counted and dropped."""

    protocol = "app"

    def __init__(self) -> None:
        self.malformed = 0

    def start(self, now: float) -> list[Effect]:
        return []

    # -- commands ----------------------------------------------------------------------------

    def write(self, dst: str, req: int, objects: list[tuple[str, bytes]]) -> list[Effect]:
        return [SendStream(dst, _pack(_WRITE, req, [list(o) for o in objects]))]

    def ack(self, dst: str, req: int) -> list[Effect]:
        return [SendStream(dst, _pack(_WRITE_ACK, req, None))]

    def status(self, dst: str, req: int) -> list[Effect]:
        return [SendStream(dst, _pack(_STATUS, req, None))]

    def reply_status(self, dst: str, req: int, status: dict[str, Any]) -> list[Effect]:
        return [SendStream(dst, _pack(_STATUS_REPLY, req, status))]

    # -- input -------------------------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Effect]:
        if not isinstance(event, StreamReceived):
            return []  # packets are not used; a broken link is the Node's retry business
        data = event.data
        try:
            tag = data[0]
            req, body = msgpack.unpackb(data[1:], raw=False, strict_map_key=False)
            if type(req) is not int:
                raise ValueError("request id")
            if tag == _WRITE:
                objects = [(k, bytes(v)) for k, v in body]
                if not all(type(k) is str for k, _ in objects):
                    raise ValueError("object names are str")
                return [Emit(WriteRequested(event.src, req, objects))]
            if tag == _WRITE_ACK:
                return [Emit(WriteAcked(event.src, req))]
            if tag == _STATUS:
                return [Emit(StatusRequested(event.src, req))]
            if tag == _STATUS_REPLY and isinstance(body, dict):
                return [Emit(StatusReplied(event.src, req, body))]
            raise ValueError(f"unknown tag {tag:#x}")
        except Exception:  # peer input: anything malformed is counted and dropped
            self.malformed += 1
            return []


def _pack(tag: int, req: int, body: Any) -> bytes:
    packed: bytes = msgpack.packb([req, body], use_bin_type=True)
    return bytes((tag,)) + packed
