"""VectorClock: a version vector with a causal ``compare``.

Theory of operation (Fidge 1988, Mattern 1989). Each replica counts its own events; join is the
pointwise max. ``a.compare(b)`` is ``"before"`` when every entry of ``a`` is ``<=`` ``b``'s and
one is smaller (``a`` happened before ``b``), ``"after"`` for the converse, ``"equal"``, or
``"concurrent"`` when each is ahead somewhere. Missing entries count as 0.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from crdts._codec import TAGS, Reader, Writer, check_replica, register
from crdts._gcounter import vec_add, vec_decode, vec_diff, vec_encode, vec_leq, vec_merge

__all__ = ["Ordering", "VectorClock"]


class Ordering(StrEnum):
    """The causal order of two vector clocks (a ``str``: ``Ordering.BEFORE == "before"``)."""

    BEFORE = "before"
    AFTER = "after"
    EQUAL = "equal"
    CONCURRENT = "concurrent"


class VectorClock:
    """Version vector. ``value``: a ``dict[str, int]`` (replicas with a non-zero entry)."""

    __slots__ = ("_v",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self) -> None:
        self._v: dict[str, int] = {}

    @classmethod
    def _make(cls, v: dict[str, int]) -> Self:
        x = cls.__new__(cls)
        x._v = v
        return x

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

    def copy(self) -> Self:
        return self._make(self._v.copy())

    def merge(self, other: Self) -> None:
        vec_merge(self._v, other._v)

    def join(self, other: Self) -> Self:
        x = self.copy()
        vec_merge(x._v, other._v)
        return x

    @classmethod
    def bottom(cls) -> Self:
        """The empty state, ``cls()``."""
        return cls()

    def __le__(self, other: Self) -> bool:
        return self.leq(other)

    def leq(self, other: Self) -> bool:
        return vec_leq(self._v, other._v)

    def decompose(self) -> list[Self]:
        return [self._make({r: n}) for r, n in self._v.items()]

    def diff(self, other: Self) -> Self:
        return self._make(vec_diff(self._v, other._v))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, VectorClock)
        return self._v == other._v

    def __repr__(self) -> str:
        return f"VectorClock({self._v!r})"


def _enc(x: VectorClock, w: Writer) -> Any:
    return vec_encode(x._v, w)


def _dec(body: Any, r: Reader, version: int) -> VectorClock:
    return VectorClock._make(vec_decode(body, r))


register(VectorClock, tag=TAGS["VectorClock"], version=1, encode=_enc, decode=_dec)
