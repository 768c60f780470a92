"""HyParView (Leitão, Pereira, Rodrigues, DSN 2007): the overlay's sans-I/O membership core.

The active view of :class:`HyParView` is each node's neighbour set (for Plumtree and the sync
engine); :class:`NeighborUp` / :class:`NeighborDown` are emitted as it changes.
"""

from __future__ import annotations

from gossip.hyparview._config import HyParViewConfig
from gossip.hyparview._core import HyParView, HyParViewStats
from gossip.hyparview._messages import (
    Disconnect,
    ForwardJoin,
    Join,
    JoinAccept,
    Message,
    Neighbor,
    NeighborReply,
    Shuffle,
    ShuffleReply,
    decode,
    encode,
)
from gossip.hyparview._notifications import NeighborDown, NeighborUp

__all__ = [
    "Disconnect",
    "ForwardJoin",
    "HyParView",
    "HyParViewConfig",
    "HyParViewStats",
    "Join",
    "JoinAccept",
    "Message",
    "Neighbor",
    "NeighborDown",
    "NeighborReply",
    "NeighborUp",
    "Shuffle",
    "ShuffleReply",
    "decode",
    "encode",
]
