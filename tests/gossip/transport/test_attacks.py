"""Issue 12, a stranger on the network: each attack of the issue replayed over real sockets on
loopback against the fixed transport (each of these tests fails on the code before the fix)."""

from __future__ import annotations

import contextlib
import socket
import sys

import anyio
import anyio.abc
import pytest

from gossip import PacketReceived, PeerUnreachable, StreamReceived, UnreachableError
from gossip.transport import MAGIC, FrameDecoder, NetTransport, parse_addr

from .conftest import net, recv
from .test_security import raw_handshake, ring, until

pytestmark = pytest.mark.anyio


async def test_a_datagram_sealed_for_one_node_is_refused_by_every_other() -> None:
    """C's datagram to A, captured and replayed to B, was accepted by B; now it fails
    authentication there (the destination is in the associated data)."""
    async with (
        net() as b,
        net() as c,
        await anyio.create_udp_socket(local_host="127.0.0.1") as a_sock,
    ):
        a_addr = f"127.0.0.1:{a_sock.extra(anyio.abc.SocketAttribute.local_port)}"
        await c.send_packet(a_addr, b"\x70for A only")
        with anyio.fail_after(5):
            captured, _ = await a_sock.receive()
        host, port = parse_addr(b.local_addr)
        await a_sock.sendto(captured, host, port)
        await c.send_packet(b.local_addr, b"\x70marker")
        assert await recv(b) == PacketReceived(c.local_addr, b"\x70marker")  # nothing before it
        await until(lambda: b.metrics.dropped.get("auth", 0) == 1)
        assert b.metrics.packets_in == 1


async def captured_hello(sender: NetTransport) -> tuple[str, bytes]:
    """The bytes ``sender`` opens a connection with (magic and sealed hello), recorded by a
    listener that never answers: ``(the listener's address, the bytes)``."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    addr = f"127.0.0.1:{listener.extra(anyio.abc.SocketAttribute.local_port)}"
    recorded = b""

    async def dial() -> None:
        with pytest.raises(UnreachableError):
            await sender.send_frame(addr, b"\x70to the recorder")

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(dial)
        with anyio.fail_after(5):
            stream = await listener.listeners[0].accept()  # type: ignore[attr-defined]
            decoder = FrameDecoder(4096)
            while True:
                chunk = await stream.receive()
                recorded += chunk
                if decoder.feed(chunk if len(recorded) > len(chunk) else chunk[len(MAGIC) :]):
                    break
        await stream.aclose()
    return addr, recorded


async def replay(dst: str, data: bytes, then: bytes = b"") -> anyio.abc.SocketStream:
    host, port = parse_addr(dst)
    stream = await anyio.connect_tcp(host, port)
    await stream.send(data)
    if then:
        await stream.send(then)
    return stream


async def test_a_hello_replayed_to_another_node_captures_nothing() -> None:
    """Issue 12, item 1: C's hello to someone else, replayed to B, made B take the replayer's
    socket as its link to C (C then got none of B's frames). Now B refuses it at once."""
    async with net() as b, net() as c:
        _, recorded = await captured_hello(c)
        s = await replay(b.local_addr, recorded)
        await until(lambda: b.metrics.dropped.get("misdirected", 0) == 1)
        assert b.connected_peers() == []
        await b.send_frame(c.local_addr, b"\x70for C")  # B dials the real C
        assert await recv(c) == StreamReceived(b.local_addr, b"\x70for C")
        await s.aclose()


async def test_a_hello_replayed_to_its_destination_after_a_restart_is_worthless() -> None:
    """The same hello replayed to its destination after that node restarted (the replay guard
    starts empty; here the node starts on the recorder's port) earns a welcome the replayer
    cannot answer: nothing is registered, and the slot is freed."""
    async with net() as c:
        dst, recorded = await captured_hello(c)
        async with net(port=parse_addr(dst)[1]) as restarted:
            assert restarted.local_addr == dst
            silent = await replay(restarted.local_addr, recorded)
            again = await replay(restarted.local_addr, recorded)  # a second copy: the guard
            await until(lambda: restarted.metrics.dropped_total >= 2)
            # the first copy got a welcome but no confirm (timed out), the second was a replay
            assert restarted.metrics.dropped == {"replay": 1, "handshake": 1}
            assert restarted.connected_peers() == []
            assert restarted.metrics.connections_accepted == 0
            await silent.aclose()
            await again.aclose()


async def test_a_claimed_epoch_does_not_lock_out_the_real_peer() -> None:
    """Issue 12, item 10: a hello claiming C's address with epoch 2**63 - 1 made B refuse the
    real C until B restarted. Now a claimed epoch refuses older ones only while a link of that
    epoch lives (a key holder can impersonate C while it stays connected, never after)."""
    async with net() as b, net(epoch=5) as c:
        poison, _ = await raw_handshake(b.local_addr, ring(), addr=c.local_addr, epoch=2**63 - 1)
        await until(lambda: b.connected_peers() == [c.local_addr])
        await poison.aclose()
        got = await recv(b)
        assert isinstance(got, PeerUnreachable) and got.peer == c.local_addr
        await c.send_frame(b.local_addr, b"\x70the real C")
        assert await recv(b) == StreamReceived(c.local_addr, b"\x70the real C")
        assert "epoch" not in b.metrics.dropped
        # and B reaches C too (its dial is authoritative for C's address)
        await c.close_stream(b.local_addr)
        assert isinstance(await recv(b), PeerUnreachable)
        await b.send_frame(c.local_addr, b"\x70back")
        assert await recv(c) == StreamReceived(b.local_addr, b"\x70back")


async def test_a_silent_link_is_closed_and_a_quiet_one_kept_alive() -> None:
    """A link that hears nothing for ``idle_timeout`` is closed (a captured or half-dead link
    does not hold a peer's traffic forever); quiet links stay up on keepalives."""
    async with net(idle_timeout=0.8) as b, net(idle_timeout=0.8) as c:
        mute, _ = await raw_handshake(b.local_addr, ring(), addr="127.0.0.1:1")
        await c.send_frame(b.local_addr, b"\x70hello")
        assert await recv(b) == StreamReceived(c.local_addr, b"\x70hello")
        got = await recv(b)  # the mute link goes (after 0.8-1.0 s), C's stays
        assert isinstance(got, PeerUnreachable) and got.peer == "127.0.0.1:1"
        assert "silent" in got.reason and b.metrics.dropped["idle"] == 1
        await anyio.sleep(1.0)  # C's link: two idle timeouts without a frame from either side
        assert b.connected_peers() == [c.local_addr] and c.connected_peers() == [b.local_addr]
        await c.send_frame(b.local_addr, b"\x70still here")
        assert await recv(b) == StreamReceived(c.local_addr, b"\x70still here")
        assert b.metrics.frames_in == 2  # keepalives are not delivered
        await mute.aclose()


async def test_a_joiner_gets_in_while_160_idle_connections_are_held() -> None:
    """Issue 12, item 3: 160 idle connections kept all 32 handshake slots full and a joiner
    failed. Now one source holds at most ``max_handshakes_per_source`` half-open slots and the
    oldest half-open connection makes room for a new one."""
    async with net(max_handshakes=32, handshake_timeout=5.0) as a, net() as joiner:
        host, port = parse_addr(a.local_addr)
        idle = []
        for i in range(160):  # from two other loopback addresses, as an attacker's hosts
            idle.append(await anyio.connect_tcp(host, port, local_host=f"127.0.0.{2 + i % 2}"))
        await until(lambda: a.metrics.dropped.get("handshake", 0) >= 160 - 2 * 8)
        for _ in range(3):
            await joiner.send_frame(a.local_addr, b"\x70joining")
            assert await recv(a) == StreamReceived(joiner.local_addr, b"\x70joining")
            await joiner.close_stream(a.local_addr)
            assert isinstance(await recv(a), PeerUnreachable)
        # and even the attacker's own source cannot hold a slot against a newcomer from it
        for _ in range(20):
            idle.append(await anyio.connect_tcp(host, port, local_host="127.0.0.1"))
        await joiner.send_frame(a.local_addr, b"\x70again")
        assert await recv(a) == StreamReceived(joiner.local_addr, b"\x70again")
        for s in idle:
            await s.aclose()


@pytest.mark.skipif(sys.platform != "linux", reason="the kernel's drop count is read from /proc")
async def test_datagrams_the_kernel_dropped_are_counted() -> None:
    """Issue 12, item 4: datagrams lost to a full receive buffer were invisible. The flood is
    sent while the event loop is blocked (a plain blocking socket), so the transport cannot
    read and the kernel drops; every datagram is then accounted for."""
    async with net() as a:
        host, port = parse_addr(a.local_addr)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flood:
            for _ in range(2000):  # 2 MB: far more than a default receive buffer holds
                flood.sendto(b"\x01" + bytes(999), (host, port))
        await until(lambda: a.metrics.dropped_total == 2000)
        assert a.metrics.dropped["kernel"] > 0
        assert a.metrics.dropped["kernel"] + a.metrics.dropped["auth"] == 2000
        assert a.metrics.snapshot()["dropped"] == a.metrics.dropped


async def test_unfinished_frames_are_capped_in_bytes_across_links() -> None:
    """Issue 12, item 8: 150 authenticated links each holding 2 MiB of an unfinished frame cost
    +300 MB. Now all links together hold at most ``max_buffered_bytes`` (64 MiB by default):
    past it, the link holding the most is closed (counted ``buffer``). Scaled down (40 links of
    512 KiB against a 4 MiB cap: the same 5x overshoot, a tenth of the bytes to push)."""
    cap = 4 * 1024 * 1024
    links, held_each = 40, 512 * 1024
    async with net(max_frame_size=2 * 1024 * 1024, max_buffered_bytes=cap) as a, net() as b:
        partial = (3 * held_each).to_bytes(4, "big") + bytes(held_each)  # a frame, a third sent
        held = []
        for i in range(links):
            s, _ = await raw_handshake(a.local_addr, ring(), addr=f"127.0.0.1:{10000 + i}")
            held.append(s)
            with contextlib.suppress(anyio.BrokenResourceError, OSError):
                await s.send(partial)
            assert a.buffered_bytes <= cap + 65536
        await until(lambda: a.metrics.dropped.get("buffer", 0) >= links - cap // held_each)
        assert a.buffered_bytes <= cap
        await b.send_frame(a.local_addr, b"\x70ordinary frames still flow")
        while not isinstance(got := await recv(a), StreamReceived):
            assert isinstance(got, PeerUnreachable)  # the closed links, reported
        assert got == StreamReceived(b.local_addr, b"\x70ordinary frames still flow")
        for s in held:
            await s.aclose()


async def test_established_connections_are_capped() -> None:
    async with net(max_connections=2) as a, net() as b, net() as c, net() as d:
        await b.send_frame(a.local_addr, b"\x70b")
        await c.send_frame(a.local_addr, b"\x70c")
        with pytest.raises(UnreachableError, match="refused: too many connections"):
            await d.send_frame(a.local_addr, b"\x70d")
        assert a.metrics.dropped == {"connections": 1}
        await b.close_stream(a.local_addr)
        await until(lambda: len(a.connected_peers()) == 1)
        await d.send_frame(a.local_addr, b"\x70d")  # a slot is free again
        received = [await recv(a) for _ in range(4)]
        assert StreamReceived(d.local_addr, b"\x70d") in received


async def test_a_node_can_be_dialled_by_any_address_that_reaches_it() -> None:
    """Binding hellos to their destination must not make peers dial the advertised address
    exactly: a hello names the address the client reached (as its socket sees it), which the
    server's socket sees too (a loopback seed for a node advertising a public name, say)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with net(port=port, advertise="node-a.example:7946") as a, net() as b:
        await b.send_frame(f"127.0.0.1:{port}", b"\x70by another name")
        assert await recv(a) == StreamReceived(b.local_addr, b"\x70by another name")
        assert a.metrics.dropped == {}
