"""The part every transport wrapper shares: what it does not change comes from ``inner``."""

from __future__ import annotations

from gossip._events import Addr
from gossip.transport._interface import Transport
from gossip.transport._metrics import TransportMetrics

__all__ = ["TransportWrapper"]


class TransportWrapper:
    """A base for transports that wrap another (``FaultyTransport``, the Node's link gate): the
    address, the counters and the size caps are the wrapped transport's."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

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
