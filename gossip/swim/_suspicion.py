"""Lifeguard's dynamic suspicion timeout (Dadgar, Phillips, Currey 2018, section IV-B)."""

from __future__ import annotations

import math

from gossip._events import Addr

__all__ = ["Suspicion", "suspicion_timeout"]


def suspicion_timeout(confirmations: int, k: int, min_s: float, max_s: float) -> float:
    """``max(min, max - (max - min) * log(C + 1) / log(K + 1))``; ``min`` when ``K < 1``."""
    if k < 1:
        return min_s
    frac = math.log(confirmations + 1) / math.log(k + 1)
    return max(min_s, max_s - (max_s - min_s) * frac)


class Suspicion:
    """One outstanding suspicion: it starts at ``max`` and shrinks toward ``min`` with each
    *independent* confirmation (a suspect message from a member other than those already
    counted), so a member that many others see as silent is declared dead sooner, while one
    slow prober alone cannot kill a healthy member before ``max``."""

    __slots__ = ("confirmations", "incarnation", "k", "max_s", "min_s", "seen", "start")

    def __init__(
        self, origin: Addr, incarnation: int, *, k: int, min_s: float, max_s: float, start: float
    ) -> None:
        self.seen: set[Addr] = {origin}
        self.incarnation = incarnation
        self.confirmations = 0
        self.k = k
        self.min_s = min_s
        self.max_s = max_s
        self.start = start

    def confirm(self, by: Addr) -> bool:
        """Count ``by``'s suspicion; ``True`` if it is new (the deadline moved)."""
        if self.confirmations >= self.k or by in self.seen:
            return False
        self.seen.add(by)
        self.confirmations += 1
        return True

    @property
    def deadline(self) -> float:
        return self.start + suspicion_timeout(self.confirmations, self.k, self.min_s, self.max_s)
