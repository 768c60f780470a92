"""The Node's gate in front of its transport: an on/off switch and the durability boundary.

- Offline (``go_offline``): no packet or frame goes in or out. Datagrams and frames sent are
  dropped (counted; a frame is not failed, as a cut cable fails nothing at once: failing it would
  have the cores retry at once), open connections are closed, new inbound connections are closed
  before their handshake (the transport's ``set_accepting``), and whatever still arrives is
  dropped before any core sees it.
- Online, a frame that carries this replica's state (a sync ``Delta`` or ``Objects`` message)
  first waits for ``before_send`` (the Node's pending commit): nothing a peer could keep leaves
  the node before the commit that holds it. Every other frame (membership, acks, digests) goes
  at once, so a slow disk does not make links look dead. In a batch of frames to one peer,
  those queued before the first state frame, and the membership frames and sync receipts
  (``Ack``, ``Have``, ``ObjectsAck``) queued after it, go before the wait: a receipt held
  behind a commit cycle (or several, as the queue grows under load) delayed the sender's
  buffer collection and resends and the neighbours' relay decisions. The other sync frames
  keep their order behind the state frames (a ``CatchupDone`` must not overtake the ``Objects``
  it vouches for).

Over a transport offering :class:`~gossip.transport.DirectPackets` (the host's fast datagram
path; ``NetTransport`` does) the gate offers and forwards it too (:func:`link_gate`), and so
:class:`~gossip.transport.DirectFrames` (frames handed to the host by the task that read them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Self

from gossip._events import TAG_RANGES, Addr, PacketReceived
from gossip.transport import (
    DirectFrames,
    DirectPackets,
    Incoming,
    StreamIncoming,
    Transport,
    TransportWrapper,
)
from sync._messages import T_ACK, T_DELTA, T_HAVE, T_OBJECTS, T_OBJECTS_ACK

__all__ = ["DirectFramesLinkGate", "DirectLinkGate", "LinkGate", "link_gate"]

_GATED = frozenset({T_DELTA, T_OBJECTS})  # first bytes of the frames that carry state
_SYNC_LO, _SYNC_HI = TAG_RANGES["sync"]
_RECEIPTS = frozenset({T_ACK, T_HAVE, T_OBJECTS_ACK})  # sync frames about what we received


def _may_overtake(frame: bytes) -> bool:
    """Whether ``frame`` may go ahead of state frames queued before it (see the docstring)."""
    return not frame or not _SYNC_LO <= frame[0] < _SYNC_HI or frame[0] in _RECEIPTS


def link_gate(
    inner: Transport, *, before_send: Callable[[], Awaitable[None]] | None = None
) -> LinkGate:
    """A gate over ``inner``: one that offers :class:`DirectPackets` (and
    :class:`DirectFrames`) if ``inner`` does."""
    if isinstance(inner, DirectPackets) and isinstance(inner, DirectFrames):
        return DirectFramesLinkGate(inner, inner, inner, before_send=before_send)
    if isinstance(inner, DirectPackets):
        return DirectLinkGate(inner, inner, before_send=before_send)
    return LinkGate(inner, before_send=before_send)


class LinkGate(TransportWrapper):
    """Wraps a started transport (it does not own it)."""

    def __init__(
        self, inner: Transport, *, before_send: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        super().__init__(inner)
        # awaited before state-carrying frames go out (the Node's durability boundary)
        self.before_send = before_send
        self.offline = False
        self.dropped_in = 0  # items that arrived while offline
        self.dropped_out = 0  # packets and frames dropped while offline
        self.gated = 0  # sends that waited for the commit

    async def set_offline(self, offline: bool, peers: Sequence[Addr] = ()) -> None:
        """Switch; going offline closes the connections to ``peers`` and, over a transport that
        can (``NetTransport.set_accepting``), refuses new inbound connections before their
        handshake."""
        self.offline = offline
        accepting = getattr(self.inner, "set_accepting", None)
        if callable(accepting):
            accepting(not offline)
        if offline:
            for peer in peers:
                await self.inner.close_stream(peer)

    # -- the Transport protocol ------------------------------------------------------------

    async def send_packet(self, dst: Addr, data: bytes) -> None:
        if self.offline:
            self.dropped_out += 1
            return
        await self.inner.send_packet(dst, data)

    async def send_frame(self, dst: Addr, data: bytes) -> None:
        await self.send_frames(dst, [data])

    async def send_frames(self, dst: Addr, frames: Sequence[bytes]) -> None:
        if self.offline:
            self.dropped_out += len(frames)
            return
        if self.before_send is not None:
            first = next((i for i, f in enumerate(frames) if f[:1] and f[0] in _GATED), None)
            if first is not None:
                rest = frames[first:]
                early = [*frames[:first], *(f for f in rest if _may_overtake(f))]
                if early:
                    await self.inner.send_frames(dst, early)
                    frames = [f for f in rest if not _may_overtake(f)]
                self.gated += 1
                await self.before_send()
        await self.inner.send_frames(dst, frames)

    async def close_stream(self, peer: Addr) -> None:
        await self.inner.close_stream(peer)

    async def receive(self) -> Incoming:
        while True:
            item = await self.inner.receive()
            if not self.offline:
                return item
            self.dropped_in += 1

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return None


class DirectLinkGate(LinkGate):
    """The gate over a transport offering :class:`DirectPackets` (the host's fast datagram
    path), which it forwards."""

    def __init__(
        self,
        inner: Transport,
        direct: DirectPackets,
        *,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(inner, before_send=before_send)
        self._direct = direct

    def send_packet_nowait(self, dst: Addr, data: bytes) -> None:
        if self.offline:
            self.dropped_out += 1
            return
        self._direct.send_packet_nowait(dst, data)

    def deliver_packets_to(self, handler: Callable[[PacketReceived], None] | None) -> None:
        if handler is None:
            self._direct.deliver_packets_to(None)
            return

        def gated(packet: PacketReceived) -> None:
            if self.offline:
                self.dropped_in += 1
                return
            handler(packet)

        self._direct.deliver_packets_to(gated)


class DirectFramesLinkGate(DirectLinkGate):
    """The gate over a transport offering :class:`DirectPackets` and :class:`DirectFrames`
    (``NetTransport``), which it forwards: what arrives while offline is dropped, as
    :meth:`LinkGate.receive` drops it."""

    def __init__(
        self,
        inner: Transport,
        direct: DirectPackets,
        frames: DirectFrames,
        *,
        before_send: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(inner, direct, before_send=before_send)
        self._frames = frames

    def deliver_frames_to(self, handler: Callable[[StreamIncoming], None] | None) -> None:
        if handler is None:
            self._frames.deliver_frames_to(None)
            return

        def gated(item: StreamIncoming) -> None:
            if self.offline:
                self.dropped_in += 1
                return
            handler(item)

        self._frames.deliver_frames_to(gated)
