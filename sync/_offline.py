"""An on/off switch in front of a transport: while off, no packet or frame goes in or out.

The Node's ``go_offline()``/``go_online()`` (simulating a device losing its network). While
offline, datagrams and frames sent are dropped (counted), every open connection is closed, and
whatever still arrives is dropped before any core sees it.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Self

from gossip._events import Addr
from gossip.transport import Incoming, Transport, TransportMetrics

__all__ = ["OfflineSwitch"]


class OfflineSwitch:
    """Wraps a started :class:`~gossip.transport.Transport` (it does not own it)."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.offline = False
        self.dropped_in = 0  # items that arrived while offline
        self.dropped_out = 0  # packets and frames refused while offline

    async def set_offline(self, offline: bool, peers: Sequence[Addr] = ()) -> None:
        """Switch; going offline closes the connections to ``peers``."""
        self.offline = offline
        if offline:
            for peer in peers:
                await self.inner.close_stream(peer)

    # -- the Transport protocol ------------------------------------------------------------

    @property
    def local_addr(self) -> Addr:
        return self.inner.local_addr

    @property
    def metrics(self) -> TransportMetrics:
        return self.inner.metrics

    @property
    def max_packet_size(self) -> int:
        return self.inner.max_packet_size

    @property
    def max_frame_size(self) -> int:
        return self.inner.max_frame_size

    async def send_packet(self, dst: Addr, data: bytes) -> None:
        if self.offline:
            self.dropped_out += 1
            return
        await self.inner.send_packet(dst, data)

    async def send_frame(self, dst: Addr, data: bytes) -> None:
        await self.send_frames(dst, [data])

    async def send_frames(self, dst: Addr, frames: Sequence[bytes]) -> None:
        if self.offline:
            # Silence, as a cut cable gives: failing the send at once would have the cores
            # retry at once (HyParView re-JOINs a contact that fails), a loop without a pause.
            # They notice the cut by their timeouts (SWIM probes, HyParView requests).
            self.dropped_out += len(frames)
            return
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
