"""Offline-first: a node alone (seeds unreachable) serves reads and writes, then converges when
peers appear; go_offline()/go_online() cut a node off and bring it back."""

from __future__ import annotations

import socket

import anyio
import pytest

from crdts import AWLWWMap, ORSet
from sync import Node

from ._helpers import config, eventually

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_seed_then_the_peer_appears() -> None:
    port = _free_port()
    later = f"127.0.0.1:{port}"
    async with Node(config("a", later)) as a:  # its seed is not up yet
        cart = a.get("cart", AWLWWMap)
        await cart.put("apple", 1)  # works alone
        await anyio.sleep(0.5)
        assert cart.value == {"apple": 1} and a.active_view == frozenset()
        # the dead seed is redialled with backoff (without it: ~1,000 connects a second)
        assert a.metrics()["transport"]["connect_failures"] <= 20
        async with Node(config("b", bind=later)) as b:  # the seed comes up; nobody dials a
            await b.get("cart", AWLWWMap).put("pear", 2)
            await eventually(
                lambda: cart.value == b.get("cart", AWLWWMap).value == {"apple": 1, "pear": 2}
            )
            assert a.metrics()["members_alive"] == 2


async def test_go_offline_keeps_local_work_and_rejoins() -> None:
    async with Node(config("a")) as a, Node(config("b", a.address)) as b:
        sa, sb = a.get("s", ORSet), b.get("s", ORSet)
        await sa.add("before")
        await eventually(lambda: sb.value == {"before"})
        await b.go_offline()
        assert b.offline
        await sa.add("while-a")
        await sb.add("while-b")  # local writes keep working
        assert sb.value == {"before", "while-b"}
        await anyio.sleep(0.5)
        assert "while-a" not in sb.value  # nothing got in
        assert "while-b" not in sa.value  # nothing got out
        assert b.metrics()["transport"]["offline_dropped_out"] >= 0
        await b.go_online()
        await eventually(lambda: sa.value == sb.value == {"before", "while-a", "while-b"})


async def test_an_offline_node_completes_no_handshake() -> None:
    from gossip import UnreachableError
    from gossip.transport import Keyring, NetTransport, TransportConfig

    from ._helpers import KEY

    def peer() -> NetTransport:  # a member of the cluster (the right key) dialling the node
        return NetTransport(TransportConfig.local(), keyring=Keyring([KEY], cluster="deltamesh"))

    async with Node(config("a")) as a:
        await a.go_offline()
        accepted = a.metrics()["transport"]["connections_accepted"]
        async with peer() as t:
            with pytest.raises(UnreachableError):  # a link that is refused, not one that opens
                await t.send_frame(a.address, b"\x01hello")
        m = a.metrics()["transport"]
        assert m["connections_accepted"] == accepted and m["dropped"].get("offline", 0) >= 1
        await a.go_online()
        async with peer() as t:
            await t.send_frame(a.address, b"\x01hello")  # accepted again
            await eventually(
                lambda: a.metrics()["transport"]["connections_accepted"] == accepted + 1
            )
