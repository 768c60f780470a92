"""Host configuration and counters (sans-I/O)."""

from __future__ import annotations

from dataclasses import dataclass

from gossip._errors import ConfigError

__all__ = ["HostConfig", "HostMetrics"]


@dataclass(frozen=True, kw_only=True, slots=True)
class HostConfig:
    """Settings of a :class:`~gossip.runtime.Host`."""

    # Emitted events held for ``events()``; when full, new ones are dropped, counted and logged.
    # Filled only while someone may read them: from the start without an ``on_event`` callback,
    # else from the first call to ``events()``.
    event_buffer: int = 1024
    send_queue_limit: int = 10_000  # frames queued per peer; beyond it the link is declared failed
    drain_timeout: float = 1.0  # seconds a normal exit waits for queued frames to be written
    # Reconnect backoff per peer (_backoff.py): after a failed connect or send, frames to that
    # peer wait before the next attempt: reconnect_backoff seconds, doubling per further failure
    # up to reconnect_backoff_max, each wait scaled by U(1 - jitter, 1 + jitter).
    reconnect_backoff: float = 0.2  # s
    reconnect_backoff_max: float = 5.0  # s
    reconnect_jitter: float = 0.2  # relative, in [0, 1)

    def __post_init__(self) -> None:
        if self.event_buffer < 0:
            raise ConfigError("event_buffer must be >= 0")
        if not 0 <= self.reconnect_backoff <= self.reconnect_backoff_max:
            raise ConfigError("need 0 <= reconnect_backoff <= reconnect_backoff_max (seconds)")
        if not 0 <= self.reconnect_jitter < 1:
            raise ConfigError("reconnect_jitter must be in [0, 1)")
        if self.send_queue_limit < 1:
            raise ConfigError("send_queue_limit must be >= 1")
        if self.drain_timeout < 0:
            raise ConfigError("drain_timeout must be >= 0 seconds")


@dataclass(slots=True)
class HostMetrics:
    """Monotonic counters of one host."""

    core_errors: int = 0  # exceptions raised by a core while handling input (logged, survived)
    unrouted: int = 0  # payloads whose tag no hosted core owns (dropped)
    timers_fired: int = 0
    alarms: int = 0  # wake-ups for timers (several due timers share one)
    events_emitted: int = 0
    events_dropped: int = 0  # emitted while the events() buffer was full (each burst logged)
    unreachable: int = 0  # PeerUnreachable events fed to the cores
    send_failures: int = 0  # frames that could not be delivered (connect or send failed)
    oversize_sends: int = 0  # packets or frames a core tried to send over the transport's cap
    queue_overflows: int = 0  # peers whose send queue overflowed (link declared failed)
    backoff_waits: int = 0  # times frames to a peer waited for its reconnect backoff
