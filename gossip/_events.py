"""The sans-I/O event model shared by every protocol core and every driver.

A protocol core (SWIM, HyParView, Plumtree, the sync engine) is a plain state machine::

    effects = core.handle(event, now)

``event`` is one of the *inputs* below, ``now`` the driver's monotonic clock in seconds (virtual
time in the simulator), and the result a list of *effects* for the driver to carry out. User
commands are ordinary methods on the core that also take ``now`` and return effects
(``swim.join(seeds, now)``). A core never touches sockets, clocks, timers, logging or the global
RNG, so the real anyio drivers and the deterministic simulator drive the very same code.

Addresses are opaque strings to a core (``"127.0.0.1:7946"`` on real transports, ``"n17"`` in the
simulator); only drivers interpret them.

Payloads are ``bytes`` whose first byte is a message type tag. Tag ranges are owned per protocol
(:data:`TAG_RANGES`), so one transport serves every core of a node and the node's driver routes
an incoming payload by its first byte. Encryption (the cluster key) and framing are the
transport's business, below this model: a core sees only authenticated plaintext.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Protocol, TypeAlias

Addr: TypeAlias = str
"""An opaque peer address: ``"host:port"`` on real transports, a node name in the simulator."""

TimerKey: TypeAlias = Hashable
"""Names a timer within one core; setting a key that is already set replaces its deadline."""

# Message type tag ranges (first payload byte), half-open [lo, hi). A protocol encodes its own
# messages with tags from its range; drivers route by range.
TAG_RANGES: dict[str, tuple[int, int]] = {
    "swim": (0x01, 0x20),
    "hyparview": (0x20, 0x38),
    "plumtree": (0x38, 0x48),
    "sync": (0x48, 0x70),
    "app": (0x70, 0x100),
}


def protocol_of(payload: bytes) -> str | None:
    """The protocol that owns ``payload``'s type tag, or ``None`` (empty or unassigned tag)."""
    if not payload:
        return None
    tag = payload[0]
    for name, (lo, hi) in TAG_RANGES.items():
        if lo <= tag < hi:
            return name
    return None


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PacketReceived:
    """A best-effort datagram arrived (UDP; may be lost, duplicated or reordered)."""

    src: Addr
    data: bytes


@dataclass(frozen=True, slots=True)
class StreamReceived:
    """One frame arrived on the reliable, ordered link from ``src`` (TCP)."""

    src: Addr
    data: bytes


@dataclass(frozen=True, slots=True)
class TimerFired:
    """A timer set with :class:`SetTimer` reached its deadline (and was not cancelled or reset)."""

    key: TimerKey


@dataclass(frozen=True, slots=True)
class PeerUnreachable:
    """The reliable link to ``peer`` failed: a connect or send failed, or the connection dropped.

    Frames sent to ``peer`` since the last successful delivery may have been lost.
    """

    peer: Addr
    reason: str = ""


Event: TypeAlias = PacketReceived | StreamReceived | TimerFired | PeerUnreachable


# ---------------------------------------------------------------------------------------------
# Effects
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendPacket:
    """Send a best-effort datagram. The driver drops it silently if it cannot be sent."""

    dst: Addr
    data: bytes


@dataclass(frozen=True, slots=True)
class SendStream:
    """Send one frame on the reliable, ordered link to ``dst``, connecting first if needed.

    If the link cannot be established or breaks, the driver feeds back :class:`PeerUnreachable`.
    """

    dst: Addr
    data: bytes


@dataclass(frozen=True, slots=True)
class CloseStream:
    """Close the reliable link to ``peer``, after flushing frames already sent. No event follows."""

    peer: Addr


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Arm (or re-arm) the timer ``key`` to fire at absolute time ``at`` (seconds, driver clock)."""

    key: TimerKey
    at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    """Disarm the timer ``key``; a no-op if it is not armed."""

    key: TimerKey


@dataclass(frozen=True, slots=True)
class Emit:
    """Hand a protocol-level notification (a membership change, a delivered broadcast, ...) to the
    application. ``event`` is a core-specific frozen dataclass."""

    event: object


Effect: TypeAlias = SendPacket | SendStream | CloseStream | SetTimer | CancelTimer | Emit


class ProtocolCore(Protocol):
    """What a driver needs of a core. ``start`` is called once, before any event.

    ``protocol`` names the core's entry in :data:`TAG_RANGES`: a driver hands the core every payload
    whose first byte falls in that range, every :class:`TimerFired` for a timer the core set, and
    every :class:`PeerUnreachable`. Timer keys are private to a core (drivers namespace them).
    """

    protocol: str

    def start(self, now: float) -> list[Effect]: ...

    def handle(self, event: Event, now: float) -> list[Effect]: ...
