"""The part of the CRDT contract every type shares: ``bottom``, ``<=``, a pure ``join`` built
from the type's own ``copy``, ``merge`` and ``leq``, and ``absorb`` (a received delta joined in
place, returning what was new) built from ``leq``, ``diff`` and ``merge``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Self

__all__ = ["Lattice"]


class Lattice:
    """Mixin for a join-semilattice type whose ``T()`` is bottom. A type overrides ``join``
    where it has a faster pure join than a copy and an in-place merge, and ``absorb`` where it
    can fuse the receiver's ``leq``, ``diff`` and ``merge`` into one pass."""

    __slots__ = ()

    if TYPE_CHECKING:  # provided by each type

        def copy(self) -> Self: ...
        def merge(self, other: Self) -> None: ...
        def leq(self, other: Self) -> bool: ...
        def diff(self, other: Self) -> Self: ...

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

    def absorb(self, d: Self) -> Self | None:
        """Join ``d`` into ``self`` in place and return the part of ``d`` that ``self`` lacked.

        With ``old`` the state before the call, afterwards:

        - ``self == old ⊔ d`` (exactly what ``self.merge(d)`` leaves);
        - the result is ``None`` if and only if ``d <= old`` (nothing changed);
        - otherwise it is a delta ``D`` equal in value to ``d.diff(old)``: the minimal delta,
          the join of the parts of ``d``'s irreducible decomposition that ``old`` lacked (unique),
          so ``old ⊔ D == self`` and ``D <= d``, and none of ``D``'s parts is ``<= old``;
        - ``D`` may be ``d`` itself (the same object) when all of ``d`` was new: a caller may
          then reuse ``d``'s received encoding for ``D``;
        - ``d`` is not changed, and ``self`` keeps no reference to a mutable part of ``d`` or
          ``D`` (immutable values such as tuples may be shared): mutating ``self`` later never
          changes ``d`` or ``D``, nor the other way round.

        This default is ``leq``, ``diff`` and ``merge`` one after the other (three passes over
        ``d``); a type overrides it with one fused pass where it can (``AWLWWMap`` does for a
        put's delta). The law suite (``crdts.testing``, ``absorb`` law) checks every point above
        against ``leq``/``diff``/``merge``.
        """
        if d.leq(self):
            return None
        delta = d.diff(self)
        self.merge(delta)
        return delta
