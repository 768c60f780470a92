"""Write consistency levels (Akka Distributed Data's): how many replicas must hold a write before
the call returns. See docs/node.md for exactly what each one guarantees."""

from __future__ import annotations

from dataclasses import dataclass

from sync._errors import ConfigError

__all__ = ["Consistency", "WriteAll", "WriteLocal", "WriteMajority", "WriteTo", "required"]


@dataclass(frozen=True, slots=True)
class WriteLocal:
    """Return once the write is durable on this node's disk (the default)."""


@dataclass(frozen=True, slots=True)
class WriteTo:
    """Also wait until ``n`` replicas, this one included, hold the write."""

    n: int

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or self.n < 1:
            raise ConfigError(f"WriteTo(n) needs n >= 1, got {self.n!r}")


@dataclass(frozen=True, slots=True)
class WriteMajority:
    """Also wait until a majority of the alive members (``floor(N / 2) + 1`` of the ``N`` SWIM
    members alive or suspect at the time of the write, this node included) hold the write."""


@dataclass(frozen=True, slots=True)
class WriteAll:
    """Also wait until every member alive at the time of the write holds it (a member SWIM
    declares dead or left meanwhile is no longer waited for)."""


Consistency = WriteLocal | WriteTo | WriteMajority | WriteAll


def required(level: Consistency, alive: int) -> int:
    """How many *other* replicas must confirm, with ``alive`` members alive (self included)."""
    if isinstance(level, WriteLocal):
        return 0
    if isinstance(level, WriteTo):
        return level.n - 1
    if isinstance(level, WriteMajority):
        return alive // 2
    if isinstance(level, WriteAll):
        return alive - 1
    raise ConfigError(f"not a consistency level: {level!r}")
