"""What a HyParView core tells the application (as :class:`~gossip.Emit` effects)."""

from __future__ import annotations

from dataclasses import dataclass

from gossip._events import Addr


@dataclass(frozen=True, slots=True)
class NeighborUp:
    """``peer`` entered the active view: a symmetric overlay link now exists.

    Consumers (Plumtree, the sync engine) treat the active view as their neighbour set.
    """

    peer: Addr


@dataclass(frozen=True, slots=True)
class NeighborDown:
    """``peer`` left the active view.

    ``reason`` is one of ``"disconnect"`` (the peer dropped the link), ``"evicted"`` (we dropped
    it to make room), ``"failed"`` (the link broke or SWIM declared it dead), ``"restarted"`` (the
    peer came back with a newer epoch: a :class:`NeighborUp` follows at once) or ``"leave"``.
    """

    peer: Addr
    reason: str = ""
