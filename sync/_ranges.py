"""A contiguous watermark over half-open ranges that may arrive out of order.

Used on both ends of a delta stream: the sender advances a neighbour's ack only contiguously (an
ack for ``[5, 9)`` while ``[2, 5)`` is lost must not let the buffer forget ``[2, 5)``), and the
receiver keeps the watermark it vouches for in its Hello after a reconnection.
"""

from __future__ import annotations

__all__ = ["RangeTracker"]


class RangeTracker:
    """``mark`` is the first position not known to be covered; ``pending`` holds covered ranges
    beyond a gap (``lo -> hi``), merged into ``mark`` once the gap closes."""

    __slots__ = ("mark", "pending")

    def __init__(self, mark: int = 0) -> None:
        self.mark = mark
        self.pending: dict[int, int] = {}

    def add(self, lo: int, hi: int) -> bool:
        """Record that ``[lo, hi)`` is covered; returns whether ``mark`` advanced."""
        if hi <= self.mark:
            return False
        if lo > self.mark:
            if self.pending.get(lo, -1) < hi:
                self.pending[lo] = hi
            return False
        self.mark = hi
        self._absorb()
        return True

    def raise_to(self, mark: int) -> None:
        """Everything below ``mark`` is covered (e.g. after a completed catch-up)."""
        if mark > self.mark:
            self.mark = mark
            self._absorb()

    def _absorb(self) -> None:
        if not self.pending:
            return
        advanced = True
        while advanced:
            advanced = False
            for lo in [lo for lo in self.pending if lo <= self.mark]:
                hi = self.pending.pop(lo)
                if hi > self.mark:
                    self.mark = hi
                    advanced = True
