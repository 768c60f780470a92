"""The Node's LinkGate over a transport that hands frames over directly (``DirectFrames``): the
gate offers the path too, and drops what arrives while offline, as its ``receive`` does."""

from __future__ import annotations

from collections.abc import Callable

from gossip import PacketReceived, PeerUnreachable, StreamReceived
from gossip.transport import DirectFrames, DirectPackets, MemoryNetwork, StreamIncoming
from sync._gate import link_gate


class _Direct:
    """Stands for ``NetTransport``'s two direct paths."""

    def __init__(self) -> None:
        self.frames: Callable[[StreamIncoming], None] | None = None

    def send_packet_nowait(self, dst: str, data: bytes) -> None:
        pass

    def deliver_packets_to(self, handler: Callable[[PacketReceived], None] | None) -> None:
        pass

    def deliver_frames_to(self, handler: Callable[[StreamIncoming], None] | None) -> None:
        self.frames = handler


def test_the_gate_forwards_direct_frames_and_drops_them_while_offline() -> None:
    inner = _Direct()
    gate = link_gate(inner)  # type: ignore[arg-type]
    assert isinstance(gate, DirectFrames) and isinstance(gate, DirectPackets)
    got: list[StreamIncoming] = []
    gate.deliver_frames_to(got.append)
    assert inner.frames is not None
    frame, lost = StreamReceived("p", b"\x70a"), PeerUnreachable("p", "closed")
    inner.frames(frame)
    gate.offline = True
    inner.frames(StreamReceived("p", b"\x70b"))
    inner.frames(lost)
    assert gate.dropped_in == 2
    gate.offline = False
    inner.frames(lost)
    assert got == [frame, lost]
    gate.deliver_frames_to(None)
    assert inner.frames is None


def test_a_gate_over_a_transport_without_the_path_does_not_offer_it() -> None:
    net = MemoryNetwork()
    assert not isinstance(link_gate(net.transport("a")), DirectFrames)
