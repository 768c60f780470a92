"""Small protocol cores for simulator tests: an echo core (app tags) and a sink (sync tags)."""

from __future__ import annotations

from dataclasses import dataclass

from gossip import (
    CancelTimer,
    CloseStream,
    Effect,
    Emit,
    Event,
    PacketReceived,
    PeerUnreachable,
    SendPacket,
    SendStream,
    SetTimer,
    StreamReceived,
    TimerFired,
    TimerKey,
)
from gossip.sim import NodeContext

PING = 0x70  # packet: answered by PONG with the same body
PONG = 0x71
DATA = 0x72  # stream frame: recorded
SINK = 0x48  # a "sync"-range tag, owned by SinkCore


@dataclass(frozen=True, slots=True)
class Got:
    """What EchoCore / SinkCore emit: ``what`` happened, from ``peer``, with ``body``, at ``at``."""

    what: str
    peer: str
    body: bytes
    at: float


class EchoCore:
    """Answers pings, records pongs and stream frames, arms timers on command."""

    protocol = "app"

    def __init__(self, ctx: NodeContext, *, echo_streams: bool = False) -> None:
        self.addr = ctx.addr
        self.epoch = ctx.epoch
        self.rng = ctx.rng
        self.echo_streams = echo_streams
        self.started_at: float | None = None
        self.handled = 0

    def start(self, now: float) -> list[Effect]:
        self.started_at = now
        return [Emit(Got("started", self.addr, bytes([self.epoch]), now))]

    # commands
    def ping(self, dst: str, body: bytes, now: float) -> list[Effect]:
        return [SendPacket(dst, bytes([PING]) + body)]

    def raw(self, dst: str, data: bytes, now: float) -> list[Effect]:
        return [SendPacket(dst, data)]

    def send(self, dst: str, body: bytes, now: float) -> list[Effect]:
        return [SendStream(dst, bytes([DATA]) + body)]

    def arm(self, key: TimerKey, at: float) -> list[Effect]:
        return [SetTimer(key, at)]

    def cancel(self, key: TimerKey) -> list[Effect]:
        return [CancelTimer(key)]

    def close(self, peer: str) -> list[Effect]:
        return [CloseStream(peer)]

    def handle(self, event: Event, now: float) -> list[Effect]:
        self.handled += 1
        if isinstance(event, PacketReceived):
            tag, body = event.data[0], event.data[1:]
            if tag == PING:
                return [SendPacket(event.src, bytes([PONG]) + body)]
            if tag == PONG:
                return [Emit(Got("pong", event.src, body, now))]
            return [Emit(Got("packet", event.src, event.data, now))]
        if isinstance(event, StreamReceived):
            out: list[Effect] = [Emit(Got("data", event.src, event.data[1:], now))]
            if self.echo_streams and event.data[0] == DATA:
                out.append(SendStream(event.src, bytes([DATA + 1]) + event.data[1:]))
            return out
        if isinstance(event, TimerFired):
            return [Emit(Got("timer", str(event.key), b"", now))]
        if isinstance(event, PeerUnreachable):
            return [Emit(Got("unreachable", event.peer, event.reason.encode(), now))]
        raise AssertionError(event)


class SinkCore:
    """Owns the "sync" tag range; records what arrives, and PeerUnreachable (every core gets it)."""

    protocol = "sync"

    def __init__(self, ctx: NodeContext) -> None:
        self.addr = ctx.addr

    def start(self, now: float) -> list[Effect]:
        return []

    def handle(self, event: Event, now: float) -> list[Effect]:
        if isinstance(event, PacketReceived | StreamReceived):
            return [Emit(Got("sink", event.src, event.data, now))]
        if isinstance(event, PeerUnreachable):
            return [Emit(Got("unreachable", event.peer, b"", now))]
        return []


def echo(ctx: NodeContext) -> list[EchoCore]:
    return [EchoCore(ctx)]


def got(sim: object, addr: str, what: str) -> list[Got]:
    """The Got records of kind ``what`` emitted on ``addr``."""
    from gossip.sim import Simulator

    assert isinstance(sim, Simulator)
    out = []
    for rec in sim.emitted(addr):
        ev = rec.event
        if isinstance(ev, Got) and ev.what == what:
            out.append(ev)
    return out
