"""A seed that is down when a member starts (issue 10): the member retries it sooner, with a
jittered exponential backoff, until the first join succeeds, so start order does not matter.
Before, the seed was re-contacted only every ``rejoin_interval`` (30 s on the LAN preset)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gossip.sim import LinkModel, SimConfig, Simulator
from gossip.swim import MemberState, SwimConfig, SwimCore

LAN = SwimConfig.lan()


def add(sim: Simulator, addr: str, config: SwimConfig, seeds: tuple[str, ...] = ()) -> None:
    sim.add_node(addr, lambda ctx: [SwimCore(ctx.addr, config, ctx.rng, seeds=seeds)])


def sees_alive(sim: Simulator, who: str, other: str) -> bool:
    m = sim.core(who, SwimCore).member(other)
    return m is not None and m.state == MemberState.ALIVE


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_member_started_before_its_seed_joins_soon_after_the_seed_appears(seed: int) -> None:
    sim = Simulator(seed=seed, config=SimConfig(link=LinkModel.lan()))
    add(sim, "n1", LAN, seeds=("n0",))
    add(sim, "n2", LAN, seeds=("n0",))
    sim.run_for(45.0)  # the seed is down for 45 s: several retries, growing to the cap
    member = sim.core("n1", SwimCore)
    # Backoff, not a retry every second: 1 + about 1, 2, 4, 8, 8, 8, 8 s.
    assert member.stats["streams_sent"] <= 10
    appeared = sim.now
    add(sim, "n0", LAN)  # the seed has no seeds of its own: the others must find it
    joined = sim.run_until_true(
        lambda: all(sees_alive(sim, a, b) for a in ("n0", "n1", "n2") for b in ("n0", "n1", "n2")),
        timeout=LAN.join_retry_max * 1.2 + 2.0,  # the longest wait, jittered, plus a round
    )
    assert joined, f"not joined {sim.now - appeared:.1f} s after the seed appeared"
    # Joined: after the retry already armed, the seeds are re-contacted (if ever down) only
    # every rejoin_interval.
    wait = LAN.join_retry_max * 1.2 + 1.0
    sim.run_for(wait)
    rejoin = sim.timers("n1", "swim")[("rejoin",)]
    assert rejoin - sim.now > LAN.rejoin_interval - wait


def test_a_member_left_alone_retries_its_seed_soon() -> None:
    sim = Simulator(seed=5, config=SimConfig(link=LinkModel.lan()))
    add(sim, "n0", LAN)
    add(sim, "n1", LAN, seeds=("n0",))
    sim.run_for(5.0)
    assert sees_alive(sim, "n1", "n0")
    sim.crash("n0")
    assert sim.run_until_true(lambda: not sees_alive(sim, "n1", "n0"), timeout=60.0)
    sim.run_until(max(sim.now, 32.0))  # the old slow rejoin ticks at 30 and 60 s
    sim.restart("n0")
    back = sim.run_until_true(lambda: sees_alive(sim, "n1", "n0"), timeout=12.0)
    assert back, "a member left alone waited for the slow rejoin"


def test_retry_disabled_waits_for_the_slow_rejoin() -> None:
    slow = replace(LAN, join_retry_interval=0.0, rejoin_interval=30.0)
    sim = Simulator(seed=1, config=SimConfig(link=LinkModel.lan()))
    add(sim, "n1", slow, seeds=("n0",))
    sim.run_for(10.0)
    add(sim, "n0", slow)
    assert not sim.run_until_true(lambda: sees_alive(sim, "n1", "n0"), timeout=15.0)
    assert sim.run_until_true(lambda: sees_alive(sim, "n1", "n0"), timeout=10.0)  # at 30 s


def test_join_retry_config_is_validated() -> None:
    from gossip import ConfigError

    with pytest.raises(ConfigError):
        replace(LAN, join_retry_interval=-1.0)
    with pytest.raises(ConfigError):
        replace(LAN, join_retry_interval=4.0, join_retry_max=2.0)
    assert SwimConfig.local().join_retry_interval < LAN.join_retry_interval
