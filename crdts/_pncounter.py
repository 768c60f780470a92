"""PNCounter: a counter that goes up and down, as a pair of grow-only counters.

Theory of operation (Shapiro et al. 2011). ``P`` counts increments and ``N`` decrements per
replica; join is pointwise max on both; ``value = ΣP - ΣN``. The decomposition has one element
per non-zero entry of either vector.
"""

from __future__ import annotations

from typing import Any, Self

from crdts._codec import TAGS, Reader, Writer, check_replica, register
from crdts._lattice import Lattice
from crdts._vector import (
    check_amount,
    vec_add,
    vec_decode,
    vec_diff,
    vec_encode,
    vec_leq,
    vec_merge,
)

__all__ = ["PNCounter"]


class PNCounter(Lattice):
    """Increment/decrement counter. ``value``: an ``int``."""

    __slots__ = ("_n", "_p")
    __hash__ = None  # type: ignore[assignment]

    def __init__(self) -> None:
        self._p: dict[str, int] = {}
        self._n: dict[str, int] = {}

    @classmethod
    def _make(cls, p: dict[str, int], n: dict[str, int]) -> Self:
        x = cls.__new__(cls)
        x._p, x._n = p, n
        return x

    def increment(self, replica: str, n: int = 1) -> PNCounter:
        """Add ``n >= 0``; returns the delta (bottom if ``n == 0``)."""
        check_replica(replica)
        check_amount(n)
        if n == 0:
            return PNCounter()
        return PNCounter._make({replica: vec_add(self._p, replica, n)}, {})

    def decrement(self, replica: str, n: int = 1) -> PNCounter:
        """Subtract ``n >= 0``; returns the delta (bottom if ``n == 0``)."""
        check_replica(replica)
        check_amount(n)
        if n == 0:
            return PNCounter()
        return PNCounter._make({}, {replica: vec_add(self._n, replica, n)})

    @property
    def value(self) -> int:
        return sum(self._p.values()) - sum(self._n.values())

    def copy(self) -> Self:
        return self._make(self._p.copy(), self._n.copy())

    def merge(self, other: Self) -> None:
        vec_merge(self._p, other._p)
        vec_merge(self._n, other._n)

    def leq(self, other: Self) -> bool:
        return vec_leq(self._p, other._p) and vec_leq(self._n, other._n)

    def decompose(self) -> list[Self]:
        return [self._make({r: k}, {}) for r, k in self._p.items()] + [
            self._make({}, {r: k}) for r, k in self._n.items()
        ]

    def diff(self, other: Self) -> Self:
        return self._make(vec_diff(self._p, other._p), vec_diff(self._n, other._n))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, PNCounter)
        return self._p == other._p and self._n == other._n

    def __repr__(self) -> str:
        return f"PNCounter(p={self._p!r}, n={self._n!r})"


def _enc(x: PNCounter, w: Writer) -> Any:
    return (vec_encode(x._p, w), vec_encode(x._n, w))


def _dec(body: Any, r: Reader, version: int) -> PNCounter:
    p, n = r.array(body, 2)
    return PNCounter._make(vec_decode(p, r), vec_decode(n, r))


register(PNCounter, tag=TAGS["PNCounter"], version=1, encode=_enc, decode=_dec)
