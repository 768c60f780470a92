"""A contiguous watermark over half-open ranges that may arrive out of order.

Used on both ends of a delta stream: the sender advances a neighbour's ack only contiguously (an
ack for ``[5, 9)`` while ``[2, 5)`` is lost must not let the buffer forget ``[2, 5)``), and the
receiver keeps the watermark it vouches for in its Hello after a reconnection.

Ranges beyond a gap wait in a min-heap of their starts (plus a dict ``lo -> hi`` that keeps one
entry per start), so recording one costs O(log n) and closing a gap absorbs the k ranges it joins
in O(k log n); scanning them all on each step was quadratic (16,000 one-entry Deltas beyond a
lost one took 1.8 s to absorb, issue 12). A peer choosing the ranges cannot make the tracker hold
more than ``max_pending`` of them: one more is not recorded, which only means it is not known to
be covered (the sender resends it, the receiver vouches for less in its Hello), never that
something uncovered is taken as covered.
"""

from __future__ import annotations

import heapq

__all__ = ["MAX_PENDING", "RangeTracker"]

MAX_PENDING = 1 << 16
"""Ranges beyond a gap a tracker holds at most (per neighbour, per direction)."""


class RangeTracker:
    """``mark`` is the first position not known to be covered; ``pending`` holds covered ranges
    beyond a gap (``lo -> hi``), merged into ``mark`` once the gap closes."""

    __slots__ = ("_starts", "dropped", "mark", "max_pending", "pending")

    def __init__(self, mark: int = 0, max_pending: int = MAX_PENDING) -> None:
        self.mark = mark
        self.pending: dict[int, int] = {}
        self._starts: list[int] = []  # heap of the keys of ``pending``
        self.max_pending = max_pending
        self.dropped = 0  # ranges not recorded because ``max_pending`` were already held

    def add(self, lo: int, hi: int) -> bool:
        """Record that ``[lo, hi)`` is covered; returns whether ``mark`` advanced."""
        if hi <= self.mark:
            return False
        if lo > self.mark:
            old = self.pending.get(lo)
            if old is None:
                if len(self.pending) >= self.max_pending:
                    self.dropped += 1
                    return False
                self.pending[lo] = hi
                heapq.heappush(self._starts, lo)
            elif old < hi:
                self.pending[lo] = hi
            return False
        self.mark = hi
        self._absorb()
        return True

    @property
    def first_pending(self) -> int | None:
        """The start of the first range covered beyond the gap at ``mark`` (``None``: none)."""
        return self._starts[0] if self._starts else None

    def raise_to(self, mark: int) -> None:
        """Everything below ``mark`` is covered (e.g. after a completed catch-up)."""
        if mark > self.mark:
            self.mark = mark
            self._absorb()

    def _absorb(self) -> None:
        starts, pending = self._starts, self.pending
        while starts and starts[0] <= self.mark:
            hi = pending.pop(heapq.heappop(starts))
            self.mark = max(self.mark, hi)
