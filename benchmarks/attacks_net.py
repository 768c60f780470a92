"""The network attacks of docs/security.md, rerun against this code over loopback.

``python -m benchmarks.attacks_net`` (``--quick``: smaller floods) plays a stranger on the
network, and a member holding the key where the attack needs one, against real transports and
cores in this process (asyncio), and reports each outcome; the goals say the node held. The
tests in ``tests/gossip/transport/test_attacks.py`` assert the same outcomes; this reports the
figures (memory, time, counts) of the full-size attacks of issue 12.
"""

from __future__ import annotations

import contextlib
import random
import socket
import sys
import time
from contextlib import AsyncExitStack
from typing import Any

import anyio
import anyio.abc

from benchmarks._harness import Bench
from gossip import PacketReceived, SendStream, StreamReceived, UnreachableError
from gossip.plumtree import Gossip as PlumtreeGossip
from gossip.plumtree import Plumtree, PlumtreeConfig
from gossip.plumtree import encode as plumtree_encode
from gossip.swim import SwimConfig, SwimCore
from gossip.swim._messages import (
    Gossip,
    PushPull,
    Update,
    UpdateKind,
    encode_message,
    encode_push_pull,
)
from gossip.transport import (
    MAGIC,
    FrameDecoder,
    Keyring,
    NetTransport,
    TransportConfig,
    parse_addr,
)

KEY = bytes(range(32))


def ring() -> Keyring:
    return Keyring([KEY], cluster="attacks")


def node(*, epoch: int = 1, **overrides: Any) -> NetTransport:
    return NetTransport(TransportConfig.local(**overrides), keyring=ring(), epoch=epoch)


def rss_mb() -> float:
    """Resident memory of this process (Linux), in MB; 0 elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def next_or_none(t: NetTransport, timeout: float) -> object:
    with anyio.move_on_after(timeout):
        return await t.receive()
    return None


async def record_hello(sender: NetTransport) -> bytes:
    """The bytes ``sender`` opens a connection with, recorded by a listener that never answers."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    addr = f"127.0.0.1:{listener.extra(anyio.abc.SocketAttribute.local_port)}"
    recorded = b""

    async def dial() -> None:
        with contextlib.suppress(UnreachableError):
            await sender.send_frame(addr, b"\x70to the recorder")

    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(dial)
        stream = await listener.listeners[0].accept()  # type: ignore[attr-defined]
        decoder = FrameDecoder(4096)
        while True:
            chunk = await stream.receive()
            first = not recorded
            recorded += chunk
            if decoder.feed(chunk[len(MAGIC) :] if first else chunk):
                break
        await stream.aclose()
    return recorded


async def replayed_hello(bench: Bench) -> None:
    async with node() as b, node() as c:
        hello = await record_hello(c)
        host, port = parse_addr(b.local_addr)
        replayer = await anyio.connect_tcp(host, port)
        await replayer.send(hello)
        await anyio.sleep(0.3)
        captured = c.local_addr in b.connected_peers()
        await b.send_frame(c.local_addr, b"\x70for C")
        got = await next_or_none(c, 2.0)
        await replayer.aclose()
    reached = isinstance(got, StreamReceived)
    bench.row(
        attack="C's hello recorded, replayed to B",
        count=1,
        outcome=f"captured={captured}, C got B's frame={reached}",
        dropped=str(dict(b.metrics.dropped)),
    )
    bench.goal("replayed_hello_links_captured", float(captured), "== 0")


async def replayed_datagram(bench: Bench) -> None:
    async with (
        node() as b,
        node() as c,
        await anyio.create_udp_socket(local_host="127.0.0.1") as a_sock,
    ):
        a_addr = f"127.0.0.1:{a_sock.extra(anyio.abc.SocketAttribute.local_port)}"
        await c.send_packet(a_addr, b"\x70for A")
        data, _ = await a_sock.receive()
        host, port = parse_addr(b.local_addr)
        await a_sock.sendto(data, host, port)
        got = await next_or_none(b, 1.0)
    accepted = isinstance(got, PacketReceived)
    bench.row(
        attack="C's datagram for A, replayed to B",
        count=1,
        outcome=f"accepted by B={accepted}",
        dropped=str(dict(b.metrics.dropped)),
    )
    bench.goal("replayed_datagram_accepted", float(accepted), "== 0")


async def handshake_slots(bench: Bench) -> None:
    n, tries = 160, 3
    async with node(max_handshakes=32, handshake_timeout=5.0) as a, node() as joiner:
        host, port = parse_addr(a.local_addr)
        idle = [
            await anyio.connect_tcp(host, port, local_host=f"127.0.0.{2 + i % 2}") for i in range(n)
        ]
        await anyio.sleep(0.2)
        ok = 0
        for _ in range(tries):
            try:
                await joiner.send_frame(a.local_addr, b"\x70join")
                ok += isinstance(await next_or_none(a, 1.0), StreamReceived)
                await joiner.close_stream(a.local_addr)
                await next_or_none(a, 1.0)
            except UnreachableError:
                pass
        for s in idle:
            await s.aclose()
    bench.row(
        attack="idle connections against 32 handshake slots, then a joiner",
        count=n,
        outcome=f"{ok} of {tries} joins",
        dropped=str(dict(a.metrics.dropped)),
    )
    bench.goal("joins_while_160_idle_connections_held", ok, f">= {tries}")


async def kernel_drops(bench: Bench) -> None:
    n = 2_000 if bench.quick else 20_000
    async with node() as a:
        host, port = parse_addr(a.local_addr)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as flood:
            for _ in range(n):  # blocking sends: the event loop cannot read meanwhile
                flood.sendto(b"\x01" + bytes(999), (host, port))
        with anyio.move_on_after(5.0):
            while a.metrics.dropped_total < n:
                await anyio.sleep(0.05)
        dropped = dict(a.metrics.dropped)
    bench.row(
        attack="garbage datagrams while the event loop is blocked",
        count=n,
        outcome=f"{sum(dropped.values())} accounted for",
        dropped=str(dropped),
    )
    if sys.platform == "linux":
        bench.goal("datagrams_unaccounted", n - sum(dropped.values()), "== 0")


async def epoch_poisoning(bench: Bench) -> None:
    async with node() as b, node(epoch=5) as c:
        async with node(epoch=2**63 - 1, advertise=c.local_addr) as claimant:
            await claimant.send_frame(b.local_addr, b"\x70I am C")
            await next_or_none(b, 1.0)
        await anyio.sleep(0.3)
        ok = False
        try:
            await c.send_frame(b.local_addr, b"\x70the real C")
            for _ in range(3):
                if isinstance(await next_or_none(b, 1.0), StreamReceived):
                    ok = True
                    break
        except UnreachableError:
            pass
    bench.row(
        attack="hello claiming C's address with epoch 2^63-1, then the real C",
        count=1,
        outcome=f"real C accepted={ok}",
        dropped=str(dict(b.metrics.dropped)),
    )
    bench.goal("real_peer_locked_out_by_claimed_epoch", float(not ok), "== 0")


async def unfinished_frames(bench: Bench) -> None:
    n = 30 if bench.quick else 150
    partial = (3 << 20).to_bytes(4, "big") + bytes(2 << 20)  # 2 MiB of a 3 MiB frame
    async with node() as a, AsyncExitStack() as stack:
        before = rss_mb()
        for i in range(n):  # key holders: they complete the handshake, then stall mid-frame
            c = await stack.enter_async_context(node(advertise=f"127.0.0.1:{20000 + i}"))
            await c.send_frame(a.local_addr, b"\x70hi")
            conn = c._conns[a.local_addr][0]  # the raw link, to send half a frame
            with contextlib.suppress(Exception):
                await conn.stream.send(partial)
        await anyio.sleep(1.0)
        growth = rss_mb() - before
        held = a.buffered_bytes
    bench.row(
        attack="authenticated links each holding 2 MiB of an unfinished frame",
        count=n,
        outcome=f"RSS +{growth:.0f} MB, {held / 2**20:.0f} MiB buffered (cap 64 MiB)",
        dropped=str(dict(a.metrics.dropped)),
    )
    bench.goal("unfinished_frame_bytes_held_mib", round(held / 2**20, 1), "<= 64")


def fake_members(n: int) -> tuple[tuple[str, int, int, bytes], ...]:
    return tuple((f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}:7946", 0, 0, b"") for i in range(n))


def swim_push_pull(bench: Bench) -> None:
    from gossip import StreamReceived as Received

    n = 60_000 if bench.quick else 400_000
    core = SwimCore("me", SwimConfig(), random.Random(7), known=("a", "b"))
    core.start(0.0)
    frame = encode_push_pull(PushPull(False, True, fake_members(n)))
    t0 = time.perf_counter()
    core.handle(Received("a", frame), 1.0)
    took = time.perf_counter() - t0
    kept = len(core.members())
    bench.row(
        attack=f"push-pull listing fake members ({len(frame) / 1e6:.1f} MB)",
        count=n,
        outcome=f"{kept} members kept, handled in {took:.2f} s",
        dropped=f"decode_errors={core.stats['decode_errors']}",
    )
    bench.goal("fake_members_kept", kept, "<= 50000")
    bench.goal("fake_push_pull_handle_s", round(took, 3), "<= 1.0")

    m = 2_000 if bench.quick else 20_000
    known = [f"member-{i:05d}.example:7946" for i in range(m)]
    cfg = SwimConfig(max_push_pull_bytes=1 << 20) if bench.quick else SwimConfig()
    core = SwimCore("me", cfg, random.Random(7), known=known, meta=bytes(512))
    core.start(0.0)
    for i in range(0, m, 50):
        ups = tuple(Update(UpdateKind.ALIVE, a, 1, meta=bytes(512)) for a in known[i : i + 50])
        core.handle(PacketReceived("a", encode_message(Gossip(ups))), 0.5)
    out = core.join(["seed:1"], 1.0)
    size = max(len(e.data) for e in out if isinstance(e, SendStream))
    bench.row(
        attack="our own push-pull, members with 512-byte metadata",
        count=m,
        outcome=f"{size} bytes (cap {cfg.max_push_pull_bytes})",
        dropped=f"push_pull_truncated={core.stats['push_pull_truncated']}",
    )
    bench.goal("own_push_pull_over_cap_bytes", max(0, size - cfg.max_push_pull_bytes), "== 0")


def plumtree_payloads(bench: Bench) -> None:
    from gossip import StreamReceived as Received

    n = 10 if bench.quick else 50
    pt = Plumtree("me", rng=random.Random(0), config=PlumtreeConfig())
    for p in ("a", "b", "c"):
        pt.neighbor_up(p, 0.0)
    big = bytes(4 << 20)
    forwarded = 0
    for i in range(n):
        out = pt.handle(Received("a", plumtree_encode(PlumtreeGossip(1000 + i, 0, big))), 1.0)
        forwarded += sum(len(e.data) for e in out if isinstance(e, SendStream))
    bench.row(
        attack="Plumtree GOSSIP of 4 MiB",
        count=n,
        outcome=f"{pt.cached_bytes} bytes kept, {forwarded} forwarded",
        dropped=f"oversize_dropped={pt.stats.oversize_dropped}",
    )
    bench.goal("plumtree_oversize_bytes_kept_or_forwarded", pt.cached_bytes + forwarded, "== 0")


def main(argv: list[str] | None = None) -> None:
    bench = Bench(
        "attacks_net",
        description="the network attacks of docs/security.md, against this code on loopback",
        argv=argv,
    )

    async def run() -> None:
        steps = [
            replayed_hello,
            replayed_datagram,
            handshake_slots,
            kernel_drops,
            epoch_poisoning,
            unfinished_frames,
        ]
        for step in bench.progress(steps, "attacks"):
            await step(bench)

    anyio.run(run)
    swim_push_pull(bench)
    plumtree_payloads(bench)
    bench.finish()


if __name__ == "__main__":
    main()
