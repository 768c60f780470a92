"""HyParView (and Plumtree on top) over real TCP on 127.0.0.1, run by the anyio Host.

Ten nodes in one process, each with its own transport (own port, the cluster key) and Host.
Three are stopped; the survivors must notice through the reliable link, refill their active
views from their passive views, and stay one connected, symmetric overlay. Every wait is bounded.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import partial

import anyio
import anyio.abc
import pytest

from gossip.hyparview import HyParView, HyParViewConfig
from gossip.plumtree import Delivered, Plumtree, PlumtreeConfig
from gossip.runtime import Host
from gossip.transport import Keyring, NetTransport, TransportConfig

KEY = bytes(range(32))
CFG = HyParViewConfig.local().with_(active_size=4, passive_size=12)


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class Node:
    addr: str
    hv: HyParView
    pt: Plumtree
    host: Host
    stop: anyio.Event
    stopped: anyio.Event
    delivered: list[bytes]


async def run_node(i: int, started: list[Node], ready: anyio.Event) -> None:
    """One node's life in its own task (task groups must close in the task that opened them)."""
    async with NetTransport(
        TransportConfig.local(handshake_timeout=1.0),
        keyring=Keyring([KEY], cluster="hv-test"),
        epoch=1,
    ) as transport:
        addr = transport.local_addr
        hv = HyParView(addr, rng=random.Random(i), config=CFG, epoch=1)
        pt = Plumtree(addr, rng=random.Random(100 + i), config=PlumtreeConfig.lan(), neighbors=hv)
        delivered: list[bytes] = []

        def on_event(ev: object) -> None:
            if isinstance(ev, Delivered):
                delivered.append(ev.payload)

        async with Host(transport, [hv, pt], on_event=on_event) as host:
            node = Node(addr, hv, pt, host, anyio.Event(), anyio.Event(), delivered)
            started.append(node)
            ready.set()
            await node.stop.wait()
    node.stopped.set()


async def start_node(tg: anyio.abc.TaskGroup, i: int, started: list[Node]) -> Node:
    ready = anyio.Event()
    tg.start_soon(run_node, i, started, ready)
    with anyio.fail_after(5.0):
        await ready.wait()
    return started[-1]


async def stop_node(n: Node) -> None:
    n.stop.set()
    with anyio.fail_after(5.0):
        await n.stopped.wait()


def overlay_ok(nodes: list[Node], min_degree: int) -> bool:
    addrs = {n.addr for n in nodes}
    by_addr = {n.addr: n for n in nodes}
    for n in nodes:
        view = n.hv.active_view
        if len(view) < min_degree or not view <= addrs:
            return False
        if any(n.addr not in by_addr[p].hv.active_view for p in view):
            return False  # asymmetric
    seen = {nodes[0].addr}
    stack = [nodes[0].addr]
    while stack:
        for p in by_addr[stack.pop()].hv.active_view:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return seen == addrs


async def wait_for(pred: object, timeout: float) -> bool:
    assert callable(pred)
    with anyio.move_on_after(timeout):
        while not pred():
            await anyio.sleep(0.05)
        return True
    return bool(pred())


@pytest.mark.anyio
async def test_ten_nodes_over_tcp_survive_three_stopping() -> None:
    started: list[Node] = []
    async with anyio.create_task_group() as tg:
        nodes = [await start_node(tg, i, started) for i in range(10)]
        try:
            await scenario(nodes)
        finally:
            for n in nodes:
                n.stop.set()


async def scenario(nodes: list[Node]) -> None:
    seed = nodes[0].addr
    for n in nodes[1:]:
        await n.host.call(n.hv, partial(n.hv.join, [seed]))
        await anyio.sleep(0.05)
    assert await wait_for(lambda: overlay_ok(nodes, 2), 20.0), [
        sorted(n.hv.active_view) for n in nodes
    ]

    stopped, survivors = nodes[1:4], [nodes[0], *nodes[4:]]
    dead = {n.addr for n in stopped}
    for n in stopped:
        await stop_node(n)
    assert await wait_for(lambda: overlay_ok(survivors, 2), 20.0), [
        sorted(n.hv.active_view) for n in survivors
    ]
    assert all(not (n.hv.active_view & dead) for n in survivors)
    assert sum(n.hv.stats.failures for n in survivors) > 0

    # A broadcast from a survivor reaches every other survivor exactly once.
    src = survivors[-1]
    await src.host.call(src.pt, lambda now: src.pt.broadcast(b"after the crash", now))
    assert await wait_for(
        lambda: all(b"after the crash" in n.delivered for n in survivors if n is not src), 10.0
    )
    assert all(n.delivered.count(b"after the crash") <= 1 for n in survivors)
