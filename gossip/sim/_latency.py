"""Latency distributions for simulated links.

A latency is any callable ``(rng) -> seconds`` drawing from the simulator's seeded network RNG, so a
user can pass a lambda; the classes here are the common shapes, with readable ``repr``\\ s for
traces and reports. ``Constant`` draws nothing from the RNG, so adding a constant-latency link does
not shift the random stream of the rest of a run.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from gossip._errors import ConfigError

Latency: TypeAlias = Callable[[random.Random], float]
"""Draws one one-way delay, in seconds, from the given RNG. Must return a finite value >= 0."""


@dataclass(frozen=True, slots=True)
class Constant:
    """Every message takes exactly ``seconds``."""

    seconds: float  # s

    def __post_init__(self) -> None:
        if not self.seconds >= 0:
            raise ConfigError(f"Constant latency must be >= 0 s, got {self.seconds!r}")

    def __call__(self, rng: random.Random) -> float:
        return self.seconds


@dataclass(frozen=True, slots=True)
class Uniform:
    """Uniform in ``[low, high]`` seconds (reorders packets when the spread is wide)."""

    low: float  # s
    high: float  # s

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high:
            raise ConfigError(
                f"Uniform latency needs 0 <= low <= high, got {self.low}, {self.high}"
            )

    def __call__(self, rng: random.Random) -> float:
        return self.low + (self.high - self.low) * rng.random()


@dataclass(frozen=True, slots=True)
class Exponential:
    """``base`` plus an exponential tail of mean ``mean`` seconds (a long-tailed WAN)."""

    mean: float  # s, mean of the tail
    base: float = 0.0  # s, fixed propagation delay

    def __post_init__(self) -> None:
        if not self.mean > 0 or not self.base >= 0:
            raise ConfigError(
                f"Exponential latency needs mean > 0 and base >= 0, got {self.mean}, {self.base}"
            )

    def __call__(self, rng: random.Random) -> float:
        return self.base + rng.expovariate(1.0 / self.mean)


def as_latency(value: float | Latency) -> Latency:
    """A number is a :class:`Constant`; a callable is used as is."""
    if isinstance(value, int | float):
        return Constant(float(value))
    if not callable(value):
        raise ConfigError(f"latency must be seconds or a callable (rng) -> seconds, got {value!r}")
    return value
