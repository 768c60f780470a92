"""Counters of the sync engine: traffic per neighbour split into payload and metadata, and the
engine-wide gauges (buffer size, objects pending) computed on demand."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["OTHERS", "PeerMetrics", "SyncMetrics"]

OTHERS = "(others)"
"""The metrics key shared by senders beyond ``SyncConfig.max_peer_metrics``."""


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
    # caps (SyncConfig): per-sender state a peer's claims could otherwise grow without bound
    max_peers: int = 4096  # senders with their own PeerMetrics; the rest share OTHERS
    early_hellos_dropped: int = 0  # Hellos from non-neighbours beyond max_early_hellos
    peers_folded: int = 0  # messages from senders beyond max_peers, counted under OTHERS
    duplicates_skipped: int = 0  # received objects byte-identical to one already joined
    # relay_hold: relays of received deltas held for a neighbour of their source; those sent
    # at once when the source or its link to the neighbour went away; those sent after the
    # hold (the neighbour had not reported holding it)
    relays_held: int = 0
    relays_released: int = 0
    relays_late: int = 0
    relays_dropped: int = 0

    def peer(self, addr: str, *, own: bool = False) -> PeerMetrics:
        """The counters of ``addr``; a sender beyond ``max_peers`` shares :data:`OTHERS`'
        (``own``: a neighbour always gets its own)."""
        m = self.peers.get(addr)
        if m is None:
            if len(self.peers) >= self.max_peers and not own:
                self.peers_folded += 1
                m = self.peers.get(OTHERS)
                if m is None:
                    m = self.peers[OTHERS] = PeerMetrics()
                return m
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
            "early_hellos_dropped": self.early_hellos_dropped,
            "peers_folded": self.peers_folded,
            "duplicates_skipped": self.duplicates_skipped,
            "relays_held": self.relays_held,
            "relays_released": self.relays_released,
            "relays_late": self.relays_late,
            "relays_dropped": self.relays_dropped,
        }
