"""Transport configuration, with presets."""

from __future__ import annotations

from dataclasses import dataclass

from gossip._errors import ConfigError
from gossip.transport._advertise import check_advertise
from gossip.transport._handshake import PROTOCOL_VERSIONS, validate_versions

__all__ = ["TransportConfig"]

_MAX_UDP_PAYLOAD = 65_507  # bytes: IPv4 limit of one datagram


@dataclass(frozen=True, kw_only=True, slots=True)
class TransportConfig:
    """Settings of one node's transport (sizes in bytes, times in seconds)."""

    host: str = "127.0.0.1"  # interface to bind (UDP and TCP share the port); lan()/wan(): all
    port: int = 0  # 0: an ephemeral port (the same one for UDP and TCP)
    # "host:port" peers dial. None: host:bound port, or with a wildcard host the address of the
    # default route's interface (_advertise.py); never a wildcard, never port 0.
    advertise: str | None = None
    max_packet_size: int = 64_000  # bytes of payload per datagram (keep probes under the MTU)
    max_frame_size: int = 8 * 1024 * 1024  # bytes of payload per stream frame
    connect_timeout: float = 5.0  # seconds to connect and complete the handshake
    # Seconds an inbound connection has to complete its handshake (hello, then confirm: one
    # round trip after connecting); a half-open connection holds a slot until then.
    handshake_timeout: float = 2.0
    # Inbound connections allowed to be mid-handshake at once; when full, the oldest half-open one
    # is dropped to make room (a recent connection completes within a round trip, an idle one
    # holding a slot is what a flood looks like).
    max_handshakes: int = 256
    replay_window: float = 60.0  # seconds; also the clock skew tolerated between members
    replay_cache_size: int = 100_000  # nonces remembered by the replay guard
    inbox_size: int = 4096  # received messages buffered until the consumer takes them
    versions: tuple[int, int] = PROTOCOL_VERSIONS  # wire-protocol versions spoken (min, max)
    # Limits against strangers and misbehaving peers (docs/security.md); each is counted in
    # TransportMetrics.dropped when hit.
    max_handshakes_per_source: int = 8  # half-open connections per source IP (IPv6: per /64)
    idle_timeout: float = 60.0  # seconds a link may stay silent (keepalives every third; 0: off)
    max_connections: int = 1024  # established connections, inbound and outbound together
    max_buffered_bytes: int = 64 * 1024 * 1024  # bytes of unfinished frames, all links together

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port out of range: {self.port}")
        if self.advertise is not None:
            check_advertise(self.advertise)
        if not 1 <= self.max_packet_size <= _MAX_UDP_PAYLOAD - 300:
            raise ConfigError(f"max_packet_size must be in 1..{_MAX_UDP_PAYLOAD - 300} bytes")
        if not 1 <= self.max_frame_size <= 2**31:
            raise ConfigError("max_frame_size must be in 1..2**31 bytes")
        for name in ("connect_timeout", "handshake_timeout", "replay_window"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0 seconds")
        if self.replay_cache_size < 1 or self.inbox_size < 1 or self.max_handshakes < 1:
            raise ConfigError("replay_cache_size, inbox_size and max_handshakes must be >= 1")
        validate_versions(self.versions)
        if self.max_handshakes_per_source < 1 or self.max_connections < 1:
            raise ConfigError("max_handshakes_per_source and max_connections must be >= 1")
        if not self.idle_timeout >= 0:
            raise ConfigError("idle_timeout must be >= 0 seconds (0 disables it)")
        if self.max_buffered_bytes < self.max_frame_size + 64:
            raise ConfigError(
                "max_buffered_bytes must hold at least one frame (max_frame_size + 64 bytes)"
            )

    @classmethod
    def lan(cls, **overrides: object) -> TransportConfig:
        """A data-centre network: binds every interface (peers are other hosts) and advertises
        the default route's interface address unless ``advertise`` is given."""
        values: dict[str, object] = {"host": "0.0.0.0"}
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def wan(cls, **overrides: object) -> TransportConfig:
        """Slower links: binds every interface, longer connect and handshake timeouts, MTU-sized
        datagrams. Behind NAT pass ``advertise`` (the address other sites dial)."""
        values: dict[str, object] = {
            "host": "0.0.0.0",
            "connect_timeout": 10.0,
            "handshake_timeout": 10.0,
            "max_packet_size": 1400,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def local(cls, **overrides: object) -> TransportConfig:
        """One machine (tests, demos): loopback, short timeouts."""
        values: dict[str, object] = {
            "host": "127.0.0.1",
            "connect_timeout": 2.0,
            "handshake_timeout": 2.0,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
