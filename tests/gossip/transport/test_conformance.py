"""One conformance suite for every transport: UDP/TCP on loopback, the in-memory network, and
the fault-injecting wrapper (faults off) around UDP/TCP, under asyncio and trio."""

from __future__ import annotations

import anyio
import pytest

from gossip import (
    MessageTooLargeError,
    PacketReceived,
    PeerUnreachable,
    StreamReceived,
    TransportError,
    UnreachableError,
)
from gossip.transport import Transport

from .conftest import MAX_FRAME, MAX_PACKET, open_transports, recv

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["net", "memory", "faulty"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def dead_address(kind: str) -> str:
    """An address nobody listens on (UDP/TCP: a port that was bound and released)."""
    if kind == "memory":
        return "nobody-here"
    async with open_transports(kind, 1) as (gone,):
        addr = gone.local_addr
    return addr


async def test_packet_carries_sender_address(kind: str) -> None:
    async with open_transports(kind, 2) as (a, b):
        await a.send_packet(b.local_addr, b"\x70hello")
        got = await recv(b)
        assert got == PacketReceived(a.local_addr, b"\x70hello")
        assert a.metrics.packets_out == 1 and b.metrics.packets_in == 1
        assert b.metrics.bytes_in >= len(b"\x70hello") and a.metrics.bytes_out >= 6


async def test_frames_keep_order_and_reuse_one_connection_both_ways(kind: str) -> None:
    async with open_transports(kind, 2) as (a, b):
        for i in range(100):
            await a.send_frame(b.local_addr, b"\x70" + i.to_bytes(2, "big"))
        for i in range(100):
            assert await recv(b) == StreamReceived(a.local_addr, b"\x70" + i.to_bytes(2, "big"))
        for i in range(50):
            await b.send_frame(a.local_addr, b"\x71" + bytes([i]))
        got = [await recv(a) for _ in range(50)]
        assert got == [StreamReceived(b.local_addr, b"\x71" + bytes([i])) for i in range(50)]
        # b answered on the connection a opened: one connection for the pair
        assert (a.metrics.connections_opened, a.metrics.connections_accepted) == (1, 0)
        assert (b.metrics.connections_opened, b.metrics.connections_accepted) == (0, 1)
        assert a.metrics.frames_out == 100 and b.metrics.frames_in == 100


async def test_concurrent_senders_share_one_connection(kind: str) -> None:
    async with open_transports(kind, 2) as (a, b):

        async def burst(tag: int) -> None:
            for i in range(10):
                await a.send_frame(b.local_addr, bytes([0x70, tag, i]))

        async with anyio.create_task_group() as tg:
            for tag in range(8):
                tg.start_soon(burst, tag)
        got = [await recv(b) for _ in range(80)]
        assert a.metrics.connections_opened == 1
        for tag in range(8):  # each sender's frames arrive in its own order
            mine = [g.data[2] for g in got if isinstance(g, StreamReceived) and g.data[1] == tag]
            assert mine == list(range(10))


async def test_concurrent_packet_senders(kind: str) -> None:
    """Many tasks sending datagrams at once on one socket (a host's loops do exactly that)."""
    async with open_transports(kind, 2) as (a, b):

        async def burst(tag: int) -> None:
            for i in range(5):
                await a.send_packet(b.local_addr, bytes([0x70, tag, i]))

        async with anyio.create_task_group() as tg:
            for tag in range(20):
                tg.start_soon(burst, tag)
        got = {(await recv(b)).data for _ in range(100)}  # type: ignore[union-attr]
        assert got == {bytes([0x70, tag, i]) for tag in range(20) for i in range(5)}


async def test_send_frames_batches_in_order(kind: str) -> None:
    async with open_transports(kind, 2) as (a, b):
        await a.send_frames(b.local_addr, [])  # nothing to do: no connection either
        assert a.metrics.connections_opened == 0
        await a.send_frames(b.local_addr, [bytes([0x70, i]) for i in range(30)])
        await a.send_frame(b.local_addr, b"\x70after")
        got = [await recv(b) for _ in range(31)]
        assert got == [StreamReceived(a.local_addr, bytes([0x70, i])) for i in range(30)] + [
            StreamReceived(a.local_addr, b"\x70after")
        ]
        with pytest.raises(MessageTooLargeError):  # checked before anything is sent
            await a.send_frames(b.local_addr, [b"\x70ok", bytes(MAX_FRAME + 1)])
        await a.send_frame(b.local_addr, b"\x70next")
        assert await recv(b) == StreamReceived(a.local_addr, b"\x70next")
        assert a.metrics.frames_out == 32


async def test_simultaneous_dials_keep_order_both_ways(kind: str) -> None:
    async with open_transports(kind, 2) as (a, b):

        async def stream(src: Transport, dst: Transport) -> None:
            for i in range(40):
                await src.send_frame(dst.local_addr, bytes([0x70, i]))

        async with anyio.create_task_group() as tg:  # both ends connect at the same moment
            tg.start_soon(stream, a, b)
            tg.start_soon(stream, b, a)
        for src, dst in ((a, b), (b, a)):
            got = [await recv(dst) for _ in range(40)]
            assert got == [StreamReceived(src.local_addr, bytes([0x70, i])) for i in range(40)]
        opened = a.metrics.connections_opened + b.metrics.connections_opened
        assert 1 <= opened <= 2  # two only if the dials really crossed


async def test_size_caps(kind: str) -> None:
    async with open_transports(kind, 2) as (a, b):
        assert a.max_packet_size == MAX_PACKET and a.max_frame_size == MAX_FRAME
        with pytest.raises(MessageTooLargeError):
            await a.send_packet(b.local_addr, bytes(MAX_PACKET + 1))
        with pytest.raises(MessageTooLargeError):
            await a.send_frame(b.local_addr, bytes(MAX_FRAME + 1))
        await a.send_packet(b.local_addr, b"\x70" + bytes(MAX_PACKET - 1))
        await a.send_frame(b.local_addr, b"\x71" + bytes(MAX_FRAME - 1))
        sizes = sorted([len((await recv(b)).data), len((await recv(b)).data)])  # type: ignore[union-attr]
        assert sizes == [MAX_PACKET, MAX_FRAME]


async def test_unreachable_peer(kind: str) -> None:
    dead = await dead_address(kind)
    async with open_transports(kind, 2) as (a, b):
        with pytest.raises(UnreachableError):
            await a.send_frame(dead, b"\x70x")
        assert a.metrics.connect_failures == 1
        await a.send_packet(dead, b"\x70x")  # best effort: lost, not an error
        await a.send_frame(b.local_addr, b"\x70ok")  # and the transport still works
        assert await recv(b) == StreamReceived(a.local_addr, b"\x70ok")


async def test_close_stream_reports_to_peer_only_and_reconnects(kind: str) -> None:
    async with open_transports(kind, 2) as (a, b):
        await a.send_frame(b.local_addr, b"\x70one")
        await a.send_frame(b.local_addr, b"\x70two")
        await a.close_stream(b.local_addr)
        assert await recv(b) == StreamReceived(a.local_addr, b"\x70one")
        assert await recv(b) == StreamReceived(a.local_addr, b"\x70two")  # flushed first
        got = await recv(b)
        assert isinstance(got, PeerUnreachable) and got.peer == a.local_addr
        await a.send_frame(b.local_addr, b"\x70three")  # a fresh connection
        assert await recv(b) == StreamReceived(a.local_addr, b"\x70three")
        assert a.metrics.connections_opened == 2
        await b.send_frame(a.local_addr, b"\x70back")
        assert await recv(a) == StreamReceived(b.local_addr, b"\x70back")  # nothing else first


async def test_peer_closing_is_reported_and_then_unreachable(kind: str) -> None:
    async with open_transports(kind, 3) as (a, b, c):
        await a.send_frame(b.local_addr, b"\x70x")
        assert await recv(b) == StreamReceived(a.local_addr, b"\x70x")
        await b.aclose()
        got = await recv(a)
        assert isinstance(got, PeerUnreachable) and got.peer == b.local_addr
        with pytest.raises(UnreachableError):
            await a.send_frame(b.local_addr, b"\x70y")
        await a.send_frame(c.local_addr, b"\x70z")
        assert await recv(c) == StreamReceived(a.local_addr, b"\x70z")


async def test_closed_transport_refuses_use(kind: str) -> None:
    async with open_transports(kind, 2) as (a, b):
        await a.aclose()
        await a.aclose()  # idempotent
        with pytest.raises(TransportError):
            await a.send_frame(b.local_addr, b"\x70x")
        with pytest.raises(TransportError):
            await a.send_packet(b.local_addr, b"\x70x")
        with pytest.raises(TransportError):
            await a.receive()


async def test_implements_the_protocol(kind: str) -> None:
    async with open_transports(kind, 1) as (a,):
        assert isinstance(a.local_addr, str) and a.local_addr
        t: Transport = a  # the static check is mypy's; this one is the runtime surface
        for name in ("send_packet", "send_frame", "close_stream", "receive", "aclose"):
            assert callable(getattr(t, name))


async def test_closing_wakes_a_sender_blocked_on_a_full_peer(kind: str) -> None:
    """A frame sender waiting on a peer that does not read must not hang when the peer closes."""
    async with open_transports(kind, 2) as (a, b):
        frame = b"\x70" + bytes(1023)

        async def flood() -> None:
            with pytest.raises(UnreachableError):
                for _ in range(200_000):  # b never reads: its inbox and socket buffers fill
                    await a.send_frame(b.local_addr, frame)

        with anyio.fail_after(10):  # the flood must end once b is gone
            async with anyio.create_task_group() as tg:
                tg.start_soon(flood)
                await anyio.sleep(0.3)
                await b.aclose()
