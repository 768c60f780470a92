"""Nodes on loopback with the cluster key: they find each other, build the overlay and converge."""

from __future__ import annotations

import pytest

from crdts import AWLWWMap, GCounter, GSet, LWWRegister, MVRegister, ORMap, ORSet, PNCounter
from sync import Node

from ._helpers import config, eventually

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_two_nodes_converge_with_the_key() -> None:
    async with Node(config("a")) as a, Node(config("b", a.address)) as b:
        assert not a.insecure and a.replica_id.startswith("a-") and a.replica_id != b.replica_id
        cart_a = a.get("cart:alice", AWLWWMap)
        cart_b = b.get("cart:alice", AWLWWMap)
        await cart_a.put("apple", 2)
        await cart_b.put("pear", 1)
        await cart_a.remove("apple")
        await a.get("visits", PNCounter).increment(3)
        await b.get("visits", PNCounter).decrement(1)
        await b.get("tags", ORSet).add("x")
        await eventually(
            lambda: (
                cart_a.value == cart_b.value == {"pear": 1}
                and a.get("visits", PNCounter).value == b.get("visits", PNCounter).value == 2
                and a.get("tags", ORSet).value == frozenset({"x"})
            )
        )
        assert b.address in a.active_view and a.address in b.active_view
        names = {(m.name, m.addr, m.state) for m in a.members()}
        assert names == {("a", a.address, "alive"), ("b", b.address, "alive")}
        assert a.keys() == ["cart:alice", "tags", "visits"]
        assert a.keys("cart:") == ["cart:alice"]
        assert dict(b.scan("v")) == {"visits": 2}


async def test_three_nodes_every_type_converges() -> None:
    async with (
        Node(config("a")) as a,
        Node(config("b", a.address)) as b,
        Node(config("c", b.address)) as c,
    ):
        nodes = (a, b, c)
        for n in nodes:
            await n.get("m", AWLWWMap).put(n.name, 1)
            await n.get("s", ORSet).add(n.name)
            await n.get("g", GSet).add(n.name)
            await n.get("pn", PNCounter).increment(2)
            await n.get("gc", GCounter).increment(1)
            await n.get("mv", MVRegister).set(n.name)
            await n.get("om", ORMap).increment("hits", 1)
        await c.get("lww", LWWRegister).set("last")
        await a.get("s", ORSet).update(lambda s: s.add(a.replica_id, "via-update"))

        def converged() -> bool:
            return all(
                n.get("m", AWLWWMap).value == {"a": 1, "b": 1, "c": 1}
                and n.get("s", ORSet).value == {"a", "b", "c", "via-update"}
                and n.get("g", GSet).value == {"a", "b", "c"}
                and n.get("pn", PNCounter).value == 6
                and n.get("gc", GCounter).value == 3
                and n.get("lww", LWWRegister).value == "last"
                and n.get("om", ORMap).field("hits", __import__("crdts").CausalCounter).value == 3
                for n in nodes
            )

        await eventually(converged)
        mv = {frozenset(n.get("mv", MVRegister).value) for n in nodes}
        assert len(mv) == 1
        try:
            await eventually(lambda: all(len(n.members()) == 3 for n in nodes))
        except TimeoutError:
            raise AssertionError(
                [(n.name, n.members(), n.active_view, n.metrics()["transport"]) for n in nodes]
            ) from None


async def test_membership_events_and_metrics() -> None:
    import time

    import anyio

    from sync import MembershipEvent

    async with Node(config("a")) as a:
        seen: list[MembershipEvent] = []

        async def watch() -> None:
            async for ev in a.membership_events():
                seen.append(ev)

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            await anyio.sleep(0)
            t0 = time.time()
            async with Node(config("b", a.address)) as b:
                await b.get("s", ORSet).add("x")
                await eventually(lambda: a.get("s", ORSet).value == {"x"})
                await eventually(lambda: a.metrics()["store"]["commits"] >= 1)  # b's delta
                m = a.metrics()
                assert b.address in m["neighbors"]
                nb = m["neighbors"][b.address]
                assert nb["recv_msgs"] > 0 and nb["sent_msgs"] > 0
                assert m["store"]["commits"] >= 1 and m["objects"] == 1
                assert m["members_alive"] == 2 and not m["offline"]
                assert (
                    m["transport"]["connections_opened"] + m["transport"]["connections_accepted"]
                    >= 1
                )
            await eventually(lambda: any(e.kind == "left" for e in seen))
            tg.cancel_scope.cancel()
        joined = [e for e in seen if e.kind == "joined"]
        assert joined and joined[0].name == "b" and joined[0].state == "alive"
        assert all(e.addr == b.address for e in seen)
        assert all(t0 - 1 <= e.at <= time.time() for e in seen)
        assert [m.state for m in a.members() if m.addr == b.address] == ["left"]


async def test_changes_and_subscribe_see_local_and_remote_writes() -> None:
    import anyio

    from sync import Change

    async with Node(config("a")) as a, Node(config("b", a.address)) as b:
        cart = a.get("cart", AWLWWMap)
        seen: list[Change] = []
        called: list[Change] = []
        sub = cart.subscribe(called.append)
        cart.subscribe(lambda change: 1 / 0)  # a failing callback is isolated

        # the subscription starts when changes() is called, whenever the task iterating it runs
        # (trio runs new tasks in a random order: subscribing inside the task raced the puts)
        changes = cart.changes()

        async def watch() -> None:
            async with changes:
                async for change in changes:
                    seen.append(change)
                    if len(seen) == 2:
                        return

        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                await cart.put("apple", 1)  # local
                await b.get("cart", AWLWWMap).put("pear", 2)  # remote
        assert seen[0].origin is None and seen[0].added == {"apple"}
        assert seen[1].origin == b.address and seen[1].added == {"pear"}
        assert seen[1].value == {"apple": 1, "pear": 2}
        assert [c.value for c in called] == [c.value for c in seen]
        sub.cancel()
        await cart.put("fig", 3)
        assert len(called) == 2
        assert a.metrics()["callback_errors"] >= 3


async def test_changes_start_when_asked_for_and_stop_when_closed() -> None:
    import gc

    import anyio

    async with Node(config("a")) as a:
        cart = a.get("cart", AWLWWMap)
        changes = cart.changes()
        await cart.put("apple", 1)  # before anyone iterates: still seen
        with anyio.fail_after(10):
            first = await changes.__anext__()
        assert first.added == {"apple"}
        await changes.aclose()
        await cart.put("pear", 2)
        assert [c async for c in changes] == []  # closed: iteration ends, nothing buffered
        assert not a.engine.subscriptions  # the closed stream's subscription ended
        dropped = cart.changes()  # never iterated nor closed
        assert a.engine.subscriptions
        del dropped
        gc.collect()
        assert not a.engine.subscriptions  # its subscription ended with it
