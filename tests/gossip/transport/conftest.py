"""Fixtures shared by the transport tests: both anyio backends, both transport kinds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import anyio
import pytest

from gossip.transport import (
    FaultyTransport,
    Incoming,
    Keyring,
    MemoryNetwork,
    NetTransport,
    Transport,
    TransportConfig,
)

KEY = bytes(range(32))
MAX_PACKET = 1200  # bytes: small caps keep the cap tests cheap
MAX_FRAME = 256 * 1024  # bytes


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def net_config(**overrides: object) -> TransportConfig:
    values: dict[str, object] = {
        "max_packet_size": MAX_PACKET,
        "max_frame_size": MAX_FRAME,
        "handshake_timeout": 0.5,
    }
    values.update(overrides)
    return TransportConfig.local(**values)


def net(keyring: Keyring | None = None, *, epoch: int = 1, **overrides: object) -> NetTransport:
    ring = keyring if keyring is not None else Keyring([KEY], cluster="test")
    return NetTransport(net_config(**overrides), keyring=ring, epoch=epoch)


@asynccontextmanager
async def open_transports(kind: str, n: int) -> AsyncIterator[list[Transport]]:
    """``n`` started transports of ``kind``: "net" (UDP/TCP on 127.0.0.1), "memory", or
    "faulty" (a :class:`FaultyTransport` with every fault off, around "net")."""
    async with AsyncExitStack() as stack:
        found: list[Transport] = []
        network = MemoryNetwork(max_packet_size=MAX_PACKET, max_frame_size=MAX_FRAME)
        for _ in range(n):
            t: Transport
            if kind == "net":
                t = net()
            elif kind == "faulty":
                t = FaultyTransport(net(), seed=len(found))
            else:
                t = network.transport()
            found.append(await stack.enter_async_context(t))
        yield found


async def recv(t: Transport, timeout: float = 5.0) -> Incoming:
    """The next incoming item, failing the test after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        return await t.receive()
