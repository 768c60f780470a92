"""The part of the CRDT contract every type shares: ``bottom``, ``<=`` and a pure ``join``
built from the type's own ``copy``, ``merge`` and ``leq``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

__all__ = ["Lattice"]


class Lattice:
    """Mixin for a join-semilattice type whose ``T()`` is bottom. A type overrides ``join``
    where it has a faster pure join than a copy and an in-place merge."""

    __slots__ = ()

    if TYPE_CHECKING:  # provided by each type

        def copy(self) -> Self: ...
        def merge(self, other: Self) -> None: ...
        def leq(self, other: Self) -> bool: ...

    @classmethod
    def bottom(cls) -> Self:
        """The empty state, ``cls()``."""
        return cls()

    def __le__(self, other: Self) -> bool:
        return self.leq(other)

    def join(self, other: Self) -> Self:
        """``self ⊔ other`` (pure)."""
        x = self.copy()
        x.merge(other)
        return x
