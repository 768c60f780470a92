"""SWIM over real UDP/TCP on 127.0.0.1, run by the anyio Host: five members in one process.

Each member has its own transport (own port, the cluster key) and Host. They join through the
first one; one is stopped; every survivor must declare it dead, and nobody else. Timings are a
scaled-down LAN config so the test takes seconds; every wait is bounded.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

import anyio
import anyio.abc
import pytest

from gossip.runtime import Host
from gossip.swim import MemberDead, MemberState, SwimConfig, SwimCore
from gossip.transport import Keyring, NetTransport, TransportConfig

KEY = bytes(range(32, 64))
CFG = SwimConfig(
    probe_interval=0.2,
    probe_timeout=0.1,
    gossip_interval=0.05,
    push_pull_interval=2.0,
    rejoin_interval=2.0,
    suspicion_mult=3,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class Node:
    addr: str
    swim: SwimCore
    stop: anyio.Event
    stopped: anyio.Event
    dead: list[str]
    transport: NetTransport


async def run_node(
    i: int, seed_addr: list[str], started: list[Node], ready: anyio.Event, cfg: SwimConfig = CFG
) -> None:
    async with NetTransport(
        TransportConfig.local(handshake_timeout=1.0),
        keyring=Keyring([KEY], cluster="swim-test"),
        epoch=1,
    ) as transport:
        addr = transport.local_addr
        swim = SwimCore(addr, cfg, random.Random(i), seeds=seed_addr[:1])
        dead: list[str] = []

        def on_event(ev: object) -> None:
            if isinstance(ev, MemberDead):
                dead.append(ev.addr)

        async with Host(transport, [swim], on_event=on_event):
            node = Node(addr, swim, anyio.Event(), anyio.Event(), dead, transport)
            started.append(node)
            seed_addr.append(addr)
            ready.set()
            await node.stop.wait()
    node.stopped.set()


async def wait_for(pred: object, timeout: float) -> bool:
    assert callable(pred)
    with anyio.move_on_after(timeout):
        while not pred():
            await anyio.sleep(0.05)
        return True
    return bool(pred())


@pytest.mark.anyio
@pytest.mark.parametrize("close_links", [False, True])
async def test_five_members_over_udp_detect_a_stopped_one(close_links: bool) -> None:
    # close_push_pull_links: each push-pull's link is closed once its reply came (the setting
    # for a host running SWIM alone); membership must come out the same.
    cfg = dataclasses.replace(CFG, close_push_pull_links=close_links)
    started: list[Node] = []
    seed_addr: list[str] = []
    async with anyio.create_task_group() as tg:
        for i in range(5):
            ready = anyio.Event()
            tg.start_soon(run_node, i, seed_addr, started, ready, cfg)
            with anyio.fail_after(5.0):
                await ready.wait()
        try:
            everyone = {n.addr for n in started}
            assert await wait_for(lambda: all(set(n.swim.alive()) == everyone for n in started), 15)
            # Every member has had a push-pull answered (join included) by now.
            closed = sum(n.transport.metrics.connections_closed for n in started)
            assert (closed > 0) == close_links
            victim, survivors = started[2], [n for n in started if n is not started[2]]
            victim.stop.set()
            with anyio.fail_after(5.0):
                await victim.stopped.wait()

            def all_dead() -> bool:
                states = [n.swim.member(victim.addr) for n in survivors]
                return all(m is not None and m.state == MemberState.DEAD for m in states)

            assert await wait_for(all_dead, 20.0)
            assert all(n.dead == [victim.addr] for n in survivors)
            rest = {n.addr for n in survivors}
            assert all(set(n.swim.alive()) == rest for n in survivors)
            assert all(n.swim.stats["decode_errors"] == 0 for n in survivors)

        finally:
            for n in started:
                n.stop.set()
