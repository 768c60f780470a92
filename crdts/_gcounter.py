"""GCounter: the grow-only counter, and the max-vector lattice it shares with VectorClock.

Theory of operation (Shapiro et al. 2011). The state maps each replica to the count it has
added; join is the pointwise max, so each replica's own entry is the only one it ever raises and
the value is the sum. The irreducible decomposition has one single-entry counter per replica, and
``diff`` keeps the entries where ``self`` is ahead.
"""

from __future__ import annotations

from typing import Any, Self

from crdts._codec import TAGS, Reader, Writer, check_replica, register
from crdts._errors import DecodeError, UsageError

__all__ = ["GCounter"]

_MAX = (1 << 64) - 1


def check_amount(n: object) -> int:
    if type(n) is not int or n < 0:
        raise UsageError(f"n must be an int >= 0, not {n!r}")
    return n


# -- the max-vector lattice dict[str, int] (shared with PNCounter and VectorClock) -------------


def vec_merge(a: dict[str, int], b: dict[str, int]) -> None:
    for r, n in b.items():
        if n > a.get(r, 0):
            a[r] = n


def vec_leq(a: dict[str, int], b: dict[str, int]) -> bool:
    return all(n <= b.get(r, 0) for r, n in a.items())


def vec_diff(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {r: n for r, n in a.items() if n > b.get(r, 0)}


def vec_add(v: dict[str, int], replica: str, n: int) -> int:
    new = v.get(replica, 0) + n
    if new > _MAX:
        raise UsageError("a replica's count must fit in 64 bits")
    v[replica] = new
    return new


def vec_encode(v: dict[str, int], w: Writer) -> list[int]:
    out: list[int] = []
    for r, n in sorted(v.items()) if w.canonical else v.items():
        out.append(w.replica(r))
        out.append(n)
    return out


def vec_decode(obj: Any, r: Reader) -> dict[str, int]:
    flat = r.array(obj)
    if len(flat) % 2:
        raise DecodeError("vector entries come in pairs")
    v: dict[str, int] = {}
    for i in range(0, len(flat), 2):
        v[r.replica(flat[i])] = r.integer(flat[i + 1], 1, _MAX)
    if len(v) * 2 != len(flat):
        raise DecodeError("replica appears twice in a vector")
    return v


class GCounter:
    """Grow-only counter. ``value``: an ``int``."""

    __slots__ = ("_v",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self) -> None:
        self._v: dict[str, int] = {}

    @classmethod
    def _make(cls, v: dict[str, int]) -> Self:
        x = cls.__new__(cls)
        x._v = v
        return x

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
        assert isinstance(other, GCounter)
        return self._v == other._v

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._v!r})"


def _enc(x: GCounter, w: Writer) -> Any:
    return vec_encode(x._v, w)


def _dec(body: Any, r: Reader, version: int) -> GCounter:
    return GCounter._make(vec_decode(body, r))


register(GCounter, tag=TAGS["GCounter"], version=1, encode=_enc, decode=_dec)
