"""The direct frame path of the real transport (``DirectFrames``), under asyncio and trio."""

from __future__ import annotations

import anyio
import pytest

from gossip import PacketReceived, PeerUnreachable, StreamReceived
from gossip.transport import DirectFrames, DirectPackets, StreamIncoming

from .conftest import open_transports, recv

pytestmark = pytest.mark.anyio


async def _until(check: object, n: int) -> None:
    with anyio.fail_after(10):
        while len(check) < n:  # type: ignore[arg-type]
            await anyio.sleep(0.01)


async def test_net_offers_the_direct_frame_path_and_memory_does_not() -> None:
    async with open_transports("net", 1) as (net,), open_transports("memory", 1) as (mem,):
        assert isinstance(net, DirectFrames)
        assert not isinstance(mem, DirectFrames)


async def test_frames_and_broken_links_go_to_the_handler_in_order() -> None:
    async with open_transports("net", 3) as (a, b, c):
        assert isinstance(b, DirectFrames)
        got: list[StreamIncoming] = []

        def handler(item: StreamIncoming) -> None:
            got.append(item)
            if isinstance(item, StreamReceived) and item.data == b"\x70boom":
                raise RuntimeError("a handler bug")  # logged; the link keeps being read

        b.deliver_frames_to(handler)
        await a.send_frames(b.local_addr, [b"\x70one", b"\x70boom"])
        await a.send_frame(b.local_addr, b"\x70two")
        await _until(got, 3)
        assert [(i.src, i.data) for i in got if isinstance(i, StreamReceived)] == [
            (a.local_addr, b"\x70one"),
            (a.local_addr, b"\x70boom"),
            (a.local_addr, b"\x70two"),
        ]
        await a.close_stream(b.local_addr)  # the peer closes: b's handler hears of it
        await _until(got, 4)
        assert isinstance(got[3], PeerUnreachable) and got[3].peer == a.local_addr
        # Datagrams are not the frame handler's: they stay queued for receive().
        assert isinstance(a, DirectPackets)
        a.send_packet_nowait(b.local_addr, b"\x70datagram")
        item = await recv(b)
        assert isinstance(item, PacketReceived) and item.data == b"\x70datagram"
        # Back to queueing.
        b.deliver_frames_to(None)
        await c.send_frame(b.local_addr, b"\x70queued")
        item = await recv(b)
        assert isinstance(item, StreamReceived) and item.data == b"\x70queued"
        assert len(got) == 4


async def test_what_was_queued_goes_to_the_handler_first() -> None:
    async with open_transports("net", 2) as (a, b):
        assert isinstance(b, DirectFrames) and isinstance(a, DirectPackets)
        await a.send_frame(b.local_addr, b"\x70early")
        a.send_packet_nowait(b.local_addr, b"\x70datagram")
        with anyio.fail_after(10):
            while b.metrics.frames_in < 1 or b.metrics.packets_in < 1:
                await anyio.sleep(0.01)
        got: list[StreamIncoming] = []
        b.deliver_frames_to(got.append)  # the queued frame is handed over at once
        assert [i.data for i in got if isinstance(i, StreamReceived)] == [b"\x70early"]
        await a.send_frame(b.local_addr, b"\x70late")
        await _until(got, 2)
        assert [i.data for i in got if isinstance(i, StreamReceived)] == [b"\x70early", b"\x70late"]
        item = await recv(b)  # the datagram stayed queued
        assert isinstance(item, PacketReceived) and item.data == b"\x70datagram"
