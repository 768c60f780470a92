"""The transmit-limited queue of piggybacked updates (SWIM's infection-style dissemination)."""

from __future__ import annotations

from dataclasses import dataclass

from gossip._events import Addr

__all__ = ["BroadcastQueue"]


@dataclass(slots=True)
class _Item:
    encoded: bytes
    transmits: int
    order: int  # larger is newer


class BroadcastQueue:
    """At most one pending update per member: a newer update about a member replaces the older
    one (it supersedes it, so sending both wastes the budget). :meth:`take` picks the least-sent
    updates first, newest first among equals, until the byte budget is spent, and drops an update
    once it has been sent ``limit`` times."""

    def __init__(self) -> None:
        self._items: dict[Addr, _Item] = {}
        self._order = 0
        self.finished: set[Addr] = set()  # members whose last update left the queue

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, addr: Addr) -> bool:
        return addr in self._items

    def queue(self, addr: Addr, encoded: bytes) -> None:
        self._order += 1
        self._items[addr] = _Item(encoded, 0, self._order)
        self.finished.discard(addr)

    def take(self, budget: int, limit: int, skip: Addr | None = None) -> list[bytes]:
        """Encoded updates fitting in ``budget`` bytes; each one taken counts as one transmit.

        ``skip`` names a member whose update the caller already placed in the packet.
        """
        if not self._items or budget <= 0:
            return []
        out: list[bytes] = []
        ranked = sorted(self._items.items(), key=lambda kv: (kv[1].transmits, -kv[1].order))
        for addr, item in ranked:
            if budget < 8:  # no update is smaller than this
                break
            if addr == skip or len(item.encoded) > budget:
                continue
            out.append(item.encoded)
            budget -= len(item.encoded)
            item.transmits += 1
            if item.transmits >= limit:
                del self._items[addr]
                self.finished.add(addr)
        return out
