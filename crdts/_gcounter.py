"""GCounter: the grow-only counter.

Theory of operation (Shapiro et al. 2011). The state maps each replica to the count it has
added (the max-vector lattice of ``crdts/_vector.py``); join is the pointwise max, so each
replica's own entry is the only one it ever raises and the value is the sum.
"""

from __future__ import annotations

from crdts._codec import TAGS, check_replica, register
from crdts._vector import MaxVector, check_amount, vec_add

__all__ = ["GCounter"]


class GCounter(MaxVector):
    """Grow-only counter. ``value``: an ``int``."""

    __slots__ = ()

    def increment(self, replica: str, n: int = 1) -> GCounter:
        """Add ``n >= 0`` on behalf of ``replica``; returns the delta (bottom if ``n == 0``)."""
        check_replica(replica)
        check_amount(n)
        if n == 0:
            return GCounter()
        return GCounter._make({replica: vec_add(self._v, replica, n)})

    @property
    def value(self) -> int:
        return sum(self._v.values())


register(
    GCounter,
    tag=TAGS["GCounter"],
    version=1,
    encode=GCounter.encode_body,
    decode=GCounter.decode_body,
)
