"""The cluster key on real sockets: outsiders can neither join, read nor inject; garbage from a
peer is counted and dropped and the node carries on with its state untouched."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import anyio
import anyio.abc
import pytest

from gossip import (
    ConfigError,
    PacketReceived,
    PeerUnreachable,
    StreamReceived,
    UnreachableError,
)
from gossip.transport import (
    MAGIC,
    PROTOCOL_VERSIONS,
    FrameDecoder,
    Hello,
    Keyring,
    NetTransport,
    ReplayGuard,
    encode_frame,
    parse_addr,
)
from gossip.transport._handshake import CONFIRM, open_hello, seal_hello, transcript
from gossip.transport._packet import seal_packet
from gossip.transport._session import StreamCipher, derive_session

from .conftest import KEY, net, net_config, recv

pytestmark = pytest.mark.anyio

OTHER_KEY = bytes(range(100, 132))


def ring(key: bytes = KEY, cluster: str = "test") -> Keyring:
    return Keyring([key], cluster=cluster)


async def until(check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (bounded) until ``check()`` holds: counters are updated by background tasks."""
    with anyio.fail_after(timeout):
        while not check():
            await anyio.sleep(0.01)


async def raw_udp(dst: str, *datagrams: bytes) -> None:
    host, port = parse_addr(dst)
    async with await anyio.create_udp_socket(local_host="127.0.0.1") as sock:
        for data in datagrams:
            await sock.sendto(data, host, port)


async def raw_handshake(
    dst: str, keyring: Keyring, *, addr: str = "127.0.0.1:1", epoch: int = 1
) -> tuple[anyio.abc.SocketStream, StreamCipher]:
    """Speak the handshake by hand (as a peer with the key would) and return the raw stream."""
    host, port = parse_addr(dst)
    stream = await anyio.connect_tcp(host, port)
    nonce = Hello.fresh_nonce()
    hello = Hello(versions=PROTOCOL_VERSIONS, epoch=epoch, addr=addr, nonce=nonce, dst=dst)
    hello_body = seal_hello(keyring, hello, time.time())
    await stream.send(MAGIC + encode_frame(hello_body))
    decoder = FrameDecoder(4096)
    frames: list[bytes] = []
    with anyio.fail_after(5):
        while not frames:
            frames = decoder.feed(await stream.receive())
    open_hello(keyring, frames[0], ReplayGuard(), time.time(), welcome=True)  # authentic
    salt = transcript(hello_body, frames[0])
    send, _ = derive_session(keyring, keyring.primary_id or b"", salt, client=True)
    await stream.send(encode_frame(send.seal(CONFIRM)))
    return stream, send


@pytest.mark.parametrize("outsider", ["other key", "same key, other cluster", "plaintext"])
async def test_outsider_can_neither_join_nor_inject(outsider: str) -> None:
    bad_ring = {
        "other key": ring(OTHER_KEY),
        "same key, other cluster": ring(KEY, "other"),
        "plaintext": Keyring.plaintext(cluster="test"),
    }[outsider]
    async with net() as a, net() as b, NetTransport(net_config(), keyring=bad_ring) as c:
        await c.send_packet(a.local_addr, b"\x70inject")
        with pytest.raises(UnreachableError):
            await c.send_frame(a.local_addr, b"\x70inject")
        await b.send_packet(a.local_addr, b"\x70marker")
        assert await recv(a) == PacketReceived(b.local_addr, b"\x70marker")  # nothing before it
        assert a.metrics.dropped["auth"] == 2  # the packet and the hello
        assert a.metrics.connections_accepted == 0 and a.metrics.packets_in == 1
        assert c.metrics.connect_failures == 1
        # and c cannot read what a sends it either
        await a.send_packet(c.local_addr, b"\x70secret")
        await until(lambda: c.metrics.dropped.get("auth", 0) >= 1)
        with pytest.raises(UnreachableError):
            await a.send_frame(c.local_addr, b"\x70secret")


async def test_replays_from_another_cluster_are_rejected() -> None:
    async with net() as a, net() as b:
        other = ring(KEY, "other")  # same key material, another cluster label
        captured_packet = seal_packet(
            other, b.local_addr, a.local_addr, b"\x70from-elsewhere", time.time()
        )
        await raw_udp(a.local_addr, captured_packet)
        hello = Hello(versions=(1, 1), epoch=1, addr="127.0.0.1:1", nonce=Hello.fresh_nonce())
        host, port = parse_addr(a.local_addr)
        async with await anyio.connect_tcp(host, port) as s:
            await s.send(MAGIC + encode_frame(seal_hello(other, hello, time.time())))
            with anyio.fail_after(5):
                with pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError, OSError)):
                    await s.receive()  # refused: closed without a welcome
        await b.send_packet(a.local_addr, b"\x70marker")
        assert await recv(a) == PacketReceived(b.local_addr, b"\x70marker")
        assert a.metrics.dropped["auth"] == 2


async def test_replayed_and_stale_packets_are_rejected() -> None:
    async with net() as a, net() as b:
        once = seal_packet(ring(), "127.0.0.1:9", a.local_addr, b"\x70once", time.time())
        old = seal_packet(ring(), "127.0.0.1:9", a.local_addr, b"\x70old", time.time() - 3600)
        await raw_udp(a.local_addr, once, once, old, once)
        await b.send_packet(a.local_addr, b"\x70marker")
        assert await recv(a) == PacketReceived("127.0.0.1:9", b"\x70once")
        assert await recv(a) == PacketReceived(b.local_addr, b"\x70marker")
        assert a.metrics.dropped == {"replay": 2, "stale": 1}


async def test_garbled_truncated_and_oversized_datagrams() -> None:
    async with net() as a, net() as b:
        good = bytearray(seal_packet(ring(), b.local_addr, a.local_addr, b"\x70good", time.time()))
        flipped = bytearray(good)
        flipped[-3] ^= 0x40
        await raw_udp(
            a.local_addr,
            b"\x00",
            b"\x01",
            os.urandom(100),
            bytes(good[:30]),
            bytes(flipped),
            b"\x01" + os.urandom(3000),  # over the cap before any crypto is tried
        )
        await b.send_packet(a.local_addr, b"\x70marker")
        assert await recv(a) == PacketReceived(b.local_addr, b"\x70marker")
        assert a.metrics.dropped_total == 6
        assert a.metrics.dropped["oversize"] == 1
        assert a.metrics.packets_in == 1


async def test_garbage_connections_leave_the_node_up_and_untouched() -> None:
    async with net() as a, net() as b:
        host, port = parse_addr(a.local_addr)
        attacks = [
            os.urandom(64),  # not even the magic
            MAGIC + (2**31).to_bytes(4, "big"),  # a 2 GiB hello: refused from the prefix
            MAGIC + (100).to_bytes(4, "big") + b"short",  # truncated, then closed
            MAGIC + encode_frame(os.urandom(100)),  # a hello sealed by nobody
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
            b"",  # connects and says nothing: the handshake times out
        ]
        streams = []
        for attack in attacks:
            s = await anyio.connect_tcp(host, port)
            if attack:
                await s.send(attack)
            streams.append(s)
        await streams[2].aclose()
        await until(lambda: a.metrics.dropped_total >= len(attacks))
        assert a.metrics.dropped["malformed"] >= 2
        assert a.metrics.dropped["oversize"] == 1
        assert a.metrics.dropped["auth"] == 1
        assert a.metrics.dropped["handshake"] >= 1
        for s in streams:
            await s.aclose()
        # the node is up and its state untouched: only b ever connected, only b's frame arrived
        await b.send_frame(a.local_addr, b"\x70hello")
        assert await recv(a) == StreamReceived(b.local_addr, b"\x70hello")
        assert a.metrics.connections_accepted == 1 and a.metrics.frames_in == 1
        assert a.connected_peers() == [b.local_addr]


async def test_bad_frames_from_an_authenticated_peer_close_only_its_link() -> None:
    async with net() as a, net() as b:
        # a tampered frame
        s, send = await raw_handshake(a.local_addr, ring(), addr="127.0.0.1:1")
        body = bytearray(send.seal(b"\x70tampered"))
        body[0] ^= 1
        await s.send(encode_frame(bytes(body)))
        got = await recv(a)
        assert isinstance(got, PeerUnreachable) and got.peer == "127.0.0.1:1"
        assert a.metrics.dropped["auth"] == 1
        await s.aclose()
        # a frame replayed on the same connection: the first copy is delivered, not the second
        s, send = await raw_handshake(a.local_addr, ring(), addr="127.0.0.1:2")
        frame = encode_frame(send.seal(b"\x70once"))
        await s.send(frame + frame)
        assert await recv(a) == StreamReceived("127.0.0.1:2", b"\x70once")
        got = await recv(a)
        assert isinstance(got, PeerUnreachable) and got.peer == "127.0.0.1:2"
        assert a.metrics.dropped["auth"] == 2
        await s.aclose()
        # an oversized frame after the handshake
        s, send = await raw_handshake(a.local_addr, ring(), addr="127.0.0.1:3")
        await s.send((2**30).to_bytes(4, "big"))
        got = await recv(a)
        assert isinstance(got, PeerUnreachable) and got.peer == "127.0.0.1:3"
        assert a.metrics.dropped["oversize"] == 1
        await s.aclose()
        # b is unaffected
        await b.send_frame(a.local_addr, b"\x70still here")
        assert await recv(a) == StreamReceived(b.local_addr, b"\x70still here")


async def test_version_mismatch_is_a_clear_error() -> None:
    async with net() as a, net(versions=(3, 4)) as future:
        with pytest.raises(
            UnreachableError, match=r"version mismatch: we speak 3\.\.4, the peer speaks 2\.\.2"
        ):
            await future.send_frame(a.local_addr, b"\x70x")
        assert a.metrics.dropped["version"] == 1
        assert a.metrics.connections_accepted == 0


async def test_a_version_1_node_is_refused_with_a_clear_error() -> None:
    """Version 1 hellos (no destination, no confirm) get the refusal a version 1 node reads."""
    async with net() as a:
        host, port = parse_addr(a.local_addr)
        nonce = Hello.fresh_nonce()
        old = Hello(versions=(1, 1), epoch=1, addr="127.0.0.1:1", nonce=nonce)  # no dst
        async with await anyio.connect_tcp(host, port) as s:
            await s.send(MAGIC + encode_frame(seal_hello(ring(), old, time.time())))
            decoder = FrameDecoder(4096)
            frames: list[bytes] = []
            with anyio.fail_after(5):
                while not frames:
                    frames = decoder.feed(await s.receive())
        refusal, _ = open_hello(ring(), frames[0], ReplayGuard(), time.time(), welcome=True)
        assert refusal.echo == nonce and refusal.version == 0
        assert refusal.error == "protocol version mismatch: we speak 2..2, the peer speaks 1..1"
        assert a.metrics.dropped == {"version": 1} and a.connected_peers() == []


async def test_restart_epochs() -> None:
    same = "127.0.0.1:1"  # three incarnations of one node, all advertising the same address
    async with (
        net() as a,
        net(epoch=5, advertise=same) as first,
        net(epoch=4, advertise=same) as stale,
        net(epoch=6, advertise=same) as restarted,
    ):
        await first.send_frame(a.local_addr, b"\x70one")
        assert await recv(a) == StreamReceived(same, b"\x70one")
        with pytest.raises(UnreachableError, match="refused: a later restart"):
            await stale.send_frame(a.local_addr, b"\x70old")
        assert a.metrics.dropped["epoch"] == 1
        await restarted.send_frame(a.local_addr, b"\x70two")
        got = await recv(a)
        assert isinstance(got, PeerUnreachable) and got.peer == same and "restart" in got.reason
        assert await recv(a) == StreamReceived(same, b"\x70two")


async def test_plaintext_must_be_explicit() -> None:
    with pytest.raises(ConfigError, match="plaintext"):
        NetTransport(net_config(), keyring=None)  # type: ignore[arg-type]
    plain = Keyring.plaintext(cluster="test")
    async with (
        NetTransport(net_config(), keyring=plain) as a,
        NetTransport(net_config(), keyring=Keyring.plaintext(cluster="test")) as b,
    ):
        await a.send_packet(b.local_addr, b"\x70p")
        await a.send_frame(b.local_addr, b"\x70f")
        assert {await recv(b), await recv(b)} == {
            PacketReceived(a.local_addr, b"\x70p"),
            StreamReceived(a.local_addr, b"\x70f"),
        }


async def test_key_rotation_on_live_nodes() -> None:
    new = bytes(range(200, 232))
    ring_a, ring_b = ring(), ring()
    async with net(ring_a) as a, net(ring_b) as b, net(ring()) as old_only:
        await a.send_frame(b.local_addr, b"\x70before")
        assert await recv(b) == StreamReceived(a.local_addr, b"\x70before")
        ring_a.add(new)  # step 1: install everywhere
        ring_b.add(new)
        ring_a.use(new)  # step 2: seal with the new key (b, still on the old one, reads both)
        await a.send_packet(b.local_addr, b"\x70p-new")
        assert await recv(b) == PacketReceived(a.local_addr, b"\x70p-new")
        await b.send_packet(a.local_addr, b"\x70p-old")
        assert await recv(a) == PacketReceived(b.local_addr, b"\x70p-old")
        ring_b.use(new)
        ring_a.remove(KEY)  # step 3: retire the old key everywhere
        ring_b.remove(KEY)
        await a.send_frame(b.local_addr, b"\x70established")  # sessions outlive the rotation
        assert await recv(b) == StreamReceived(a.local_addr, b"\x70established")
        await a.close_stream(b.local_addr)
        assert isinstance(await recv(b), PeerUnreachable)
        await a.send_frame(b.local_addr, b"\x70fresh")  # a new handshake under the new key
        assert await recv(b) == StreamReceived(a.local_addr, b"\x70fresh")
        # a node still on the retired key is now an outsider
        await old_only.send_packet(a.local_addr, b"\x70x")
        with pytest.raises(UnreachableError):
            await old_only.send_frame(a.local_addr, b"\x70x")
        await b.send_packet(a.local_addr, b"\x70marker")
        assert await recv(a) == PacketReceived(b.local_addr, b"\x70marker")
        assert a.metrics.dropped["auth"] == 2


async def test_idle_connection_flood_is_capped() -> None:
    async with net(max_handshakes=2, handshake_timeout=5.0) as a, net() as b:
        host, port = parse_addr(a.local_addr)
        idle = [await anyio.connect_tcp(host, port) for _ in range(5)]
        await until(lambda: a.metrics.dropped.get("handshake", 0) >= 3)  # refused at once
        # While the slots are full, new peers are refused too (the cap bounds sockets, it is not
        # a per-address limit); once the idle connections go, a legitimate peer gets in.
        for s in idle:
            await s.aclose()
        await until(lambda: a.metrics.dropped.get("handshake", 0) >= 5)
        await b.send_frame(a.local_addr, b"\x70in")
        assert await recv(a) == StreamReceived(b.local_addr, b"\x70in")


async def test_accept_failures_back_off_instead_of_stopping() -> None:
    """Out of descriptors (EMFILE) during a flood: the accept loop waits and carries on."""

    class Flaky:
        calls = 0

        async def accept(self) -> anyio.abc.SocketStream:
            self.calls += 1
            if self.calls == 1:
                raise OSError(24, "Too many open files")
            raise anyio.ClosedResourceError

    flaky = Flaky()
    async with net() as a, anyio.create_task_group() as tg:
        with anyio.fail_after(5):
            await a._accept_loop(flaky, tg)  # type: ignore[arg-type]
    assert flaky.calls == 2
