"""Hybrid logical clock: timestamps for the last-writer-wins types.

Theory of operation (Kulkarni, Demirbas et al., "Logical Physical Clocks", OPODIS 2014). A timestamp
is ``(wall, logical)``: ``wall`` the largest physical time seen (the caller's clock, in whatever
integer unit it uses, e.g. milliseconds) and ``logical`` a counter that orders events within one
``wall`` value. :meth:`HLC.now` (a local event or a send) and :meth:`HLC.update` (a receive) never
go backwards, whatever the physical clock does: a wall clock that jumps back only makes
``logical`` count up until physical time catches up. So timestamps are strictly increasing per
replica and an update after a receive is larger than what was received: a write made after
observing another always carries a larger timestamp.

Each timestamp also names its replica, as a final tie-break: timestamps of different replicas are
never equal, so they form a strict total order (compare them with ``<``; they are tuples). The
clock is sans-I/O: physical time is an argument, never read here.
"""

from __future__ import annotations

from typing import NamedTuple

from crdts._errors import UsageError

__all__ = ["HLC", "HLCTimestamp"]


class HLCTimestamp(NamedTuple):
    """A hybrid-logical-clock timestamp, ordered by ``(wall, logical, replica)``. Immutable."""

    wall: int
    logical: int
    replica: str


_new = tuple.__new__


class HLC:
    """A hybrid logical clock for one replica.

    ``HLC("alice-phone")``; ``now(wall)`` for a local event, ``update(received_ts, wall)`` when a
    timestamp arrives from elsewhere; ``wall`` is the caller's physical time (an ``int``, e.g.
    milliseconds since the epoch). ``max_drift`` (same unit; ``None`` = unlimited) rejects a
    received timestamp more than that far ahead of ``wall`` with a :class:`ValueError` (a peer
    with a broken clock would otherwise drag this clock into the future). ``last`` restores a
    persisted clock.
    """

    __slots__ = ("_logical", "_wall", "max_drift", "replica")

    def __init__(
        self, replica: str, *, last: HLCTimestamp | None = None, max_drift: int | None = None
    ) -> None:
        if type(replica) is not str:
            raise UsageError(f"replica id must be a str, not {type(replica).__name__}")
        self.replica = replica
        self.max_drift = max_drift
        self._wall = 0
        self._logical = -1
        if last is not None:
            if not isinstance(last, HLCTimestamp):
                raise UsageError("last must be an HLCTimestamp")
            self._wall, self._logical = last.wall, last.logical

    @property
    def last(self) -> HLCTimestamp | None:
        """The last timestamp issued or observed (``None`` before the first)."""
        if self._logical < 0:
            return None
        return HLCTimestamp(self._wall, self._logical, self.replica)

    def now(self, wall: int) -> HLCTimestamp:
        """The timestamp of a local event at physical time ``wall``."""
        if type(wall) is not int:
            raise UsageError(f"wall must be an int, not {type(wall).__name__}")
        if wall > self._wall:
            self._wall = wall
            self._logical = logical = 0
        else:
            wall = self._wall
            self._logical = logical = self._logical + 1
        # tuple.__new__ directly: the NamedTuple constructor is a Python-level call, and this
        # runs once per local write
        return _new(HLCTimestamp, (wall, logical, self.replica))

    def update(self, received_ts: HLCTimestamp, wall: int) -> HLCTimestamp:
        """Observe ``received_ts`` at physical time ``wall``; returns a timestamp larger than
        both ``received_ts`` and every timestamp this clock issued before."""
        received = received_ts
        if type(wall) is not int:
            raise UsageError(f"wall must be an int, not {type(wall).__name__}")
        if not isinstance(received, HLCTimestamp):
            raise UsageError("received_ts must be an HLCTimestamp")
        rw, rl = received.wall, received.logical
        if self.max_drift is not None and rw - wall > self.max_drift:
            raise UsageError(
                f"received timestamp is {rw - wall} ahead of wall (max {self.max_drift})"
            )
        w, lg = self._wall, self._logical
        if wall > w and wall > rw:
            self._wall, self._logical = wall, 0
        elif rw > w:
            self._wall, self._logical = rw, rl + 1
        elif w > rw:
            self._logical = lg + 1
        else:
            self._logical = max(lg, rl) + 1
        return HLCTimestamp(self._wall, self._logical, self.replica)

    def __repr__(self) -> str:
        return f"HLC({self.replica!r}, last={self.last!r})"
