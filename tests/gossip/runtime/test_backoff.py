"""The reconnect backoff (sans-I/O): doubling, jitter within bounds, a cap, reset on success."""

from __future__ import annotations

import random

import pytest

from gossip import ConfigError
from gossip.runtime._backoff import Backoff


def test_doubles_up_to_the_cap_without_jitter() -> None:
    b = Backoff(0.2, 5.0, 0.0, random.Random(1))
    waits = [b.failed("p", now=100.0) for _ in range(8)]
    assert waits == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0])
    assert b.ready_at("p") == pytest.approx(105.0) and b.failures("p") == 8
    assert b.ready_at("q") == 0.0 and b.failures("q") == 0


def test_jitter_spreads_waits_within_bounds_and_never_past_the_cap() -> None:
    b = Backoff(1.0, 4.0, 0.2, random.Random(7))
    firsts = []
    for i in range(200):
        firsts.append(b.failed(i, now=0.0))
        for _ in range(10):
            assert b.failed(i, now=0.0) <= 4.0
    assert all(0.8 <= w <= 1.2 for w in firsts) and len(set(firsts)) > 100


def test_success_forgets_the_peer() -> None:
    b = Backoff(0.5, 5.0, 0.1, random.Random(2))
    b.failed("p", now=0.0)
    b.failed("p", now=1.0)
    b.succeeded("p")
    assert b.failures("p") == 0 and b.ready_at("p") == 0.0 and len(b) == 0
    assert b.failed("p", now=2.0) <= 0.55  # back to the first wait


def test_bad_settings_are_config_errors() -> None:
    for base, cap, jitter in ((1.0, 0.5, 0.1), (-1.0, 1.0, 0.1), (0.1, 1.0, 1.0)):
        with pytest.raises(ConfigError):
            Backoff(base, cap, jitter, random.Random())
