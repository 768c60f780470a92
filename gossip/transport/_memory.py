"""An in-process network with the same :class:`~gossip.transport.Transport` interface, for fast
async tests of drivers and applications (no sockets, no encryption: nothing leaves the process).

Semantics mirror the UDP/TCP transport: packets to an unknown or closed address are silently lost;
``send_frame`` to one raises :class:`~gossip.UnreachableError`; one "connection" per peer pair is
opened on first use (in either direction) and reused both ways; closing it, or closing a
transport, reports :class:`~gossip.PeerUnreachable` to the other end. Frames are delivered in send
order; a full inbox drops packets (counted as ``backpressure``) and makes frame senders wait, like
TCP flow control. For loss, latency, partitions and virtual time use the simulator instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Self

import anyio

from gossip._errors import ConfigError, MessageTooLargeError, TransportError, UnreachableError
from gossip._events import Addr, PacketReceived, PeerUnreachable, StreamReceived
from gossip.transport._interface import Incoming
from gossip.transport._metrics import TransportMetrics

__all__ = ["MemoryNetwork", "MemoryTransport"]


class MemoryNetwork:
    """The address space shared by a set of :class:`MemoryTransport` instances."""

    def __init__(
        self,
        *,
        max_packet_size: int = 64_000,  # bytes
        max_frame_size: int = 8 * 1024 * 1024,  # bytes
        inbox_size: int = 4096,  # messages
    ) -> None:
        if max_packet_size < 1 or max_frame_size < 1 or inbox_size < 1:
            raise ConfigError("sizes must be >= 1")
        self.max_packet_size = max_packet_size
        self.max_frame_size = max_frame_size
        self.inbox_size = inbox_size
        self._nodes: dict[Addr, MemoryTransport] = {}
        self._links: set[frozenset[Addr]] = set()
        self._count = 0

    def transport(self, addr: Addr | None = None) -> MemoryTransport:
        """A new transport at ``addr`` (default: a fresh ``"mem-N"``); it joins the network when
        entered with ``async with``."""
        if addr is None:
            self._count += 1
            addr = f"mem-{self._count}"
        return MemoryTransport(self, addr)

    @property
    def links(self) -> int:
        """Open connections in the whole network."""
        return len(self._links)


class MemoryTransport:
    """One node's endpoint on a :class:`MemoryNetwork`."""

    def __init__(self, network: MemoryNetwork, addr: Addr) -> None:
        self._net = network
        self._addr = addr
        self._metrics = TransportMetrics()
        self._inbox_send, self._inbox_recv = anyio.create_memory_object_stream[Incoming](
            network.inbox_size
        )
        self._open = False
        self._closed = False

    @property
    def local_addr(self) -> Addr:
        return self._addr

    @property
    def metrics(self) -> TransportMetrics:
        return self._metrics

    @property
    def max_packet_size(self) -> int:
        return self._net.max_packet_size

    @property
    def max_frame_size(self) -> int:
        return self._net.max_frame_size

    async def __aenter__(self) -> Self:
        if self._open or self._closed:
            raise TransportError("a transport is started once")
        if self._addr in self._net._nodes:
            raise ConfigError(f"address {self._addr!r} is already in use")
        self._net._nodes[self._addr] = self
        self._open = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._open = False
        if self._net._nodes.get(self._addr) is self:
            del self._net._nodes[self._addr]
        for link in [link for link in self._net._links if self._addr in link]:
            self._net._links.discard(link)
            self._metrics.connections_closed += 1
            (other,) = link - {self._addr} or {self._addr}
            peer = self._net._nodes.get(other)
            if peer is not None and peer is not self:
                peer._metrics.connections_closed += 1
                peer._notify(self._addr, "the peer closed its transport")
        self._inbox_send.close()
        self._inbox_recv.close()  # wakes senders blocked on our full inbox

    def _check_open(self) -> None:
        if not self._open:
            raise TransportError("transport is closed" if self._closed else "transport not started")

    def _notify(self, peer: Addr, reason: str) -> None:
        # A dropped link must be reported even if the inbox is full: it is rare and important.
        try:
            self._inbox_send.send_nowait(PeerUnreachable(peer, reason))
        except anyio.WouldBlock:
            self._metrics.drop("backpressure")
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            pass

    async def send_packet(self, dst: Addr, data: bytes) -> None:
        self._check_open()
        if len(data) > self.max_packet_size:
            raise MessageTooLargeError(
                f"packet of {len(data)} bytes exceeds max_packet_size={self.max_packet_size}"
            )
        self._metrics.packets_out += 1
        self._metrics.bytes_out += len(data)
        peer = self._net._nodes.get(dst)
        if peer is None:
            return
        peer._metrics.bytes_in += len(data)
        try:
            peer._inbox_send.send_nowait(PacketReceived(self._addr, bytes(data)))
        except anyio.WouldBlock:
            peer._metrics.drop("backpressure")
            return
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return
        peer._metrics.packets_in += 1

    async def send_frame(self, dst: Addr, data: bytes) -> None:
        self._check_open()
        if len(data) > self.max_frame_size:
            raise MessageTooLargeError(
                f"frame of {len(data)} bytes exceeds max_frame_size={self.max_frame_size}"
            )
        peer = self._net._nodes.get(dst)
        if peer is None:
            self._metrics.connect_failures += 1
            raise UnreachableError(f"cannot reach {dst}: no such address")
        link = frozenset((self._addr, dst))
        if link not in self._net._links:
            self._net._links.add(link)
            self._metrics.connections_opened += 1
            peer._metrics.connections_accepted += 1
        try:
            await peer._inbox_send.send(StreamReceived(self._addr, bytes(data)))
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise UnreachableError(f"sending to {dst} failed: the peer closed") from None
        self._metrics.frames_out += 1
        self._metrics.bytes_out += len(data)
        peer._metrics.frames_in += 1
        peer._metrics.bytes_in += len(data)

    async def send_frames(self, dst: Addr, frames: Sequence[bytes]) -> None:
        for data in frames:
            if len(data) > self.max_frame_size:
                raise MessageTooLargeError(
                    f"frame of {len(data)} bytes exceeds max_frame_size={self.max_frame_size}"
                )
        for data in frames:
            await self.send_frame(dst, data)

    async def close_stream(self, peer: Addr) -> None:
        link = frozenset((self._addr, peer))
        if link not in self._net._links:
            return
        self._net._links.discard(link)
        self._metrics.connections_closed += 1
        other = self._net._nodes.get(peer)
        if other is not None and other is not self:
            other._metrics.connections_closed += 1
            other._notify(self._addr, "the peer closed the connection")

    async def receive(self) -> Incoming:
        try:
            return await self._inbox_recv.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise TransportError("transport is closed") from None
