"""Message and byte counters of the simulated network, per node and per protocol.

Counters live in one flat ``list[int]`` per address (six per protocol) so the hot path is a list
index and an add; :class:`Metrics` is the read-only view handed to users.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gossip._events import TAG_RANGES

PROTOCOLS: tuple[str, ...] = (*TAG_RANGES, "unknown")
"""Every protocol a counter is kept for; ``unknown`` holds empty payloads and unassigned tags."""

COUNTERS: tuple[str, ...] = (
    "sent_msgs",
    "sent_bytes",
    "recv_msgs",
    "recv_bytes",
    "dropped_msgs",
    "dropped_bytes",
)
"""The counters kept per protocol. A message is *sent* when a core emits it and *received* when it
reaches a live core. *Dropped* counts it against the sender when the network loses it (loss,
partition, crashed or unknown destination, broken stream) and against the receiver when no core of
the receiving node owns its tag."""

N_COUNTERS = len(COUNTERS)
SENT, RECV, DROPPED = 0, 2, 4  # offsets of the message counters; bytes follow at +1

_UNKNOWN = len(PROTOCOLS) - 1


def _tag_table() -> list[int]:
    table = [_UNKNOWN * N_COUNTERS] * 256
    for i, (lo, hi) in enumerate(TAG_RANGES.values()):
        for tag in range(lo, hi):
            table[tag] = i * N_COUNTERS
    return table


TAG_BASE: list[int] = _tag_table()
"""First payload byte -> the index of its protocol's first counter (``unknown`` for others)."""
EMPTY_BASE = _UNKNOWN * N_COUNTERS


def new_counters() -> list[int]:
    return [0] * (len(PROTOCOLS) * N_COUNTERS)


class Metrics:
    """A snapshot of counters (one node's, or the sum over nodes).

    >>> m.get("swim", "sent_msgs"); m.total("dropped_bytes"); m.as_dict()["hyparview"]["recv_msgs"]
    """

    __slots__ = ("_c",)

    def __init__(self, counters: Iterable[int]) -> None:
        self._c = list(counters)

    @classmethod
    def sum(cls, parts: Iterable[list[int]]) -> Metrics:
        acc = new_counters()
        for part in parts:
            for i, v in enumerate(part):
                acc[i] += v
        return cls(acc)

    def get(self, protocol: str, counter: str) -> int:
        """One counter, e.g. ``get("swim", "dropped_msgs")``."""
        try:
            p = PROTOCOLS.index(protocol)
            c = COUNTERS.index(counter)
        except ValueError:
            raise KeyError(f"no counter {protocol!r}/{counter!r}") from None
        return self._c[p * N_COUNTERS + c]

    def total(self, counter: str) -> int:
        """``counter`` summed over every protocol."""
        c = COUNTERS.index(counter)
        return sum(self._c[p * N_COUNTERS + c] for p in range(len(PROTOCOLS)))

    def as_dict(self) -> dict[str, dict[str, int]]:
        """``{protocol: {counter: value}}`` for every protocol, zeros included."""
        return {
            p: {c: self._c[i * N_COUNTERS + j] for j, c in enumerate(COUNTERS)}
            for i, p in enumerate(PROTOCOLS)
        }

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Metrics) and self._c == other._c

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        nonzero: Mapping[str, dict[str, int]] = {
            p: {c: v for c, v in cs.items() if v} for p, cs in self.as_dict().items()
        }
        return f"Metrics({ {p: cs for p, cs in nonzero.items() if cs} })"
