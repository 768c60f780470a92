"""The Plumtree broadcast core (sans-I/O).

Theory of operation
-------------------
Leitão, Pereira, Rodrigues, "Epidemic Broadcast Trees", SRDS 2007. Broadcast runs over the
HyParView active view (the neighbour set); each neighbour is either *eager* or *lazy*:

- a new payload is pushed at once (GOSSIP) to the eager neighbours and only announced (IHAVE,
  batched) to the lazy ones;
- every neighbour starts eager; the first copy of a message moves its sender to eager, and a
  duplicate moves its sender to lazy and answers PRUNE (the receiver of PRUNE makes the link lazy
  too). Duplicates therefore cut the redundant links and the eager links settle into a spanning
  tree: after that a broadcast costs one payload per tree edge (relative redundancy near 0);
- a node that hears IHAVE for a message it lacks starts a timer (``graft_timeout``); if the
  payload has not arrived by then, the tree is broken somewhere: it sends GRAFT to the announcer
  (which makes the link eager again and sends the payload), then retries other announcers every
  ``graft_retry``. Lazy links are the tree's repair paths, so losing a node or a link loses no
  message.

Neighbours come from HyParView: pass the HyParView core as ``neighbors`` (Plumtree reads its active
view before each step, so nothing has to be forwarded), or call :meth:`Plumtree.neighbor_up` and
:meth:`Plumtree.neighbor_down` from the application on HyParView's ``NeighborUp``/``NeighborDown``.

Message ids are 64-bit random numbers from the node's ``rng``; a bounded cache remembers the ids
(and payloads, to answer GRAFTs) of the last ``seen_cache`` messages, and at most ``cache_bytes``
of payloads (older payloads are dropped first, their ids kept). A received payload over
``max_payload`` is dropped unseen: a peer cannot make us keep or forward more than we would send.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from gossip._errors import DecodeError, UsageError
from gossip._events import (
    Addr,
    CancelTimer,
    Effect,
    Emit,
    Event,
    PeerUnreachable,
    SendStream,
    SetTimer,
    StreamReceived,
    TimerFired,
)
from gossip.plumtree._config import PlumtreeConfig
from gossip.plumtree._messages import Gossip, Graft, IHave, Prune, decode, encode
from gossip.plumtree._notifications import Delivered

_FLUSH = ("plumtree", "ihave")
_PRUNE = encode(Prune())


class NeighborSource(Protocol):
    """Anything with the current neighbour set, e.g. a :class:`~gossip.hyparview.HyParView`."""

    @property
    def active_view(self) -> frozenset[Addr]: ...


@dataclass(slots=True)
class PlumtreeStats:
    """Counters of one core, for metrics, tests and the benchmark."""

    broadcasts: int = 0
    delivered: int = 0
    gossip_received: int = 0
    duplicates: int = 0
    gossip_sent: int = 0
    ihave_sent: int = 0
    grafts_sent: int = 0
    prunes_sent: int = 0
    decode_errors: int = 0
    oversize_dropped: int = 0  # received payloads over max_payload
    payloads_evicted: int = 0  # cached payloads dropped to stay under cache_bytes


class Plumtree:
    """One node's Plumtree state machine. See the module docstring for the protocol."""

    protocol = "plumtree"

    def __init__(
        self,
        addr: Addr,
        *,
        rng: random.Random,
        config: PlumtreeConfig | None = None,
        neighbors: NeighborSource | None = None,
    ) -> None:
        self.addr = addr
        self.config = config or PlumtreeConfig()
        self.stats = PlumtreeStats()
        self._rng = rng
        self._source = neighbors
        self._known: frozenset[Addr] = frozenset()
        self._eager: dict[Addr, None] = {}
        self._lazy: dict[Addr, None] = {}
        # mid -> (round, payload): the seen cache, oldest first (payload None: evicted).
        self._received: dict[int, tuple[int, bytes | None]] = {}
        self._cached_bytes = 0
        self._payload_order: deque[int] = deque()  # mids whose payload may be cached
        # mid -> announcers (peer, round) of a message we lack, in arrival order.
        self._missing: dict[int, list[tuple[Addr, int]]] = {}
        self._graft_armed: set[int] = set()
        self._graft_tries: dict[int, int] = {}
        self._queue: dict[Addr, list[tuple[int, int]]] = {}
        self._flush_armed = False
        self.last_mid: int | None = None
        """The id of the latest :meth:`broadcast` from this node."""

    # -- views ---------------------------------------------------------------------------------

    @property
    def eager_peers(self) -> frozenset[Addr]:
        self._sync_neighbors([])
        return frozenset(self._eager)

    @property
    def lazy_peers(self) -> frozenset[Addr]:
        self._sync_neighbors([])
        return frozenset(self._lazy)

    @property
    def cached_bytes(self) -> int:
        """Payload bytes held by the seen cache (at most ``cache_bytes``)."""
        return self._cached_bytes

    def has_seen(self, mid: int) -> bool:
        return mid in self._received

    # -- commands ------------------------------------------------------------------------------

    def start(self, now: float) -> list[Effect]:
        return []

    def broadcast(self, payload: bytes, now: float) -> list[Effect]:
        """Send ``payload`` to every node (it is not delivered back here). Returns the effects;
        the new message id is :attr:`last_mid`."""
        if not isinstance(payload, bytes | bytearray | memoryview):
            raise UsageError(f"a broadcast payload is bytes, got {type(payload).__name__}")
        payload = bytes(payload)
        if len(payload) > self.config.max_payload:
            raise UsageError(
                f"payload of {len(payload)} bytes exceeds max_payload={self.config.max_payload}"
            )
        out: list[Effect] = []
        self._sync_neighbors(out)
        mid = self._rng.getrandbits(64)
        while mid in self._received or mid == 0:
            mid = self._rng.getrandbits(64)
        self.last_mid = mid
        self.stats.broadcasts += 1
        self._remember(mid, 0, payload)
        self._push(out, Gossip(mid, 0, payload), None, now)
        return out

    def neighbor_up(self, peer: Addr, now: float) -> list[Effect]:
        """``peer`` joined the neighbour set (HyParView ``NeighborUp``): it starts eager."""
        if peer != self.addr and peer not in self._eager and peer not in self._lazy:
            self._eager[peer] = None
        return []

    def neighbor_down(self, peer: Addr, now: float) -> list[Effect]:
        """``peer`` left the neighbour set (HyParView ``NeighborDown``)."""
        self._eager.pop(peer, None)
        self._lazy.pop(peer, None)
        self._queue.pop(peer, None)
        # Its announcements are worthless now; other announcers (if any) stay.
        for mid, anns in list(self._missing.items()):
            kept = [a for a in anns if a[0] != peer]
            if len(kept) != len(anns):
                self._missing[mid] = kept
        return []

    # -- events --------------------------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Effect]:
        out: list[Effect] = []
        self._sync_neighbors(out)
        if isinstance(event, StreamReceived):
            try:
                msg = decode(event.data)
            except DecodeError:
                self.stats.decode_errors += 1
                return out
            src = event.src
            if isinstance(msg, Gossip):
                self._on_gossip(out, src, msg, now)
            elif isinstance(msg, IHave):
                self._on_ihave(out, src, msg, now)
            elif isinstance(msg, Graft):
                self._on_graft(out, src, msg)
            elif src in self._eager:
                del self._eager[src]
                self._lazy[src] = None
        elif isinstance(event, TimerFired):
            if event.key == _FLUSH:
                self._flush_armed = False
                self._flush(out)
            elif isinstance(event.key, tuple) and event.key[:2] == ("plumtree", "graft"):
                mid = event.key[2]
                if isinstance(mid, int):
                    self._on_graft_timer(out, mid, now)
        elif isinstance(event, PeerUnreachable):
            self.neighbor_down(event.peer, now)
            # Forget it as "known" too, so that if the source still (or again) lists it, the next
            # step adds it back instead of silently missing it.
            self._known = self._known - {event.peer}
        return out

    # -- handlers ------------------------------------------------------------------------------

    def _on_gossip(self, out: list[Effect], src: Addr, msg: Gossip, now: float) -> None:
        self.stats.gossip_received += 1
        if len(msg.payload) > self.config.max_payload:
            self.stats.oversize_dropped += 1
            return
        if msg.mid in self._received:
            self.stats.duplicates += 1
            # A redundant path: cut it (the sender does the same when it gets PRUNE).
            if src in self._eager:
                del self._eager[src]
                self._lazy[src] = None
            self.stats.prunes_sent += 1
            out.append(SendStream(src, _PRUNE))
            return
        rnd = msg.round + 1
        self._remember(msg.mid, rnd, msg.payload)
        self.stats.delivered += 1
        out.append(Emit(Delivered(msg.mid, msg.payload, src, rnd)))
        self._graft_tries.pop(msg.mid, None)
        if self._missing.pop(msg.mid, None) is not None and msg.mid in self._graft_armed:
            self._graft_armed.discard(msg.mid)
            out.append(CancelTimer(("plumtree", "graft", msg.mid)))
        if src in self._lazy:
            del self._lazy[src]
            self._eager[src] = None
        self._push(out, Gossip(msg.mid, rnd, msg.payload), src, now)

    def _on_ihave(self, out: list[Effect], src: Addr, msg: IHave, now: float) -> None:
        if src not in self._eager and src not in self._lazy:
            return  # not (or no longer) a neighbour: it cannot serve a GRAFT on our link
        for mid, rnd in msg.entries:
            if mid in self._received:
                continue
            anns = self._missing.get(mid)
            if anns is None:
                anns = self._missing[mid] = []
                while len(self._missing) > self.config.seen_cache:
                    old = next(iter(self._missing))
                    del self._missing[old]
                    self._graft_tries.pop(old, None)
                    if old in self._graft_armed:
                        self._graft_armed.discard(old)
                        out.append(CancelTimer(("plumtree", "graft", old)))
            anns.append((src, rnd))
            if mid not in self._graft_armed:
                self._graft_armed.add(mid)
                out.append(SetTimer(("plumtree", "graft", mid), now + self.config.graft_timeout))

    def _on_graft_timer(self, out: list[Effect], mid: int, now: float) -> None:
        self._graft_armed.discard(mid)
        anns = self._missing.get(mid)
        if mid in self._received or not anns:
            self._missing.pop(mid, None)
            self._graft_tries.pop(mid, None)
            return
        peer, rnd = anns.pop(0)
        # Rotate: if every announcer was tried, the next retry asks this one again (a GRAFT or
        # its answer may have been lost), up to graft_attempts in all.
        anns.append((peer, rnd))
        tries = self._graft_tries.get(mid, 0) + 1
        if tries > self.config.graft_attempts:
            self._missing.pop(mid, None)
            self._graft_tries.pop(mid, None)
            return
        self._graft_tries[mid] = tries
        if peer in self._lazy:
            del self._lazy[peer]
            self._eager[peer] = None
        self.stats.grafts_sent += 1
        out.append(SendStream(peer, encode(Graft(mid, rnd))))
        # If this announcer fails us too, try the next one sooner.
        self._graft_armed.add(mid)
        out.append(SetTimer(("plumtree", "graft", mid), now + self.config.graft_retry))

    def _on_graft(self, out: list[Effect], src: Addr, msg: Graft) -> None:
        if src in self._lazy:
            del self._lazy[src]
            self._eager[src] = None
        got = self._received.get(msg.mid)
        if got is not None and got[1] is not None:
            self.stats.gossip_sent += 1
            out.append(SendStream(src, encode(Gossip(msg.mid, got[0], got[1]))))

    # -- helpers -------------------------------------------------------------------------------

    def _push(self, out: list[Effect], msg: Gossip, exclude: Addr | None, now: float) -> None:
        mid, rnd = msg.mid, msg.round
        data = encode(msg)
        for peer in self._eager:
            if peer != exclude:
                self.stats.gossip_sent += 1
                out.append(SendStream(peer, data))
        queued = False
        for peer in self._lazy:
            if peer != exclude:
                self._queue.setdefault(peer, []).append((mid, rnd))
                queued = True
        if not queued:
            return
        if self.config.ihave_interval == 0:
            self._flush(out)
        elif not self._flush_armed:
            self._flush_armed = True
            out.append(SetTimer(_FLUSH, now + self.config.ihave_interval))

    def _flush(self, out: list[Effect]) -> None:
        batch = self.config.ihave_batch
        for peer, entries in self._queue.items():
            for i in range(0, len(entries), batch):
                self.stats.ihave_sent += 1
                out.append(SendStream(peer, encode(IHave(tuple(entries[i : i + batch])))))
        self._queue.clear()

    def _remember(self, mid: int, rnd: int, payload: bytes) -> None:
        self._received[mid] = (rnd, payload)
        self._cached_bytes += len(payload)
        self._payload_order.append(mid)
        order = self._payload_order
        if len(self._received) > self.config.seen_cache:
            old = next(iter(self._received))
            _, dropped = self._received.pop(old)
            if dropped is not None:
                self._cached_bytes -= len(dropped)
            if order and order[0] == old:  # both are oldest first
                order.popleft()
        while self._cached_bytes > self.config.cache_bytes and order:
            old = order.popleft()
            entry = self._received.get(old)
            if entry is not None and entry[1] is not None:
                self._received[old] = (entry[0], None)
                self._cached_bytes -= len(entry[1])
                self.stats.payloads_evicted += 1

    def _sync_neighbors(self, out: list[Effect]) -> None:
        """Catch up with the neighbour source's active view (cheap when it has not changed)."""
        source = self._source
        if source is None:
            return
        current = source.active_view
        if current == self._known:
            return
        for peer in self._known - current:
            self.neighbor_down(peer, 0.0)
        for peer in current - self._known:
            self.neighbor_up(peer, 0.0)
        self._known = current


def forward_neighbor_events(
    effects: Iterable[Effect], plumtree: Plumtree, now: float
) -> list[Effect]:
    """Wire HyParView to Plumtree by hand: ``effects`` (from a HyParView core) plus Plumtree's
    reactions to the ``NeighborUp``/``NeighborDown`` among them. Not needed when Plumtree was
    built with ``neighbors=`` the HyParView core."""
    from gossip.hyparview._notifications import NeighborDown, NeighborUp

    result = list(effects)
    for e in list(result):
        if isinstance(e, Emit):
            if isinstance(e.event, NeighborUp):
                result += plumtree.neighbor_up(e.event.peer, now)
            elif isinstance(e.event, NeighborDown):
                result += plumtree.neighbor_down(e.event.peer, now)
    return result


__all__ = ["NeighborSource", "Plumtree", "PlumtreeStats", "forward_neighbor_events"]
