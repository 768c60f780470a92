"""VectorClock: a version vector with a causal ``compare``.

Theory of operation (Fidge 1988, Mattern 1989). Each replica counts its own events; join is the
pointwise max. ``a.compare(b)`` is ``"before"`` when every entry of ``a`` is ``<=`` ``b``'s and
one is smaller (``a`` happened before ``b``), ``"after"`` for the converse, ``"equal"``, or
``"concurrent"`` when each is ahead somewhere. Missing entries count as 0.
"""

from __future__ import annotations

from enum import StrEnum

from crdts._codec import TAGS, check_replica, register
from crdts._vector import MaxVector, vec_add, vec_leq

__all__ = ["Ordering", "VectorClock"]


class Ordering(StrEnum):
    """The causal order of two vector clocks (a ``str``: ``Ordering.BEFORE == "before"``)."""

    BEFORE = "before"
    AFTER = "after"
    EQUAL = "equal"
    CONCURRENT = "concurrent"


class VectorClock(MaxVector):
    """Version vector. ``value``: a ``dict[str, int]`` (replicas with a non-zero entry)."""

    __slots__ = ()

    def increment(self, replica: str) -> VectorClock:
        """Count one event of ``replica``; returns the delta ``{replica: new count}``."""
        check_replica(replica)
        return VectorClock._make({replica: vec_add(self._v, replica, 1)})

    def __getitem__(self, replica: str) -> int:
        return self._v.get(replica, 0)

    def compare(self, other: VectorClock) -> Ordering:
        a, b = self._v, other._v
        le = vec_leq(a, b)
        ge = vec_leq(b, a)
        if le and ge:
            return Ordering.EQUAL
        if le:
            return Ordering.BEFORE
        if ge:
            return Ordering.AFTER
        return Ordering.CONCURRENT

    @property
    def value(self) -> dict[str, int]:
        return self._v.copy()


register(
    VectorClock,
    tag=TAGS["VectorClock"],
    version=1,
    encode=VectorClock.encode_body,
    decode=VectorClock.decode_body,
)
