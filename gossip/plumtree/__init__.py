"""Plumtree (Leitão, Pereira, Rodrigues, SRDS 2007): broadcast trees over the HyParView overlay.

Sans-I/O: :class:`Plumtree` is driven like every core (``handle(event, now) -> effects``);
:meth:`Plumtree.broadcast` sends, :class:`Delivered` is emitted on first receipt elsewhere.
"""

from __future__ import annotations

from gossip.plumtree._config import PlumtreeConfig
from gossip.plumtree._core import NeighborSource, Plumtree, PlumtreeStats, forward_neighbor_events
from gossip.plumtree._messages import Gossip, Graft, IHave, Message, Prune, decode, encode
from gossip.plumtree._notifications import Delivered

__all__ = [
    "Delivered",
    "Gossip",
    "Graft",
    "IHave",
    "Message",
    "NeighborSource",
    "Plumtree",
    "PlumtreeConfig",
    "PlumtreeStats",
    "Prune",
    "decode",
    "encode",
    "forward_neighbor_events",
]
