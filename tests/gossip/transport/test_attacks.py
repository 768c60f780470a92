"""Issue 12, a stranger on the network: each attack of the issue replayed over real sockets on
loopback against the fixed transport (each of these tests fails on the code before the fix)."""

from __future__ import annotations

import anyio
import anyio.abc
import pytest

from gossip import PacketReceived
from gossip.transport import parse_addr

from .conftest import net, recv
from .test_security import until

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
