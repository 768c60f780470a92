"""Typed errors change nothing; a node with the wrong key is let in nowhere."""

from __future__ import annotations

import anyio
import pytest

import crdts
from crdts import AWLWWMap, GSet, ORSet, PNCounter
from sync import ConfigError, Node, NodeConfig, TypeMismatchError, UsageError

from ._helpers import config, eventually

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_typed_errors_change_nothing() -> None:
    async with Node(config("a")) as a:
        cart = a.get("cart", AWLWWMap)
        await cart.put("apple", 1)
        before = crdts.encode(cart.state())
        seq = a.engine.seq
        with pytest.raises(TypeMismatchError):
            a.get("cart", ORSet)
        with pytest.raises(UsageError):
            await cart.put("pear", object())  # not a value the codec can carry
        with pytest.raises(UsageError):
            await cart.put(["unhashable"], 1)
        with pytest.raises(UsageError):
            await a.get("n", PNCounter).increment(-1)
        with pytest.raises(UsageError):
            await a.get("n", PNCounter).increment("3")  # type: ignore[arg-type]

        def boom(m: AWLWWMap) -> AWLWWMap:
            m.put(a.replica_id, "half", 1, 1)
            raise RuntimeError("the caller's bug")

        with pytest.raises(RuntimeError):
            await cart.update(boom)  # runs on a copy: the half-done put is not kept
        with pytest.raises(UsageError):
            await cart.update(lambda m: None)  # not a delta
        assert crdts.encode(cart.state()) == before and cart.value == {"apple": 1}
        assert a.engine.seq == seq  # nothing recorded, nothing to persist or ship
        assert a.keys() == ["cart"]  # the failed counter writes created nothing
        a.get("g", GSet)
        with pytest.raises(TypeMismatchError):  # asked for as a GSet first
            a.get("g", ORSet)
        with pytest.raises(UsageError):
            a.get("x", dict)
        with pytest.raises(UsageError):
            a.get("x", [])  # type: ignore[call-overload]  # not even a type (unhashable)


def test_config_errors() -> None:
    with pytest.raises(ConfigError):
        NodeConfig.local(name="")
    with pytest.raises(ConfigError, match="wildcard"):
        NodeConfig.lan(name="a", advertise="0.0.0.0:7946")
    with pytest.raises(ConfigError, match="advertise"):
        NodeConfig.wan(name="a")
    with pytest.raises(ConfigError, match="use_packets"):
        from dataclasses import replace

        from sync import SyncConfig

        NodeConfig.local(name="a", sync=replace(SyncConfig(), use_packets=True))
    with pytest.raises(ConfigError):
        NodeConfig.local(name="a", key=b"short")
    with pytest.raises(ConfigError):
        NodeConfig.local(name="a", key=bytes(32), key_file="k")
    with pytest.raises(ConfigError):
        NodeConfig.local(name="a", seeds="127.0.0.1:1")
    with pytest.raises(ConfigError):
        NodeConfig.local(name="a", bind="nonsense")
    assert NodeConfig.local(name="a", seeds=["127.0.0.1:1"]).seeds == ("127.0.0.1:1",)


async def test_a_clock_jump_ahead_refuses_the_write(monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    import types

    import sync._node as node_module
    from sync import ClockError

    async with Node(config("a")) as a:
        cart = a.get("cart", AWLWWMap)
        await cart.put("k", 1)
        stamp = cart.state().timestamp("k")
        fake = types.SimpleNamespace(
            time=time.time,
            monotonic=time.monotonic,
            time_ns=lambda: time.time_ns() + 86_400 * 10**9,  # a day ahead
        )
        monkeypatch.setattr(node_module, "time", fake)
        with pytest.raises(ClockError):
            await cart.put("k", 2)
        assert cart.value == {"k": 1} and cart.state().timestamp("k") == stamp
        await a.get("n", PNCounter).increment()  # no timestamp needed: unaffected
        monkeypatch.undo()  # the clock is fixed: writes go on, stamped in the present
        await cart.put("k", 3)
        assert cart.value == {"k": 3}
        assert cart.state().timestamp("k").wall < time.time_ns() // 10**6 + 60_000
        assert a.metrics()["clock_jumps_refused"] == 1


async def test_wrong_key_node_is_let_in_nowhere() -> None:
    async with Node(config("a")) as a, Node(config("b", a.address)) as b:
        await a.get("secret", ORSet).add("x")
        await eventually(lambda: b.get("secret", ORSet).value == {"x"})
        async with Node(config("evil", a.address, b.address, key=bytes(32))) as evil:
            await evil.get("inject", ORSet).add("y")
            await anyio.sleep(1.5)  # several SWIM probes, HyParView rounds, sync rounds
            for n in (a, b):
                assert evil.address not in {m.addr for m in n.members()}
                assert evil.address not in n.active_view | n.passive_view
                assert "inject" not in n.keys("")
            assert evil.keys() == ["inject"]  # nothing reached it
            assert [m.addr for m in evil.members()] == [evil.address]
            assert evil.active_view == frozenset()
            assert a.metrics()["transport"]["dropped"].get("auth", 0) > 0


def test_presets_resend_an_unacked_interval_after_a_timeout_not_every_round() -> None:
    # the Node's acks wait for the receiver's commit: resending every round under load
    # re-encoded the same deltas and objects round after round (most of a node's CPU)
    for cfg in (
        NodeConfig.local(name="a"),
        NodeConfig.lan(name="a", advertise="10.0.0.1:7946"),
        NodeConfig.wan(name="a", advertise="10.0.0.1:7946"),
        NodeConfig(name="a"),  # no preset: the defaults are sane too (lan()'s)
    ):
        assert cfg.sync.resend_timeout > cfg.sync.sync_interval
    assert NodeConfig(name="a").sync == NodeConfig.lan(name="a").sync


async def test_get_hands_back_its_handle_and_still_checks_the_type() -> None:
    async with Node(config("a")) as a:
        cart = a.get("cart", AWLWWMap)
        assert a.get("cart", AWLWWMap) is cart  # cached: no validation per write
        tags = a.get("tags", ORSet)
        assert a.get("tags", ORSet) is tags
        # a peer's object of another type lands under the name the cached handle has
        other = AWLWWMap()
        other.put("peer", "k", 1, 1)
        a.engine.apply("tags", other)
        with pytest.raises(TypeMismatchError):
            a.get("tags", ORSet)
        with pytest.raises(TypeMismatchError):
            await tags.add("x")  # nothing changed
        assert a.get("tags", AWLWWMap).value == {"k": 1}
        with pytest.raises(TypeMismatchError):
            a.get("cart", ORSet)
        await cart.put("apple", 1)
    with pytest.raises(UsageError):
        a.get("cart", AWLWWMap)  # closed: refused, cached or not
    with pytest.raises(UsageError):
        await cart.put("pear", 2)
