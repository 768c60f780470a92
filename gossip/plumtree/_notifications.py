"""What a Plumtree core tells the application (as :class:`~gossip.Emit` effects)."""

from __future__ import annotations

from dataclasses import dataclass

from gossip._events import Addr


@dataclass(frozen=True, slots=True)
class Delivered:
    """A broadcast from another node arrived here for the first time.

    ``mid`` is the message id (unique per broadcast), ``sender`` the neighbour it came from and
    ``hops`` its distance from the origin along the path it took (1: the origin's neighbour).
    """

    mid: int
    payload: bytes
    sender: Addr
    hops: int
