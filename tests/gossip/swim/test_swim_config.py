"""SwimConfig: memberlist's preset values and formulas, and validation."""

from __future__ import annotations

import math

import pytest

from gossip import ConfigError
from gossip.swim import SwimConfig, suspicion_timeout


def test_lan_preset_matches_memberlist() -> None:
    c = SwimConfig.lan()
    assert (c.probe_interval, c.probe_timeout, c.indirect_checks) == (1.0, 0.5, 3)
    assert (c.suspicion_mult, c.suspicion_max_timeout_mult, c.retransmit_mult) == (4, 6, 4)
    assert (c.gossip_nodes, c.gossip_interval, c.push_pull_interval) == (3, 0.2, 30.0)
    assert (c.awareness_max_multiplier, c.gossip_to_the_dead_time) == (8, 30.0)


def test_wan_and_local_presets_match_memberlist() -> None:
    w = SwimConfig.wan()
    assert (w.probe_interval, w.probe_timeout, w.suspicion_mult) == (5.0, 3.0, 6)
    assert (w.gossip_nodes, w.gossip_interval, w.push_pull_interval) == (4, 0.5, 60.0)
    assert w.gossip_to_the_dead_time == 60.0
    lo = SwimConfig.local()
    assert (lo.probe_interval, lo.probe_timeout, lo.indirect_checks) == (1.0, 0.2, 1)
    assert (lo.retransmit_mult, lo.suspicion_mult, lo.gossip_interval) == (2, 3, 0.1)
    assert (lo.push_pull_interval, lo.gossip_to_the_dead_time) == (15.0, 15.0)


@pytest.mark.parametrize("n", [1, 5, 10, 100, 1000])
def test_suspicion_min_formula(n: int) -> None:
    c = SwimConfig.lan()
    assert c.suspicion_min(n) == pytest.approx(4 * max(1.0, math.log10(n)) * 1.0)
    assert c.suspicion_max(n) == pytest.approx(6 * c.suspicion_min(n))


@pytest.mark.parametrize(("n", "limit"), [(1, 4), (9, 4), (10, 8), (99, 8), (100, 12), (1000, 16)])
def test_retransmit_limit(n: int, limit: int) -> None:
    assert SwimConfig.lan().retransmit_limit(n) == limit


def test_push_pull_scales_beyond_32() -> None:
    c = SwimConfig.lan()
    assert c.push_pull_period(32) == 30.0
    assert c.push_pull_period(64) == 60.0
    assert c.push_pull_period(1000) == 30.0 * (math.ceil(math.log2(1000) - 5) + 1)


def test_expected_confirmations() -> None:
    c = SwimConfig.lan()
    assert c.expected_confirmations(100) == 2
    assert c.expected_confirmations(3) == 0


def test_suspicion_timeout_shrinks_with_confirmations() -> None:
    lo, hi = 4.0, 24.0
    assert suspicion_timeout(0, 3, lo, hi) == hi
    assert suspicion_timeout(3, 3, lo, hi) == pytest.approx(lo)
    values = [suspicion_timeout(c, 3, lo, hi) for c in range(4)]
    assert values == sorted(values, reverse=True)
    assert suspicion_timeout(1, 3, lo, hi) == pytest.approx(
        hi - (hi - lo) * math.log(2) / math.log(4)
    )
    assert suspicion_timeout(0, 0, lo, hi) == lo


def test_without_lifeguard() -> None:
    c = SwimConfig.lan().without_lifeguard()
    assert c.awareness_max_multiplier == 1
    assert not (c.dynamic_suspicion or c.buddy_system or c.nacks)
    assert c.probe_interval == 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"probe_interval": 0.0},
        {"probe_timeout": 2.0},
        {"indirect_checks": -1},
        {"suspicion_mult": 0},
        {"retransmit_mult": 0},
        {"gossip_interval": -1.0},
        {"awareness_max_multiplier": 0},
        {"packet_budget": 100},
    ],
)
def test_rejects_bad_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        SwimConfig(**kwargs)  # type: ignore[arg-type]
