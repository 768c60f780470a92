"""Counters of the sync engine: traffic per neighbour split into payload and metadata, and the
engine-wide gauges (buffer size, objects pending) computed on demand."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["PeerMetrics", "SyncMetrics"]


@dataclass(slots=True)
class PeerMetrics:
    """Traffic with one peer. *Payload* is encoded CRDT state; everything else is *metadata*."""

    sent_msgs: int = 0
    sent_payload_bytes: int = 0
    sent_meta_bytes: int = 0
    sent_objects: int = 0
    sent_elements: int = 0  # CRDT elements (join-irreducibles), when an element counter is set
    recv_msgs: int = 0
    recv_payload_bytes: int = 0
    recv_meta_bytes: int = 0
    recv_objects: int = 0
    peer_errors: int = 0

    @property
    def sent_bytes(self) -> int:
        return self.sent_payload_bytes + self.sent_meta_bytes

    @property
    def recv_bytes(self) -> int:
        return self.recv_payload_bytes + self.recv_meta_bytes

    def add(self, other: PeerMetrics) -> None:
        for name in PeerMetrics.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        d = asdict(self)
        d["sent_bytes"] = self.sent_bytes
        d["recv_bytes"] = self.recv_bytes
        return d


@dataclass(slots=True)
class SyncMetrics:
    """Engine-wide counters. ``peers`` keeps every peer ever talked to (traffic is history)."""

    peers: dict[str, PeerMetrics] = field(default_factory=dict)
    peer_errors: dict[str, int] = field(default_factory=dict)  # error class name -> count
    callback_errors: int = 0
    rounds: int = 0
    catchups_started: int = 0
    catchups_completed: int = 0
    catchup_objects_shipped: int = 0
    duplicates_skipped: int = 0  # received objects byte-identical to one already joined

    def peer(self, addr: str) -> PeerMetrics:
        m = self.peers.get(addr)
        if m is None:
            m = self.peers[addr] = PeerMetrics()
        return m

    def total(self) -> PeerMetrics:
        t = PeerMetrics()
        for m in self.peers.values():
            t.add(m)
        return t

    def count_error(self, addr: str, exc: Exception) -> None:
        name = type(exc).__name__
        self.peer_errors[name] = self.peer_errors.get(name, 0) + 1
        self.peer(addr).peer_errors += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total().as_dict(),
            "peers": {a: m.as_dict() for a, m in self.peers.items()},
            "peer_errors": dict(self.peer_errors),
            "callback_errors": self.callback_errors,
            "rounds": self.rounds,
            "catchups_started": self.catchups_started,
            "catchups_completed": self.catchups_completed,
            "catchup_objects_shipped": self.catchup_objects_shipped,
            "duplicates_skipped": self.duplicates_skipped,
        }
