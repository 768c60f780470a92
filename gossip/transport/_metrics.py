"""Transport counters: traffic in and out, connections, and everything dropped, by reason."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["DROP_REASONS", "TransportMetrics"]

# Why incoming traffic was dropped (keys of TransportMetrics.dropped).
DROP_REASONS = (
    "auth",  # no installed key opens it: wrong key, other cluster, tampered, plaintext mismatch
    "malformed",  # truncated or undecodable (bad magic, bad handshake, short datagram)
    "oversize",  # a frame or datagram over the size cap
    "replay",  # a packet or handshake seen before
    "stale",  # stamped outside the replay window (or older than the cache can vouch for)
    "version",  # no common wire-protocol version
    "epoch",  # a handshake from an older restart epoch than one already seen for that address
    "handshake",  # the handshake timed out or broke, or too many were in progress
    "backpressure",  # datagrams that arrived while the consumer's inbox was full
    "misdirected",  # a hello sealed for another node's address (replayed from elsewhere?)
    "connections",  # a handshake refused because max_connections links were established
    "buffer",  # a link closed: all links together buffered max_buffered_bytes, it the most
    "idle",  # a link closed after idle_timeout seconds without receiving anything
    "kernel",  # datagrams the kernel dropped, receive buffer full (Linux; read, not counted)
    "offline",  # connections closed as accepted, before a handshake: not accepting (offline)
)


@dataclass(slots=True)
class TransportMetrics:
    """Monotonic counters of one transport. Byte counts are wire bytes (after sealing)."""

    bytes_in: int = 0
    bytes_out: int = 0
    packets_in: int = 0  # accepted datagrams
    packets_out: int = 0
    packets_out_failed: int = 0  # datagrams the OS refused (send buffer full, ICMP error)
    frames_in: int = 0  # accepted stream frames
    frames_out: int = 0
    connections_opened: int = 0  # outbound, handshake completed
    connections_accepted: int = 0  # inbound, handshake completed
    connections_closed: int = 0  # established connections that ended, for any reason
    connect_failures: int = 0  # outbound connects or handshakes that failed
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    def snapshot(self) -> dict[str, object]:
        """A plain dict copy, for logging or exporting."""
        return {
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "packets_in": self.packets_in,
            "packets_out": self.packets_out,
            "packets_out_failed": self.packets_out_failed,
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "connections_opened": self.connections_opened,
            "connections_accepted": self.connections_accepted,
            "connections_closed": self.connections_closed,
            "connect_failures": self.connect_failures,
            "dropped": dict(self.dropped),
        }
