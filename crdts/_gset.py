"""GSet: the grow-only set (join is union; the decomposition is the singletons)."""

from __future__ import annotations

from typing import Any, Self

from crdts._codec import TAGS, Reader, Writer, check_value, register
from crdts._errors import DecodeError
from crdts._lattice import Lattice

__all__ = ["GSet"]


class GSet(Lattice):
    """Grow-only set. ``value``: a ``frozenset``."""

    __slots__ = ("_s",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self) -> None:
        self._s: set[Any] = set()

    @classmethod
    def _make(cls, s: set[Any]) -> Self:
        x = cls.__new__(cls)
        x._s = s
        return x

    def add(self, elem: Any) -> GSet:
        """Add ``elem``; returns the delta (bottom if it was already in)."""
        check_value(elem, "element")
        if elem in self._s:
            return GSet()
        self._s.add(elem)
        return GSet._make({elem})

    def __contains__(self, elem: object) -> bool:
        return elem in self._s

    def __len__(self) -> int:
        return len(self._s)

    @property
    def value(self) -> frozenset[Any]:
        return frozenset(self._s)

    def copy(self) -> Self:
        return self._make(self._s.copy())

    def merge(self, other: Self) -> None:
        self._s |= other._s

    def join(self, other: Self) -> Self:
        return self._make(self._s | other._s)

    def leq(self, other: Self) -> bool:
        return self._s <= other._s

    def decompose(self) -> list[Self]:
        return [self._make({e}) for e in self._s]

    def diff(self, other: Self) -> Self:
        return self._make(self._s - other._s)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, GSet)
        return self._s == other._s

    def __repr__(self) -> str:
        return f"GSet({self._s!r})"


def _enc(x: GSet, w: Writer) -> Any:
    return list(w.ordered(x._s))


def _dec(body: Any, r: Reader, version: int) -> GSet:
    items = r.array(body)
    s = {r.value(e) for e in items}
    if len(s) != len(items):
        raise DecodeError("GSet element appears twice")
    return GSet._make(s)


register(GSet, tag=TAGS["GSet"], version=1, encode=_enc, decode=_dec)
