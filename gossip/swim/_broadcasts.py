"""The transmit-limited queue of piggybacked updates (SWIM's infection-style dissemination).

Ordering: at most one pending update per member; :meth:`BroadcastQueue.take` walks the updates
least-sent first and, among equally sent ones, newest first, and takes each one that still fits
the packet's byte budget, until fewer than 8 bytes (smaller than any update) are left.

Incremental structure: memberlist's ``TransmitLimitedQueue`` keeps a btree ordered by
``(transmits, -len, -id)``; here one binary heap per encoded size holds ``(transmits, -order,
item)`` entries. A take repeatedly pops the least head among the sizes that still fit (a size
that does not fit now never will in this take: the budget only shrinks), which is exactly the
item a full sort would reach next. Entries are invalidated lazily: a newer update about a member
replaces its item, and each transmit pushes a new entry (after the take, so that no update goes
twice into one packet); stale heads are dropped when met. A take costs
``O((taken + stale) * log q)`` instead of the ``O(q log q)`` of re-sorting the whole queue.
"""

from __future__ import annotations

import heapq

from gossip._events import Addr

__all__ = ["BroadcastQueue"]


class _Item:
    __slots__ = ("addr", "encoded", "order", "transmits")

    def __init__(self, addr: Addr, encoded: bytes, order: int) -> None:
        self.addr = addr
        self.encoded = encoded
        self.transmits = 0
        self.order = order  # larger is newer


_Entry = tuple[int, int, _Item]  # (transmits, -order, item): -order is unique, items never compared


class BroadcastQueue:
    """At most one pending update per member: a newer update about a member replaces the older
    one (it supersedes it, so sending both wastes the budget). :meth:`take` picks the least-sent
    updates first, newest first among equals, until the byte budget is spent, and drops an update
    once it has been sent ``limit`` times.

    ``watch`` names one member (the owner itself) whose update leaving the queue sets
    :attr:`watch_finished` (a leaving member waits for its "left" to be disseminated); a set of
    every finished member would grow with the cluster on every node."""

    __slots__ = ("_entries", "_heaps", "_items", "_order", "_watch", "watch_finished")

    def __init__(self, watch: Addr | None = None) -> None:
        self._items: dict[Addr, _Item] = {}
        self._heaps: dict[int, list[_Entry]] = {}  # encoded size -> heap of entries
        self._entries = 0  # heap entries, stale ones included
        self._order = 0
        self._watch = watch
        self.watch_finished = False

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, addr: Addr) -> bool:
        return addr in self._items

    def queue(self, addr: Addr, encoded: bytes) -> None:
        self._order += 1
        item = _Item(addr, encoded, self._order)
        old = self._items.get(addr)
        if old is not None:
            old.transmits = -1  # its heap entry is stale now (no entry has transmits -1)
        self._items[addr] = item
        self._push((0, -self._order, item))
        if addr == self._watch:
            self.watch_finished = False
        if self._entries > 2 * len(self._items) + 64:
            self._compact()

    def _push(self, entry: _Entry) -> None:
        size = len(entry[2].encoded)
        h = self._heaps.get(size)
        if h is None:
            h = self._heaps[size] = []
        heapq.heappush(h, entry)
        self._entries += 1

    def _compact(self) -> None:
        """Rebuild the heaps from the live items (drops every stale entry)."""
        self._heaps = {}
        self._entries = 0
        for item in self._items.values():
            self._push((item.transmits, -item.order, item))

    def take(self, budget: int, limit: int, skip: Addr | None = None) -> list[bytes]:
        """Encoded updates fitting in ``budget`` bytes; each one taken counts as one transmit.

        ``skip`` names a member whose update the caller already placed in the packet.
        """
        items = self._items
        if not items or budget < 8:  # no update is smaller than 8 bytes
            return []
        heappop, heappush = heapq.heappop, heapq.heappush
        heaps = self._heaps
        popped = 0
        # The head (transmits, -order, size) of each size that fits, stale entries dropped.
        heads: list[tuple[int, int, int]] = []
        for size, h in heaps.items():
            if size <= budget:
                while h and h[0][0] != h[0][2].transmits:
                    heappop(h)
                    popped += 1
                if h:
                    heads.append((h[0][0], h[0][1], size))
        if len(heads) > 1:
            heapq.heapify(heads)
        out: list[bytes] = []
        later: list[_Entry] = []  # pushed back after the take: one transmit per take at most
        while heads and budget >= 8:
            size = heads[0][2]
            if size > budget:
                heappop(heads)  # the budget only shrinks: this size is done for this take
                continue
            h = heaps[size]
            entry = heappop(h)
            popped += 1
            item = entry[2]
            if item.addr == skip:
                later.append(entry)
            else:
                out.append(item.encoded)
                budget -= size
                t = item.transmits = item.transmits + 1
                if t >= limit:
                    del items[item.addr]
                    item.transmits = -1
                    if item.addr == self._watch:
                        self.watch_finished = True
                else:
                    later.append((t, entry[1], item))
            while h and h[0][0] != h[0][2].transmits:
                heappop(h)
                popped += 1
            if h:
                heapq.heapreplace(heads, (h[0][0], h[0][1], size))
            else:
                heappop(heads)
        self._entries -= popped
        for entry in later:
            heappush(heaps[len(entry[2].encoded)], entry)
        self._entries += len(later)
        return out
