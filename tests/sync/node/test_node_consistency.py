"""Consistency levels: a write returns once that many replicas hold it durably, or raises
WriteTimeoutError at the timeout (the write stays and keeps replicating)."""

from __future__ import annotations

import pytest

from crdts import AWLWWMap, ORSet
from sync import Node, UsageError, WriteAll, WriteMajority, WriteTimeoutError, WriteTo

from ._helpers import config, eventually

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_levels_wait_for_replicas_and_time_out() -> None:
    async with (
        Node(config("a")) as a,
        Node(config("b", a.address)) as b,
        Node(config("c", a.address)) as c,
    ):
        await eventually(lambda: all(n.metrics()["members_alive"] == 3 for n in (a, b, c)))
        cart = a.get("cart", AWLWWMap)
        await cart.put("one", 1, consistency=WriteTo(2), timeout=5.0)
        assert any(n.get("cart", AWLWWMap).get("one") == 1 for n in (b, c))
        await cart.put("all", 1, consistency=WriteAll(), timeout=5.0)
        assert b.get("cart", AWLWWMap).get("all") == c.get("cart", AWLWWMap).get("all") == 1
        await cart.put("maj", 1, consistency=WriteMajority(), timeout=5.0)

        with pytest.raises(WriteTimeoutError) as info:  # 4 replicas of a 3-node cluster
            await cart.put("four", 4, consistency=WriteTo(4), timeout=0.5)
        assert a.address in info.value.confirmed and len(info.value.confirmed) == 3
        assert cart.get("four") == 4  # the write stays

        await c.go_offline()  # c still counts as alive for a while: WriteAll waits for it
        with pytest.raises(WriteTimeoutError) as info:
            await cart.put("off", 1, consistency=WriteAll(), timeout=0.5)
        assert c.address not in info.value.confirmed
        await b.get("s", ORSet).add("x", consistency=WriteTo(2), timeout=5.0)  # a or c: a is up
        assert a.get("s", ORSet).value == {"x"}

        await a.get("s", ORSet).add("y")
        await a.flush(consistency=WriteTo(2), timeout=5.0)
        assert "y" in b.get("s", ORSet).value
        await c.go_online()
        await a.flush(consistency=WriteAll(), timeout=10.0)
        assert c.get("cart", AWLWWMap).get("off") == 1

        with pytest.raises(UsageError):
            await cart.put("bad", 1, consistency="all", timeout=1.0)  # type: ignore[arg-type]
        assert cart.get("bad") is None
