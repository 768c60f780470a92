"""The fault-injecting wrapper: each fault on its own, cuts, and reproducibility (asyncio + trio).

The conformance suite runs it with every fault off (``test_conformance.py``, kind "faulty").
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import pytest

from gossip import ConfigError, PacketReceived, PeerUnreachable, StreamReceived, UnreachableError
from gossip.sim import Constant, Uniform
from gossip.transport import Faults, FaultyTransport, Incoming, MemoryNetwork

pytestmark = pytest.mark.anyio

END = b"\x7fend"


@asynccontextmanager
async def pair(seed: int = 1) -> AsyncIterator[tuple[FaultyTransport, FaultyTransport]]:
    net = MemoryNetwork()
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(FaultyTransport(net.transport("a"), seed=seed))
        b = await stack.enter_async_context(FaultyTransport(net.transport("b"), seed=seed + 1))
        yield a, b


async def drain(t: FaultyTransport, marker: bytes = END, timeout: float = 10.0) -> list[Incoming]:
    """Everything ``t`` receives up to (not including) a payload equal to ``marker``."""
    got: list[Incoming] = []
    with anyio.fail_after(timeout):
        while True:
            item = await t.receive()
            if not isinstance(item, PeerUnreachable) and item.data == marker:
                return got
            got.append(item)


async def nothing_arrives(t: FaultyTransport, wait: float = 0.2) -> bool:
    with anyio.move_on_after(wait):
        await t.receive()
        return False
    return True


async def until(predicate: object, timeout: float = 10.0) -> None:
    assert callable(predicate)
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.01)


def payloads(items: list[Incoming]) -> list[bytes]:
    return [i.data for i in items if not isinstance(i, PeerUnreachable)]


def test_faults_validate() -> None:
    for bad in ({"loss": 1.5}, {"duplicate": -0.1}, {"reorder": 2}, {"latency": -1.0}):
        with pytest.raises(ConfigError):
            Faults(**bad)
    with pytest.raises(ConfigError):
        Faults(reorder_window=-1)
    assert Faults().off and Faults(latency=Constant(0)).off
    assert not Faults(latency=0.01).off and not Faults(loss=0.1).off


async def test_outbound_packet_loss_is_seeded_and_counted() -> None:
    delivered: list[list[bytes]] = []
    for _ in range(2):  # the same seed drops the same packets
        async with pair(seed=7) as (a, b):
            a.packets_out = Faults(loss=0.3)
            for i in range(300):
                await a.send_packet("b", b"\x70" + i.to_bytes(2, "big"))
            a.packets_out = Faults()
            await a.send_packet("b", END)
            got = payloads(await drain(b))
            dropped = a.stats["packets_out_dropped"]
            assert len(got) == 300 - dropped and 50 < dropped < 150
            delivered.append(got)
    assert delivered[0] == delivered[1]


async def test_inbound_packet_loss() -> None:
    async with pair() as (a, b):
        b.packets_in = Faults(loss=0.5)
        for i in range(200):
            await a.send_packet("b", bytes([0x70, i]))
        await a.send_frame("b", END)  # behind the packets in b's inner inbox; frames not lossy
        got = await drain(b)
        assert len(got) == 200 - b.stats["packets_in_dropped"]
        assert 50 < b.stats["packets_in_dropped"] < 150


async def test_duplication_of_packets_and_frames() -> None:
    async with pair() as (a, b):
        a.packets_out = Faults(duplicate=1.0)
        b.frames_in = Faults(duplicate=1.0)
        for i in range(10):
            await a.send_packet("b", bytes([0x70, i]))
            await a.send_frame("b", bytes([0x71, i]))
        a.packets_out = Faults()
        await a.send_frame("b", END)  # duplicated too, after the others
        got = await drain(b)
        packets = [g.data for g in got if isinstance(g, PacketReceived)]
        frames = [g.data for g in got if isinstance(g, StreamReceived)]
        assert sorted(packets) == sorted(bytes([0x70, i]) for i in range(10) for _ in range(2))
        assert frames == [bytes([0x71, i]) for i in range(10) for _ in range(2)]  # in order
        assert a.stats["packets_out_duplicated"] == 10
        assert b.stats["frames_in_duplicated"] == 11  # END too


async def test_latency_delays_a_packet_behind_a_later_one() -> None:
    async with pair() as (a, b):
        a.packets_out = Faults(latency=Constant(1.0))
        await a.send_packet("b", b"\x70slow")
        a.packets_out = Faults()
        await a.send_packet("b", b"\x70fast")
        assert payloads([await b.receive(), await b.receive()]) == [b"\x70fast", b"\x70slow"]
        assert a.stats["packets_out_delayed"] == 1


async def test_random_latency_reorders_packets_but_keeps_frames_in_order() -> None:
    async with pair() as (a, b):
        a.packets_out = Faults(latency=Uniform(0.0, 0.05))
        a.frames_out = Faults(latency=Uniform(0.0, 0.05))
        for i in range(100):
            await a.send_packet("b", bytes([0x70, i]))
            await a.send_frame("b", bytes([0x71, i]))
        got: list[Incoming] = []
        with anyio.fail_after(10):
            while len(got) < 200:
                got.append(await b.receive())
        packets = [g.data[1] for g in got if isinstance(g, PacketReceived)]
        frames = [g.data[1] for g in got if isinstance(g, StreamReceived)]
        assert frames == list(range(100))
        assert sorted(packets) == list(range(100)) and packets != list(range(100))


async def test_reordering_holds_frames_back() -> None:
    async with pair() as (a, b):
        b.frames_in = Faults(reorder=0.3, reorder_window=0.05)
        for i in range(60):
            await a.send_frame("b", bytes([0x71, i]))
        got: list[int] = []
        with anyio.fail_after(10):
            while len(got) < 60:
                got.append((await b.receive()).data[1])  # type: ignore[union-attr]
        assert sorted(got) == list(range(60)) and got != list(range(60))
        assert b.stats["frames_in_reordered"] > 0


async def test_frame_loss_outbound() -> None:
    async with pair() as (a, b):
        a.frames_out = Faults(loss=0.5)
        for i in range(100):
            await a.send_frame("b", bytes([0x71, i]))
        a.frames_out = Faults()
        await a.send_frame("b", END)
        got = [g[1] for g in payloads(await drain(b))]
        assert len(got) == 100 - a.stats["frames_out_dropped"] and got == sorted(got)
        assert 20 < a.stats["frames_out_dropped"] < 80


async def test_symmetric_partition_and_heal() -> None:
    async with pair() as (a, b):
        a.partition(["b"])
        assert a.partitioned == (frozenset({"b"}), frozenset({"b"}))
        await a.send_packet("b", b"\x70lost")
        with pytest.raises(UnreachableError, match="cut off"):
            await a.send_frame("b", b"\x70lost")
        await b.send_packet("a", b"\x70lost")
        await b.send_frame("a", b"\x70lost")  # b's side is not cut: a's black hole eats it
        assert await nothing_arrives(a) and await nothing_arrives(b)
        assert a.stats["packets_out_blocked"] == 1 and a.stats["frames_out_blocked"] == 1
        assert a.stats["packets_in_blocked"] == 1 and a.stats["frames_in_blocked"] == 1
        a.heal()
        await a.send_frame("b", b"\x70back")
        await b.send_packet("a", b"\x70back")
        got_b = payloads([await b.receive()])
        got_a = payloads([i for i in [await a.receive()] if not isinstance(i, PeerUnreachable)])
        assert got_b == [b"\x70back"] or got_a == [b"\x70back"]


async def test_one_way_partition() -> None:
    async with pair() as (a, b):
        a.partition(["b"], direction="out")
        with pytest.raises(UnreachableError):
            await a.send_frame("b", b"\x70x")
        await a.send_packet("b", b"\x70x")
        await b.send_packet("a", b"\x70from-b")
        await b.send_frame("a", b"\x71from-b")
        got = payloads([await a.receive(), await a.receive()])
        assert sorted(got) == [b"\x70from-b", b"\x71from-b"]
        a.heal(["b"])
        a.partition(["b"], direction="in")
        await a.send_frame("b", b"\x70now")
        await b.send_packet("a", b"\x70lost")
        assert payloads([await b.receive()]) == [b"\x70now"]
        assert await nothing_arrives(a)
        with pytest.raises(ConfigError):
            a.partition(["b"], direction="sideways")  # type: ignore[arg-type]


async def test_offline_blocks_everything_then_comes_back() -> None:
    async with pair() as (a, b):
        await a.send_frame("b", b"\x70before")
        assert payloads([await b.receive()]) == [b"\x70before"]
        a.offline = True
        await a.send_packet("b", b"\x70x")
        with pytest.raises(UnreachableError, match="offline"):
            await a.send_frame("b", b"\x70x")
        # b learns that the link closed; what it sends now is lost at a
        assert isinstance(await b.receive(), PeerUnreachable)
        await b.send_packet("a", b"\x70x")
        await b.send_frame("a", b"\x70x")
        assert await nothing_arrives(a) and await nothing_arrives(b)
        a.offline = False
        await a.send_frame("b", b"\x70after")
        await b.send_frame("a", b"\x70after")
        assert payloads([await b.receive()]) == [b"\x70after"]
        assert payloads([await a.receive()]) == [b"\x70after"]


async def test_in_flight_items_are_lost_with_a_cut() -> None:
    async with pair() as (a, b):
        a.packets_out = Faults(latency=Constant(0.3))
        await a.send_packet("b", b"\x70in-flight")
        a.offline = True
        await until(lambda: a.stats.get("packets_out_blocked") == 1)
        assert await nothing_arrives(b)


async def test_a_delayed_frame_that_fails_reports_the_link_broken() -> None:
    async with pair() as (a, _):
        a.frames_out = Faults(latency=Constant(0.05))
        await a.send_frame("nobody", b"\x70x")  # returns: the send happens later
        got = await a.receive()
        assert isinstance(got, PeerUnreachable) and got.peer == "nobody"
        assert a.stats["frames_out_failed"] == 1
