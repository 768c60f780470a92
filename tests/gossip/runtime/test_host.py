"""The anyio host: routing by tag, timers, PeerUnreachable, effects, exception isolation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from gossip import (
    CancelTimer,
    CloseStream,
    ConfigError,
    Effect,
    Emit,
    Event,
    PacketReceived,
    PeerUnreachable,
    SendPacket,
    SendStream,
    SetTimer,
    StreamReceived,
    TimerFired,
    UsageError,
)
from gossip.runtime import Host, HostConfig
from gossip.transport import (
    Keyring,
    MemoryNetwork,
    MemoryTransport,
    NetTransport,
    Transport,
    TransportConfig,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class RecordingCore:
    """A tiny core: emits what it sees, echoes ``ping`` payloads, fails on ``boom``."""

    def __init__(self, protocol: str = "app", tag: int = 0x70) -> None:
        self.protocol = protocol
        self.tag = tag
        self.seen: list[Event] = []
        self.started_at: float | None = None

    def start(self, now: float) -> list[Effect]:
        self.started_at = now
        return [Emit(("started", self.protocol))]

    def handle(self, event: Event, now: float) -> list[Effect]:
        self.seen.append(event)
        if isinstance(event, (PacketReceived, StreamReceived)):
            body = event.data[1:]
            if body == b"boom":
                raise RuntimeError("a bug triggered by a peer")
            if body == b"ping":
                reply = bytes((self.tag,)) + b"pong"
                if isinstance(event, PacketReceived):
                    return [SendPacket(event.src, reply)]
                return [SendStream(event.src, reply)]
            return [Emit((self.protocol, type(event).__name__, event.src, body))]
        if isinstance(event, TimerFired):
            return [Emit((self.protocol, "timer", event.key, now))]
        return [Emit((self.protocol, "unreachable", event.peer))]


async def next_event(host: Host, timeout: float = 5.0) -> object:
    with anyio.fail_after(timeout):
        return await host.events().__anext__()


async def recv_peer(peer: Transport, timeout: float = 5.0) -> object:
    with anyio.fail_after(timeout):
        return await peer.receive()


@asynccontextmanager
async def pair(
    *cores_a: RecordingCore, config: HostConfig | None = None
) -> AsyncIterator[tuple[Host, Transport]]:
    """A host running ``cores_a`` on one memory transport, and a bare peer transport."""
    net = MemoryNetwork(max_frame_size=4096, max_packet_size=1024)
    async with (
        net.transport("a") as ta,
        net.transport("b") as tb,
        Host(ta, list(cores_a), config=config) as host,
    ):
        yield host, tb


async def test_start_and_routing_by_tag() -> None:
    app, sync = RecordingCore("app", 0x70), RecordingCore("sync", 0x48)
    async with pair(app, sync) as (host, peer):
        assert await next_event(host) == ("started", "app")
        assert await next_event(host) == ("started", "sync")
        assert app.started_at is not None
        await peer.send_packet("a", b"\x48to-sync")
        await peer.send_frame("a", b"\x70to-app")
        await peer.send_packet("a", b"\x00nobody")  # unassigned tag
        await peer.send_packet("a", b"\x20hyparview")  # a protocol nobody hosts
        await peer.send_packet("a", b"\x71last")
        assert await next_event(host) == ("sync", "PacketReceived", "b", b"to-sync")
        assert await next_event(host) == ("app", "StreamReceived", "b", b"to-app")
        assert await next_event(host) == ("app", "PacketReceived", "b", b"last")
        assert host.metrics.unrouted == 2
        assert [type(e) for e in sync.seen] == [PacketReceived]


async def test_effects_reach_the_network() -> None:
    app = RecordingCore()
    async with pair(app) as (_, peer):
        await peer.send_packet("a", b"\x70ping")
        await peer.send_frame("a", b"\x70ping")
        with anyio.fail_after(5):
            got = {await peer.receive(), await peer.receive()}
        assert got == {PacketReceived("a", b"\x70pong"), StreamReceived("a", b"\x70pong")}


async def test_timers_fire_in_order_reset_and_cancel() -> None:
    app = RecordingCore()
    async with pair(app) as (host, _):
        await next_event(host)  # started

        def arm(now: float) -> list[Effect]:
            return [
                SetTimer("a", now + 0.08),
                SetTimer("b", now + 0.01),
                SetTimer("c", now + 0.03),
                CancelTimer("c"),
                SetTimer("a", now + 0.04),  # reset: replaces the 0.08 deadline
                SetTimer("sentinel", now + 0.15),
            ]

        await host.call(app, arm)
        assert host.timer_deadline(app, "c") is None
        fired = [await next_event(host) for _ in range(3)]
        assert [f[2] for f in fired] == ["b", "a", "sentinel"]  # type: ignore[index]
        keys = [e.key for e in app.seen if isinstance(e, TimerFired)]
        assert keys == ["b", "a", "sentinel"]  # "a" once, "c" never
        assert host.metrics.timers_fired == 3


async def test_a_cancelled_timer_does_not_wake_the_host() -> None:
    """A SWIM member cancels its probe timeout every period: the alarm must move on to the next
    deadline, not ring for nothing (one wasted wake-up per period at rest)."""
    app = RecordingCore()
    async with pair(app) as (host, _):
        await next_event(host)
        await host.call(
            app, lambda now: [SetTimer("timeout", now + 0.03), SetTimer("tick", now + 0.2)]
        )
        await host.call(app, lambda now: [CancelTimer("timeout")])
        event = await next_event(host)
        assert event[:3] == ("app", "timer", "tick")  # type: ignore[index]
        assert host.metrics.alarms == 1  # only for "tick"
        await host.call(app, lambda now: [SetTimer("last", now + 0.03), CancelTimer("last")])
        await anyio.sleep(0.1)
        assert host.metrics.alarms == 1 and host.metrics.timers_fired == 1


async def test_timer_now_is_not_before_its_deadline() -> None:
    app = RecordingCore()
    async with pair(app) as (host, _):
        await next_event(host)
        effects = await host.call(app, lambda now: [SetTimer("t", now + 0.02)])
        deadline = effects[0].at  # type: ignore[union-attr]
        event = await next_event(host)
        assert event[:3] == ("app", "timer", "t")  # type: ignore[index]
        assert event[3] >= deadline  # type: ignore[index]


async def test_timer_keys_are_private_to_a_core() -> None:
    app, sync = RecordingCore("app"), RecordingCore("sync")
    async with pair(app, sync) as (host, _):
        await next_event(host)
        await next_event(host)
        await host.call(app, lambda now: [SetTimer("k", now + 0.02)])
        await host.call(sync, lambda now: [SetTimer("k", now + 0.01), CancelTimer("k")])
        event = await next_event(host)
        assert isinstance(event, tuple) and event[:3] == ("app", "timer", "k")
        assert not any(isinstance(e, TimerFired) for e in sync.seen)


async def test_unreachable_peer_is_fed_to_every_core() -> None:
    app, sync = RecordingCore("app"), RecordingCore("sync")
    async with pair(app, sync) as (host, _):
        await next_event(host)
        await next_event(host)
        await host.call(
            app, lambda now: [SendStream("nobody", b"\x70x"), SendStream("nobody", b"\x70y")]
        )
        assert await next_event(host) == ("app", "unreachable", "nobody")
        assert await next_event(host) == ("sync", "unreachable", "nobody")
        assert host.metrics.send_failures == 2 and host.metrics.unreachable == 1


async def test_dropped_connection_is_fed_to_every_core() -> None:
    app, sync = RecordingCore("app"), RecordingCore("sync")
    async with pair(app, sync) as (host, peer):
        await next_event(host)
        await next_event(host)
        await peer.send_frame("a", b"\x70hi")
        assert await next_event(host) == ("app", "StreamReceived", "b", b"hi")
        await peer.close_stream("a")
        assert await next_event(host) == ("app", "unreachable", "b")
        assert await next_event(host) == ("sync", "unreachable", "b")


async def test_close_stream_flushes_frames_first() -> None:
    app = RecordingCore()
    async with pair(app) as (host, peer):
        await host.call(
            app,
            lambda now: [SendStream("b", b"\x701"), SendStream("b", b"\x702"), CloseStream("b")],
        )
        with anyio.fail_after(5):
            got = [await peer.receive() for _ in range(3)]
        assert got == [
            StreamReceived("a", b"\x701"),
            StreamReceived("a", b"\x702"),
            PeerUnreachable("a", "the peer closed the connection"),
        ]


async def test_oversized_frames_from_a_core_are_dropped_and_counted() -> None:
    app = RecordingCore()
    async with pair(app) as (host, peer):  # max_frame_size=4096 on this network
        await host.call(
            app,
            lambda now: [
                SendStream("b", b"\x70" + bytes(5000)),
                SendPacket("b", b"\x70" + bytes(2000)),
                SendStream("b", b"\x70fits"),
            ],
        )
        assert await recv_peer(peer) == StreamReceived("a", b"\x70fits")
        assert host.metrics.oversize_sends == 2


async def test_many_queued_frames_arrive_in_order() -> None:
    app = RecordingCore()
    async with pair(app) as (host, peer):
        await host.call(app, lambda now: [SendStream("b", b"\x70%d" % i) for i in range(600)])
        got = [await recv_peer(peer) for _ in range(600)]
        assert got == [StreamReceived("a", b"\x70%d" % i) for i in range(600)]


async def test_a_failing_core_does_not_kill_the_node() -> None:
    app = RecordingCore()
    async with pair(app) as (host, peer):
        await next_event(host)
        await peer.send_packet("a", b"\x70boom")
        await peer.send_frame("a", b"\x70boom")
        await peer.send_packet("a", b"\x70after")
        assert await next_event(host) == ("app", "PacketReceived", "b", b"after")
        assert host.metrics.core_errors == 2


async def test_callback_only_never_fills_the_event_buffer() -> None:
    """An app that only uses on_event loses nothing to a buffer nobody reads (issue 10: the
    old host filled events() anyway and counted every later event as dropped)."""
    seen: list[object] = []
    app = RecordingCore()
    net = MemoryNetwork()
    async with (
        net.transport("a") as ta,
        Host(ta, [app], on_event=seen.append, config=HostConfig(event_buffer=1)) as host,
    ):
        await host.call(app, lambda now: [Emit(i) for i in range(100)])
        assert seen == [("started", "app"), *range(100)]
        assert host.metrics.events_emitted == 101 and host.metrics.events_dropped == 0


async def test_event_buffer_fills_once_read_and_overflow_is_loud(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[object] = []
    app = RecordingCore()
    net = MemoryNetwork()
    async with (
        net.transport("a") as ta,
        Host(ta, [app], on_event=seen.append, config=HostConfig(event_buffer=2)) as host,
    ):
        events = host.events()  # from now on events are kept for this iterator
        with caplog.at_level("WARNING", logger="gossip.runtime"):
            await host.call(app, lambda now: [Emit(1), Emit(2), Emit(3), Emit(4)])
            assert seen == [("started", "app"), 1, 2, 3, 4]  # the callback sees everything
            assert host.metrics.events_dropped == 2
            with anyio.fail_after(5):
                assert [await events.__anext__(), await events.__anext__()] == [1, 2]
            await host.call(app, lambda now: [Emit(5), Emit(6), Emit(7)])
        assert host.metrics.events_dropped == 3
        warnings = [r for r in caplog.records if "events() buffer full" in r.getMessage()]
        assert len(warnings) == 2  # once per burst of drops, not once per event


async def test_without_a_callback_events_are_buffered_from_the_start() -> None:
    app = RecordingCore()
    async with pair(app) as (host, _):
        assert await next_event(host) == ("started", "app")


class PokeCore:
    """Sends a frame to ``dst`` every ``every`` seconds (as the sync engine does each round)."""

    protocol = "app"

    def __init__(self, dst: str, every: float = 0.02) -> None:
        self.dst = dst
        self.every = every
        self.ticks = 0
        self.unreachable = 0

    def start(self, now: float) -> list[Effect]:
        return [SetTimer("tick", now)]

    def handle(self, event: Event, now: float) -> list[Effect]:
        if isinstance(event, TimerFired):
            self.ticks += 1
            return [SendStream(self.dst, b"\x70x"), SetTimer("tick", now + self.every)]
        if isinstance(event, PeerUnreachable):
            self.unreachable += 1
        return []


async def test_a_dead_peer_is_redialled_with_backoff_not_every_round() -> None:
    """Issue 10: a neighbour that is down was dialled again on every send (15 failed connects
    in about 5 s); now the waits double from 0.2 s up to the cap."""
    poke = PokeCore("nobody", every=0.02)
    net = MemoryNetwork()
    async with net.transport("a") as ta, Host(ta, [poke]) as host:
        with anyio.fail_after(30):
            while poke.ticks < 60:  # 60 rounds, each sending a frame to the dead peer
                await anyio.sleep(0.01)
        # Rounds come every 20 ms; dials at about 0, 0.2, 0.6, 1.4, ... s of host time.
        assert ta.metrics.connect_failures <= 8, ta.metrics.connect_failures
        assert poke.unreachable == ta.metrics.connect_failures
        assert host.metrics.backoff_waits >= 1
        assert host.backoff.failures("nobody") == ta.metrics.connect_failures


async def test_a_frame_from_the_peer_lifts_its_backoff() -> None:
    app = RecordingCore()
    net = MemoryNetwork()
    config = HostConfig(reconnect_backoff=60.0, reconnect_backoff_max=60.0)
    async with net.transport("a") as ta, Host(ta, [app], config=config) as host:
        await next_event(host)
        await host.call(app, lambda now: [SendStream("b", b"\x70first")])
        assert await next_event(host) == ("app", "unreachable", "b")  # b is not up yet
        await host.call(app, lambda now: [SendStream("b", b"\x70second")])  # held: 60 s
        async with net.transport("b") as tb:
            await tb.send_frame("a", b"\x70hello")  # b comes up and talks to us
            assert await recv_peer(tb) == StreamReceived("a", b"\x70second")  # at once
        assert host.backoff.failures("b") == 0


async def test_leaving_does_not_wait_for_peers_in_backoff() -> None:
    app = RecordingCore()
    net = MemoryNetwork()
    config = HostConfig(reconnect_backoff=60.0, reconnect_backoff_max=60.0, drain_timeout=30.0)
    async with net.transport("a") as ta:
        with anyio.fail_after(10):  # the drain skips a queue held by a 60 s backoff
            async with Host(ta, [app], config=config) as host:
                await next_event(host)
                await host.call(app, lambda now: [SendStream("b", b"\x70x")])
                assert await next_event(host) == ("app", "unreachable", "b")
                await host.call(app, lambda now: [SendStream("b", b"\x70y")])
                await anyio.sleep(0.05)
                assert host.metrics.backoff_waits == 1


async def test_send_queue_overflow_declares_the_link_failed() -> None:
    app = RecordingCore()
    net = MemoryNetwork(inbox_size=1)
    async with (
        net.transport("a") as ta,
        net.transport("slow"),  # never reads: its inbox of one frame fills at once
        Host(ta, [app], config=HostConfig(send_queue_limit=3)) as host,
    ):
        await next_event(host)
        await host.call(app, lambda now: [SendStream("slow", b"\x70%d" % i) for i in range(10)])
        assert await next_event(host) == ("app", "unreachable", "slow")
        assert host.metrics.queue_overflows >= 1


async def test_misuse_is_typed() -> None:
    net = MemoryNetwork()
    async with net.transport("a") as ta:
        with pytest.raises(ConfigError):
            Host(ta, [RecordingCore("app"), RecordingCore("app")])
        with pytest.raises(ConfigError):
            Host(ta, [RecordingCore("nonsense")])
        app, stranger = RecordingCore(), RecordingCore("sync")
        host = Host(ta, [app])
        with pytest.raises(UsageError):
            await host.call(app, lambda now: [])  # not started
        async with host:
            with pytest.raises(UsageError):
                await host.call(stranger, lambda now: [])
            with pytest.raises(ZeroDivisionError):
                await host.call(app, lambda now: [Emit(1 // 0)])  # the caller's bug surfaces


async def test_host_over_real_sockets() -> None:
    """Two hosts on UDP/TCP loopback: packets and frames both ways, then a node goes away."""
    ring = Keyring([bytes(32)], cluster="host-test")
    cfg = TransportConfig.local()
    a_core, b_core = RecordingCore(), RecordingCore()
    async with NetTransport(cfg, keyring=ring, epoch=1) as ta, Host(ta, [a_core]) as ha:
        async with NetTransport(cfg, keyring=ring, epoch=1) as tb, Host(tb, [b_core]) as hb:
            await next_event(ha)
            await next_event(hb)
            await ha.call(
                a_core,
                lambda now: [
                    SendPacket(tb.local_addr, b"\x70hi"),
                    SendStream(tb.local_addr, b"\x70ping"),
                ],
            )
            assert await next_event(hb) == ("app", "PacketReceived", ta.local_addr, b"hi")
            # b answers the ping over the same connection: a receives the pong
            assert await next_event(ha) == ("app", "StreamReceived", tb.local_addr, b"pong")
            assert ta.metrics.connections_opened == 1 and tb.metrics.connections_opened == 0
            addr_b = tb.local_addr
        assert await next_event(ha) == ("app", "unreachable", addr_b)


async def test_unexpected_transport_failure_does_not_kill_the_node() -> None:
    class Faulty(MemoryTransport):
        async def send_frame(self, dst: str, data: bytes) -> None:
            raise RuntimeError("driver bug")

        async def send_packet(self, dst: str, data: bytes) -> None:
            raise RuntimeError("driver bug")

    net = MemoryNetwork()
    app = RecordingCore()
    async with Faulty(net, "a") as ta, net.transport("b") as tb, Host(ta, [app]) as host:
        await next_event(host)
        await host.call(app, lambda now: [SendPacket("b", b"\x70x"), SendStream("b", b"\x70y")])
        assert await next_event(host) == ("app", "unreachable", "b")
        await tb.send_packet("a", b"\x70still-up")
        assert await next_event(host) == ("app", "PacketReceived", "b", b"still-up")


async def test_normal_exit_flushes_queued_frames() -> None:
    net = MemoryNetwork()
    app = RecordingCore()
    async with net.transport("a") as ta, net.transport("b") as tb:
        async with Host(ta, [app]) as host:
            await host.call(app, lambda now: [SendStream("b", b"\x70bye%d" % i) for i in range(3)])
        got = [await recv_peer(tb) for _ in range(3)]
        assert got == [StreamReceived("a", b"\x70bye%d" % i) for i in range(3)]


async def test_a_core_failing_to_start_fails_the_host() -> None:
    class BadStart(RecordingCore):
        def start(self, now: float) -> list[Effect]:
            raise ValueError("bad config")

    net = MemoryNetwork()
    async with net.transport("a") as ta:
        with pytest.raises(ValueError, match="bad config"):
            async with Host(ta, [BadStart()]):
                pytest.fail("the body must not run")


async def test_the_bodys_exception_comes_out_unwrapped() -> None:
    net = MemoryNetwork()
    ring = Keyring.plaintext(cluster="t")
    with pytest.raises(KeyError, match="mine"):
        async with net.transport("a") as ta, Host(ta, [RecordingCore()]):
            raise KeyError("mine")
    with pytest.raises(KeyError, match="mine"):
        async with NetTransport(TransportConfig.local(), keyring=ring) as tn, Host(tn, []):
            raise KeyError("mine")


async def test_outer_cancellation_exits_cleanly() -> None:
    net = MemoryNetwork()
    ring = Keyring.plaintext(cluster="t")
    with anyio.fail_after(5):
        with anyio.move_on_after(0.05) as scope:
            async with (
                net.transport("a") as ta,
                NetTransport(TransportConfig.local(), keyring=ring) as tn,
                Host(ta, [RecordingCore()]),
                Host(tn, [RecordingCore()]),
            ):
                await anyio.sleep(10)
        assert scope.cancelled_caught


async def test_frames_reach_their_core_from_the_task_that_read_them() -> None:
    """Over a ``DirectFrames`` transport a frame is handled by the transport's read loop (no
    queue, no second task), and the host hands the path back on leaving."""
    ring = Keyring([bytes(32)], cluster="host-test")
    cfg = TransportConfig.local()
    tasks: list[str] = []

    class TaskCore(RecordingCore):
        def handle(self, event: Event, now: float) -> list[Effect]:
            tasks.append(anyio.get_current_task().name or "")
            return super().handle(event, now)

    a_core, b_core = RecordingCore(), TaskCore()
    async with (
        NetTransport(cfg, keyring=ring, epoch=1) as ta,
        Host(ta, [a_core]) as ha,
        NetTransport(cfg, keyring=ring, epoch=1) as tb,
    ):
        async with Host(tb, [b_core]) as hb:
            await next_event(hb)
            await ha.call(a_core, lambda now: [SendStream(tb.local_addr, b"\x70one")])
            assert await next_event(hb) == ("app", "StreamReceived", ta.local_addr, b"one")
            assert len(tasks) == 1 and "NetTransport" in tasks[0]  # not Host._receive_loop
        await ha.call(a_core, lambda now: [SendStream(tb.local_addr, b"\x70two")])
        item = await recv_peer(tb)  # no host: queued for receive() again
        assert isinstance(item, StreamReceived) and item.data == b"\x70two"


async def test_a_peers_sender_waits_between_bursts_and_ends_with_the_link() -> None:
    """One sender task per peer serves every burst (no task started per burst), and it ends when
    the link does: a reported ``PeerUnreachable`` leaves no idle task behind."""
    app = RecordingCore()
    async with pair(app) as (host, peer):
        await next_event(host)
        for burst in (b"\x701", b"\x702"):
            effects: list[Effect] = [SendStream("b", burst)]

            def send(now: float, effects: list[Effect] = effects) -> list[Effect]:
                return effects

            await host.call(app, send)
            assert await recv_peer(peer) == StreamReceived("a", burst)
            with anyio.fail_after(5):
                while "b" not in host._idle:  # the sender went idle, waiting for more
                    await anyio.sleep(0.001)
        assert list(host._outq) == ["b"]
        await peer.close_stream("a")
        assert await next_event(host) == ("app", "unreachable", "b")
        with anyio.fail_after(5):
            while host._outq or host._idle:
                await anyio.sleep(0.001)
        # A new frame starts a new sender.
        await host.call(app, lambda now: [SendStream("b", b"\x703")])
        with anyio.fail_after(5):
            while "b" not in host._idle:
                await anyio.sleep(0.001)
