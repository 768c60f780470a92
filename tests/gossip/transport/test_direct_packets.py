"""The direct datagram path of the real transport (``DirectPackets``), under asyncio and trio."""

from __future__ import annotations

import anyio
import pytest

from gossip import PacketReceived
from gossip.transport import DirectPackets

from .conftest import open_transports, recv

pytestmark = pytest.mark.anyio


async def test_net_offers_the_direct_path_and_memory_does_not() -> None:
    async with open_transports("net", 1) as (net,), open_transports("memory", 1) as (mem,):
        assert isinstance(net, DirectPackets)
        assert not isinstance(mem, DirectPackets)


async def test_datagrams_go_to_the_handler_then_back_to_the_queue() -> None:
    async with open_transports("net", 2) as (a, b):
        assert isinstance(a, DirectPackets) and isinstance(b, DirectPackets)
        got: list[PacketReceived] = []

        def handler(event: PacketReceived) -> None:
            got.append(event)
            if event.data == b"\x70boom":
                raise RuntimeError("a handler bug")  # logged; the socket keeps being read

        b.deliver_packets_to(handler)
        for payload in (b"\x70one", b"\x70boom", b"\x70two"):
            a.send_packet_nowait(b.local_addr, payload)
        with anyio.fail_after(10):
            while len(got) < 3:
                await anyio.sleep(0.01)
        assert [e.data for e in got] == [b"\x70one", b"\x70boom", b"\x70two"]
        assert {e.src for e in got} == {a.local_addr}
        b.deliver_packets_to(None)
        a.send_packet_nowait(b.local_addr, b"\x70queued")
        item = await recv(b)
        assert isinstance(item, PacketReceived) and item.data == b"\x70queued"
        assert b.metrics.packets_in == 4
