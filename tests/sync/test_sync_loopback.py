"""The sync engine over real TCP on loopback (127.0.0.1), driven by the anyio host: a smaller
version of the simulator scenarios (two replicas, writes on both, a new key, convergence)."""

from __future__ import annotations

import random
from operator import methodcaller

import anyio
import pytest

import crdts
from gossip.runtime import Host
from gossip.transport import Keyring, NetTransport, TransportConfig
from sync import SyncConfig, SyncEngine

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_two_replicas_converge_over_loopback_tcp() -> None:
    ring = Keyring([bytes(32)], cluster="sync-loopback")
    cfg = TransportConfig.local()
    sync_cfg = SyncConfig(sync_interval=0.05)
    a = SyncEngine("a", sync_cfg, random.Random(1))
    b = SyncEngine("b", sync_cfg, random.Random(2))
    with anyio.fail_after(10):
        async with (
            NetTransport(cfg, keyring=ring, epoch=1) as ta,
            Host(ta, [a]) as ha,
            NetTransport(cfg, keyring=ring, epoch=1) as tb,
            Host(tb, [b]) as hb,
        ):
            addr_a, addr_b = ta.local_addr, tb.local_addr
            assert addr_a.startswith("127.0.0.1") and addr_b.startswith("127.0.0.1")
            await ha.call(a, lambda now: a.neighbor_up(addr_b, now))
            await hb.call(b, lambda now: b.neighbor_up(addr_a, now))
            for i in range(20):
                a.update("cart", methodcaller("add", "a", f"a{i}"), create=crdts.ORSet)
                b.update("cart", methodcaller("add", "b", f"b{i}"), create=crdts.ORSet)
            a.update("cart", methodcaller("remove", "a0"))
            a.update("counter", lambda c: c.increment("a", 5), create=crdts.GCounter)
            for _ in range(200):  # bounded: at most 200 * 0.02 s
                if a.get("cart") == b.get("cart") and b.value("counter") == 5:
                    break
                await anyio.sleep(0.02)
            assert a.get("cart") == b.get("cart")
            assert b.value("counter") == 5
            want = {f"a{i}" for i in range(1, 20)} | {f"b{i}" for i in range(20)}
            assert set(a.value("cart")) == want
            assert a.metrics.peer(addr_b).sent_msgs > 0
            assert sum(a.metrics.peer_errors.values()) == 0
