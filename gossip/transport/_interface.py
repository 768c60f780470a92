"""The one transport interface every implementation (UDP/TCP, in-memory) provides."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Protocol, Self, TypeAlias, runtime_checkable

from gossip._events import Addr, PacketReceived, PeerUnreachable, StreamReceived
from gossip.transport._metrics import TransportMetrics

__all__ = ["DirectFrames", "DirectPackets", "Incoming", "StreamIncoming", "Transport"]

Incoming: TypeAlias = PacketReceived | StreamReceived | PeerUnreachable
"""What :meth:`Transport.receive` returns: a datagram, a stream frame, or a link that broke."""

StreamIncoming: TypeAlias = StreamReceived | PeerUnreachable
"""What a :class:`DirectFrames` transport hands its frame handler."""


class Transport(Protocol):
    """Packets (best effort) and streams (reliable, ordered frames) between addressed peers.

    Used as ``async with transport: ...``; entering binds and starts it, leaving closes every
    connection. One transport serves every protocol core of a node.

    - ``send_packet``: best effort; an unreachable peer is *not* an error (the datagram is lost).
      Raises :class:`~gossip.MessageTooLargeError` over ``max_packet_size``.
    - ``send_frame``: connects (and handshakes) first if there is no connection to ``dst``; one
      connection per peer pair is used in both directions. Returns once the frame is handed to the
      OS. Raises :class:`~gossip.UnreachableError` if the peer cannot be reached or the link broke
      (the link is then closed), :class:`~gossip.MessageTooLargeError` over ``max_frame_size``.
    - ``send_frames``: several frames to one peer, in order, in one write where the transport
      can (the host batches queued frames this way); size caps are checked before anything is
      sent; on :class:`~gossip.UnreachableError` a prefix of them may have been delivered.
    - ``close_stream``: closes the connection to ``peer`` after the frames already sent; no event
      follows locally, the peer sees :class:`~gossip.PeerUnreachable`.
    - ``receive``: the next incoming item, in arrival order; frames of one connection keep their
      order. :class:`~gossip.PeerUnreachable` reports an established connection that ended (never
      one closed locally, never a send failure: those raise instead). Raises
      :class:`~gossip.TransportError` once the transport is closed.
    """

    @property
    def local_addr(self) -> Addr: ...

    @property
    def metrics(self) -> TransportMetrics: ...

    @property
    def max_packet_size(self) -> int: ...

    @property
    def max_frame_size(self) -> int: ...

    async def send_packet(self, dst: Addr, data: bytes) -> None: ...

    async def send_frame(self, dst: Addr, data: bytes) -> None: ...

    async def send_frames(self, dst: Addr, frames: Sequence[bytes]) -> None: ...

    async def close_stream(self, peer: Addr) -> None: ...

    async def receive(self) -> Incoming: ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None: ...


@runtime_checkable
class DirectPackets(Protocol):
    """What a transport offers when it can move datagrams without tasks or queues (optional).

    - ``send_packet_nowait``: :meth:`Transport.send_packet` as a plain call: the datagram is
      written to the socket at once, or lost (best effort, as always); same errors.
    - ``deliver_packets_to``: with a handler, every accepted datagram is handed to
      ``handler(PacketReceived)`` from the socket's readiness callback instead of being queued
      for :meth:`Transport.receive` (frames and ``PeerUnreachable`` still are); ``None`` goes
      back to queueing. The handler must not block; an exception from it is logged and the
      datagram dropped.

    The host uses both when a transport has them: a member at rest then handles a probe in one
    step of the event loop.
    """

    def send_packet_nowait(self, dst: Addr, data: bytes) -> None: ...

    def deliver_packets_to(self, handler: Callable[[PacketReceived], None] | None) -> None: ...


@runtime_checkable
class DirectFrames(Protocol):
    """What a transport offers when it can hand received frames over without a queue (optional).

    ``deliver_frames_to``: with a handler, every frame (and every :class:`~gossip.PeerUnreachable`)
    is handed to ``handler(item)`` by the task that read it, in the order :meth:`Transport.receive`
    would have returned it, instead of being queued for :meth:`Transport.receive` (datagrams still
    are, unless :class:`DirectPackets` hands them over); items already queued for the stream side
    are handed over first; ``None`` goes back to queueing. The handler must not block (it runs
    inside the transport's read loop, which reads nothing more until it returns: that is the
    backpressure); an exception from it is logged and the item dropped.

    The host uses it when a transport has it: a frame then reaches its core in the step of the
    event loop that read it, with no hop through a queue and a second task.
    """

    def deliver_frames_to(self, handler: Callable[[StreamIncoming], None] | None) -> None: ...
