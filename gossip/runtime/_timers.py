"""Timer bookkeeping for drivers (sans-I/O): deadlines per (core, key), set / reset / cancel.

``SetTimer`` on a key that is armed replaces its deadline (reset); ``CancelTimer`` disarms it. A
heap holds every deadline ever set; entries made stale by a reset or a cancel are skipped lazily
when they reach the top, so each operation costs O(log n).
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable

__all__ = ["TimerTable"]


class TimerTable:
    """Armed timers keyed by ``(namespace, key)``; the namespace keeps cores' keys apart."""

    __slots__ = ("_heap", "_live", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Hashable, Hashable]] = []
        self._live: dict[tuple[Hashable, Hashable], tuple[float, int]] = {}
        self._seq = 0  # ties fire in the order they were set

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, item: tuple[Hashable, Hashable]) -> bool:
        return item in self._live

    def set(self, namespace: Hashable, key: Hashable, at: float) -> None:
        self._seq += 1
        self._live[(namespace, key)] = (at, self._seq)
        heapq.heappush(self._heap, (at, self._seq, namespace, key))

    def cancel(self, namespace: Hashable, key: Hashable) -> None:
        self._live.pop((namespace, key), None)

    def deadline(self, namespace: Hashable, key: Hashable) -> float | None:
        entry = self._live.get((namespace, key))
        return None if entry is None else entry[0]

    def _prune(self) -> None:
        heap = self._heap
        while heap:
            at, seq, ns, key = heap[0]
            if self._live.get((ns, key)) == (at, seq):
                return
            heapq.heappop(heap)

    def next_deadline(self) -> float | None:
        """The earliest armed deadline, or ``None``."""
        self._prune()
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> tuple[Hashable, Hashable] | None:
        """Disarm and return the earliest timer due at ``now``, or ``None``."""
        self._prune()
        if not self._heap or self._heap[0][0] > now:
            return None
        _, _, ns, key = heapq.heappop(self._heap)
        del self._live[(ns, key)]
        return ns, key
