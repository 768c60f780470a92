"""The max-vector lattice ``dict[str, int]`` under pointwise max, shared by ``GCounter``,
``PNCounter`` (two of them) and ``VectorClock``.

Theory of operation. A vector maps each replica to a count; join is the pointwise max, ``leq``
the pointwise ``<=`` (a missing entry counts as 0). The irreducible decomposition has one
single-entry vector per replica, and ``diff`` keeps the entries where ``self`` is ahead. Each
replica raises only its own entry, so a delta is the one entry it changed.
"""

from __future__ import annotations

from typing import Any, Self

from crdts._codec import Reader, Writer
from crdts._errors import DecodeError, UsageError
from crdts._lattice import Lattice

__all__ = [
    "MaxVector",
    "check_amount",
    "vec_add",
    "vec_decode",
    "vec_diff",
    "vec_encode",
    "vec_leq",
    "vec_merge",
]

_MAX = (1 << 64) - 1


def check_amount(n: object) -> int:
    if type(n) is not int or n < 0:
        raise UsageError(f"n must be an int >= 0, not {n!r}")
    return n


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


class MaxVector(Lattice):
    """Base of the types whose whole state is one max-vector ``_v`` (the lattice methods and
    the codec body; subclasses add their mutators and ``value``)."""

    __slots__ = ("_v",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self) -> None:
        self._v: dict[str, int] = {}

    @classmethod
    def _make(cls, v: dict[str, int]) -> Self:
        x = cls.__new__(cls)
        x._v = v
        return x

    def copy(self) -> Self:
        return self._make(self._v.copy())

    def merge(self, other: Self) -> None:
        vec_merge(self._v, other._v)

    def leq(self, other: Self) -> bool:
        return vec_leq(self._v, other._v)

    def decompose(self) -> list[Self]:
        return [self._make({r: n}) for r, n in self._v.items()]

    def diff(self, other: Self) -> Self:
        return self._make(vec_diff(self._v, other._v))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, MaxVector)
        return self._v == other._v

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._v!r})"

    # -- codec body (register each subclass with these) -----------------------------------------

    @staticmethod
    def encode_body(x: MaxVector, w: Writer) -> Any:
        return vec_encode(x._v, w)

    @classmethod
    def decode_body(cls, body: Any, r: Reader, version: int) -> Self:
        return cls._make(vec_decode(body, r))
