"""The HyParView membership core (sans-I/O).

Theory of operation
-------------------
Leitão, Pereira, Rodrigues, "HyParView: a membership protocol for reliable gossip-based
broadcast", DSN 2007. Each node keeps two partial views of the cluster:

- the **active view** (small, ``active_size``, log(n) + c): symmetric links on the reliable
  transport. Broadcast (Plumtree, flooding) and the sync engine use exactly these neighbours. A
  broken link (:class:`~gossip.PeerUnreachable`, or SWIM via :meth:`HyParView.peer_failed`) is
  noticed at once and the peer is replaced from the passive view.
- the **passive view** (larger, ``passive_size``): addresses only, no links; the reserve from which
  active peers are replaced, kept fresh by periodic SHUFFLE random walks.

Joining: the new node sends JOIN to a contact, which adds it to its active view, answers
JOIN_ACCEPT and starts a FORWARDJOIN random walk (TTL ``arwl``) through each of its other active
neighbours. A walk leaves the new id in a passive view when its TTL equals ``prwl`` and ends (TTL 0,
or a node with a single neighbour) with a NEIGHBOR request to the new node.

NEIGHBOR requests carry a priority: *high* (the requester has no active neighbour, or the request
ends a join walk) is always accepted, evicting a random active peer if need be (it gets a
DISCONNECT and moves to the passive view); *low* is accepted only with a free slot. The requester
adds the peer only when the accepting reply arrives, so a link exists on both ends or neither: the
overlay stays symmetric.

Departures from the paper, each for a race the paper's round model does not have:

- every link-changing message carries the sender's restart ``epoch``; one older than the epoch
  already seen from that peer is stale (sent by an earlier incarnation) and is ignored;
- a NEIGHBOR reply nobody waits for any more (we timed out, or filled the slot meanwhile) is
  answered with DISCONNECT unless a slot is free, so the replier does not keep a one-sided link;
  a DISCONNECT of ours may cross an accepting NEIGHBOR reply or JOIN_ACCEPT (the replier drops
  us on it), so an acceptance links only if we have not disconnected the replier since asking
  (otherwise we ask again), and a late acceptance is not undone with DISCONNECT while a request
  or JOIN to that peer is still out (its answer decides);
- a request from a peer already in the active view is accepted again (never ignored): the peer may
  have restarted, or lost the link, and must not be blocked from reconnecting;
- a node whose views are both empty rejoins through a seed (self-heal after many simultaneous
  joins or a mass failure), and a joining node retries its JOIN until it is answered or it has a
  link other than to nodes that joined through it meanwhile (newcomers whose JOINs crossed a
  partition would otherwise stay an island of their own), and failed active peers are
  remembered for ``reconnect_window`` and retried once a round with high priority, so two halves
  of a healed partition link up again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

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
from gossip.hyparview._config import HyParViewConfig
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

_ROUND = ("hyparview", "round")
_JOIN = ("hyparview", "join")
_EPOCH_MEMORY = 4096  # peers whose epoch we remember (stale-message filter)
_SHUFFLE_MEMORY = 8  # outstanding shuffles whose sent ids we remember
_ASKED_MEMORY = 64  # peers whose NEIGHBOR request ids we remember (to judge late replies)
_ASKED_PER_PEER = 4  # request ids remembered per peer
_JOIN_ASK = -1  # stands for a JOIN among the request ids (which are >= 0)

# Kinds of outstanding NEIGHBOR request.
_PROMOTE = "promote"  # filling a free slot from the passive view (low priority unless isolated)
_FORWARD = "forward"  # end of a FORWARDJOIN walk: the new node must get the link
_RECONNECT = "reconnect"  # retrying a failed active peer (heals partitions)


@dataclass(slots=True)
class _Pending:
    req: int
    kind: str


@dataclass(slots=True)
class HyParViewStats:
    """Counters of one core, for metrics and tests."""

    decode_errors: int = 0
    stale_ignored: int = 0
    late_replies: int = 0
    evictions: int = 0
    failures: int = 0
    rejoins: int = 0
    shuffles_sent: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


class HyParView:
    """One node's HyParView state machine. See the module docstring for the protocol.

    ``addr`` is this node's own address as peers know it. ``epoch`` must grow with every restart
    of the node (a persisted counter, or the start time in milliseconds) so that peers can tell
    the new incarnation's messages from the old one's.
    """

    protocol = "hyparview"

    def __init__(
        self,
        addr: Addr,
        *,
        rng: random.Random,
        config: HyParViewConfig | None = None,
        epoch: int = 0,
    ) -> None:
        if not addr:
            raise UsageError("a HyParView node needs its own address")
        if epoch < 0:
            raise UsageError(f"epoch must be >= 0, got {epoch}")
        self.addr = addr
        self.config = config or HyParViewConfig()
        self.epoch = epoch
        self.stats = HyParViewStats()
        self._rng = rng
        self._active: dict[Addr, None] = {}
        self._passive: dict[Addr, None] = {}
        self._pending: dict[Addr, _Pending] = {}
        # Request ids sent to a peer since our last DISCONNECT to it: a late accepting reply to
        # one of them is current; any other may have been overtaken by that DISCONNECT.
        self._asked: dict[Addr, list[int]] = {}
        self._epochs: dict[Addr, int] = {}
        self._failed: dict[Addr, float] = {}
        self._tried: set[Addr] = set()
        self._seeds: list[Addr] = []
        self._join_contact: Addr | None = None
        # Nodes whose JOIN we accepted while our own JOIN was unanswered: links to them do not
        # show that we are in the cluster (they may be newcomers as cut off as we are).
        self._joiners: set[Addr] = set()
        self._shuffles: dict[int, tuple[Addr, ...]] = {}
        self._isolated_rounds = 0
        self._started = False
        self._left = False

    # -- views ---------------------------------------------------------------------------------

    @property
    def active_view(self) -> frozenset[Addr]:
        """The current neighbours (symmetric links): the sync engine's and Plumtree's peer set."""
        return frozenset(self._active)

    @property
    def passive_view(self) -> frozenset[Addr]:
        return frozenset(self._passive)

    @property
    def pending(self) -> frozenset[Addr]:
        """Peers with an outstanding NEIGHBOR request from us."""
        return frozenset(self._pending)

    @property
    def is_joining(self) -> bool:
        return self._join_contact is not None

    # -- commands ------------------------------------------------------------------------------

    def start(self, now: float) -> list[Effect]:
        """Arm the round timer (first round jittered, so nodes started together do not align)."""
        if self._started:
            return []
        self._started = True
        at = now + self.config.shuffle_interval * self._rng.uniform(0.5, 1.0)
        return [SetTimer(_ROUND, at)]

    def join(self, seeds: list[Addr] | tuple[Addr, ...], now: float) -> list[Effect]:
        """Join the overlay through one of ``seeds`` (kept for rejoining if ever isolated).

        With no seed other than itself the node is the first of its cluster: nothing is sent.
        """
        if self._left:
            raise UsageError("this HyParView node has left; create a new one (with a new epoch)")
        self._seeds = [s for s in dict.fromkeys(seeds) if s != self.addr]
        out: list[Effect] = self.start(now)
        if self._seeds:
            self._send_join(out, now)
        return out

    def peer_failed(self, peer: Addr, now: float) -> list[Effect]:
        """Another detector (SWIM) declared ``peer`` dead: treat it like a broken link."""
        out: list[Effect] = []
        if not self._left:
            self._on_unreachable(out, peer, now)
        return out

    def leave(self, now: float) -> list[Effect]:
        """Leave gracefully: tell every neighbour (they drop us from both views)."""
        out: list[Effect] = []
        if self._left:
            return out
        self._left = True
        for peer in list(self._active):
            self._send(out, peer, Disconnect(self.epoch, True))
            del self._active[peer]
            out.append(Emit(NeighborDown(peer, "leave")))
        for peer, p in self._pending.items():
            out.append(CancelTimer(("hyparview", "nbr", peer, p.req)))
        self._pending.clear()
        self._passive.clear()
        out += [CancelTimer(_ROUND), CancelTimer(_JOIN)]
        return out

    # -- events --------------------------------------------------------------------------------

    def handle(self, event: Event, now: float) -> list[Effect]:
        out: list[Effect] = []
        if self._left:
            return out
        if isinstance(event, StreamReceived):
            try:
                msg = decode(event.data)
            except DecodeError:
                self.stats.decode_errors += 1
                return out
            if event.src == self.addr:
                return out
            name = type(msg).__name__
            self.stats.by_type[name] = self.stats.by_type.get(name, 0) + 1
            self._on_message(out, event.src, msg, now)
        elif isinstance(event, TimerFired):
            self._on_timer(out, event.key, now)
        elif isinstance(event, PeerUnreachable):
            self._on_unreachable(out, event.peer, now)
        # Packets are not used by HyParView (every message goes on the reliable link).
        return out

    # -- message handlers ----------------------------------------------------------------------

    def _on_message(self, out: list[Effect], src: Addr, msg: Message, now: float) -> None:
        match msg:
            case Join(epoch):
                self._on_join(out, src, epoch, now)
            case JoinAccept(epoch):
                self._on_join_accept(out, src, epoch, now)
            case ForwardJoin():
                self._on_forward_join(out, src, msg, now)
            case Neighbor():
                self._on_neighbor(out, src, msg, now)
            case NeighborReply():
                self._on_neighbor_reply(out, src, msg, now)
            case Disconnect():
                self._on_disconnect(out, src, msg, now)
            case Shuffle():
                self._on_shuffle(out, src, msg)
            case ShuffleReply(sid, nodes):
                self._integrate(nodes, self._shuffles.pop(sid, ()))

    def _on_join(self, out: list[Effect], src: Addr, epoch: int, now: float) -> None:
        seen = self._see_epoch(src, epoch)
        if seen == "stale":
            return
        if src in self._active:
            self._send(out, src, JoinAccept(self.epoch))
            if seen == "newer":
                # The joiner restarted: its old links are gone, so announce it again.
                self._restarted(out, src)
                self._forward_joins(out, src, epoch)
            return
        self._cancel_pending(out, src)
        self._add_active(out, src, now)
        if self._join_contact is not None:
            self._joiners.add(src)
        self._send(out, src, JoinAccept(self.epoch))
        self._forward_joins(out, src, epoch)

    def _forward_joins(self, out: list[Effect], node: Addr, epoch: int) -> None:
        for peer in self._active:
            if peer != node:
                self._send(out, peer, ForwardJoin(node, epoch, self.config.arwl))

    def _on_join_accept(self, out: list[Effect], src: Addr, epoch: int, now: float) -> None:
        if self._see_epoch(src, epoch) == "stale":
            return
        if self._join_contact is not None:
            self._join_contact = None
            self._joiners.clear()
            out.append(CancelTimer(_JOIN))
        self._cancel_pending(out, src)
        if src not in self._active and _JOIN_ASK not in self._asked.get(src, ()):
            # We have disconnected the contact since asking to join (it drops us on that), or
            # never asked: an obsolete acceptance, handled like a late NEIGHBOR reply.
            self._late_acceptance(out, src, now)
            return
        # The contact has already added us: add it back even if that evicts someone, so the
        # link is symmetric.
        self._add_active(out, src, now)

    def _on_forward_join(self, out: list[Effect], src: Addr, msg: ForwardJoin, now: float) -> None:
        node, node_epoch, ttl = msg.node, msg.node_epoch, msg.ttl
        if node == self.addr or self._see_epoch(node, node_epoch) == "stale":
            return
        if ttl == 0 or len(self._active) <= 1:
            self._request_forward(out, node, now)
            return
        if ttl == self.config.prwl:
            self._add_passive(node)
        candidates = [p for p in self._active if p not in (src, node)]
        if not candidates:
            self._request_forward(out, node, now)
            return
        self._send(out, self._rng.choice(candidates), ForwardJoin(node, node_epoch, ttl - 1))

    def _request_forward(self, out: list[Effect], node: Addr, now: float) -> None:
        if node in self._active or node in self._pending:
            return
        self._request(out, node, True, _FORWARD, now)

    def _on_neighbor(self, out: list[Effect], src: Addr, msg: Neighbor, now: float) -> None:
        high, epoch, req = msg.high, msg.epoch, msg.req
        seen = self._see_epoch(src, epoch)
        if seen == "stale":
            return
        if src in self._active:
            # Never ignore a request from a current neighbour: it may have restarted or lost
            # the link (a stale connection must not block it from reconnecting).
            if seen == "newer":
                self._restarted(out, src)
            self._send(out, src, NeighborReply(True, self.epoch, req))
            return
        if high or len(self._active) < self.config.active_size:
            # A crossing request of ours to the same peer becomes moot: the link forms now.
            self._cancel_pending(out, src)
            self._add_active(out, src, now)
            self._send(out, src, NeighborReply(True, self.epoch, req))
        else:
            self._add_passive(src)
            self._send(out, src, NeighborReply(False, self.epoch, req))

    def _on_neighbor_reply(
        self, out: list[Effect], src: Addr, msg: NeighborReply, now: float
    ) -> None:
        accepted, epoch, req = msg.accepted, msg.epoch, msg.req
        if self._see_epoch(src, epoch) == "stale":
            return
        pending = self._pending.get(src)
        if pending is None or pending.req != req:
            # Late: we gave up on this request (timeout) or the peer was evicted meanwhile.
            self.stats.late_replies += 1
            if accepted and src not in self._active:
                if req in self._asked.get(src, ()) and len(self._active) < self.config.active_size:
                    self._add_active(out, src, now)  # slow, not obsolete: take the free slot
                else:
                    self._late_acceptance(out, src, now)
            return
        self._cancel_pending(out, src)
        if accepted:
            if src in self._active:
                return
            if pending.kind == _PROMOTE and len(self._active) >= self.config.active_size:
                # The slot was filled meanwhile; a promotion never evicts a working link.
                self._disconnect(out, src)
                self._add_passive(src)
            else:
                self._add_active(out, src, now)
        elif src not in self._active:
            self._add_passive(src)
            self._tried.add(src)
            self._repair(out, now)

    def _on_disconnect(self, out: list[Effect], src: Addr, msg: Disconnect, now: float) -> None:
        epoch, leaving = msg.epoch, msg.leaving
        if self._see_epoch(src, epoch) == "stale":
            return
        if src in self._active:
            del self._active[src]
            out.append(Emit(NeighborDown(src, "leave" if leaving else "disconnect")))
            if not leaving:
                self._add_passive(src)
            # Our peer is already shuffled into its passive view; avoid re-asking it right away.
            self._tried.add(src)
            self._repair(out, now)
        if leaving:
            self._passive.pop(src, None)
            self._failed.pop(src, None)
            self._cancel_pending(out, src)

    def _on_shuffle(self, out: list[Effect], src: Addr, msg: Shuffle) -> None:
        origin, ttl, sid, nodes = msg.origin, msg.ttl, msg.sid, msg.nodes
        if origin == self.addr:
            return
        if ttl > 1 and len(self._active) > 1:
            candidates = [p for p in self._active if p not in (src, origin)]
            if candidates:
                self._send(out, self._rng.choice(candidates), Shuffle(origin, ttl - 1, sid, nodes))
                return
        passive = list(self._passive)
        reply = tuple(self._rng.sample(passive, min(len(nodes), len(passive))))
        self._send(out, origin, ShuffleReply(sid, reply))
        self._integrate(nodes, reply)

    # -- timers and failures -------------------------------------------------------------------

    def _on_timer(self, out: list[Effect], key: object, now: float) -> None:
        if key == _ROUND:
            self._round(out, now)
        elif key == _JOIN:
            if self._join_contact is not None:
                if any(p not in self._joiners for p in self._active):
                    self._join_contact = None  # joined through a walk; the contact is slow
                    self._joiners.clear()
                else:
                    # Still unanswered, and no link but to nodes that joined through us while
                    # our JOIN was lost (a partition): ask again, or we would stay an island
                    # of newcomers that knows no one else.
                    self._send_join(out, now)
        elif isinstance(key, tuple) and len(key) == 4 and key[:2] == ("hyparview", "nbr"):
            peer, req = key[2], key[3]
            pending = self._pending.get(peer)
            if pending is not None and pending.req == req:
                del self._pending[peer]
                if pending.kind != _RECONNECT:
                    self._passive.pop(peer, None)  # unresponsive: no use as a backup
                self._tried.add(peer)
                self._repair(out, now)

    def _on_unreachable(self, out: list[Effect], peer: Addr, now: float) -> None:
        # A failed reconnect attempt leaves the peer remembered until its window ends.
        self._cancel_pending(out, peer)
        if peer in self._active:
            del self._active[peer]
            self.stats.failures += 1
            out.append(Emit(NeighborDown(peer, "failed")))
            self._remember_failed(peer, now)
        self._passive.pop(peer, None)
        self._tried.add(peer)
        if self._join_contact == peer and not self._active:
            self._send_join(out, now)
        self._repair(out, now)

    def _round(self, out: list[Effect], now: float) -> None:
        cfg = self.config
        out.append(SetTimer(_ROUND, now + cfg.shuffle_interval * self._rng.uniform(0.9, 1.1)))
        self._tried.clear()
        for peer, since in list(self._failed.items()):
            if now - since > cfg.reconnect_window:
                del self._failed[peer]
        if not self._active and self._seeds:
            self._isolated_rounds += 1
            # Isolated with nothing to promote, or for two rounds in a row: rejoin through a
            # seed (the self-heal of many simultaneous joins through one contact).
            if self._join_contact is None and (not self._passive or self._isolated_rounds >= 2):
                self.stats.rejoins += 1
                self._send_join(out, now)
        else:
            self._isolated_rounds = 0
        self._repair(out, now)
        retry = [p for p in self._failed if p not in self._active and p not in self._pending]
        if retry:
            self._request(out, self._rng.choice(retry), True, _RECONNECT, now)
        if self._active:
            self._shuffle(out)

    def _shuffle(self, out: list[Effect]) -> None:
        cfg = self.config
        target = self._rng.choice(list(self._active))
        others = [p for p in self._active if p != target]
        passive = list(self._passive)
        nodes = (
            self.addr,
            *self._rng.sample(others, min(cfg.shuffle_active, len(others))),
            *self._rng.sample(passive, min(cfg.shuffle_passive, len(passive))),
        )
        sid = self._rng.getrandbits(32)
        self._shuffles[sid] = nodes
        while len(self._shuffles) > _SHUFFLE_MEMORY:
            del self._shuffles[next(iter(self._shuffles))]
        self.stats.shuffles_sent += 1
        self._send(out, target, Shuffle(self.addr, cfg.shuffle_ttl, sid, nodes))

    def _repair(self, out: list[Effect], now: float) -> None:
        """Fill free active slots from the passive view (the paper's immediate replacement)."""
        size = self.config.active_size
        while len(self._active) + len(self._pending) < size:
            candidates = [
                p for p in self._passive if p not in self._pending and p not in self._tried
            ]
            if not candidates:
                break
            peer = self._rng.choice(candidates)
            self._tried.add(peer)
            # High priority only when we have no neighbour at all and no other request that
            # would give us one: an isolated node must be accepted.
            high = not self._active and not self._pending
            self._request(out, peer, high, _PROMOTE, now)
        isolated = not self._active and not self._pending and self._join_contact is None
        if isolated and self._seeds and not [p for p in self._passive if p not in self._tried]:
            self.stats.rejoins += 1
            self._send_join(out, now)

    # -- helpers -------------------------------------------------------------------------------

    def _send(self, out: list[Effect], dst: Addr, msg: Message) -> None:
        out.append(SendStream(dst, encode(msg)))

    def _late_acceptance(self, out: list[Effect], src: Addr, now: float) -> None:
        """``src`` accepted a request of ours that we no longer wait for, or that a DISCONNECT of
        ours may have overtaken (``src`` drops us on it): never link on it as it stands."""
        if src in self._pending or src == self._join_contact:
            return  # the reply to the request (or JOIN) still outstanding decides
        if len(self._active) < self.config.active_size:
            # Ask again: the request queues behind anything we sent ``src`` before, so its
            # reply tells ``src``'s current state.
            self._request(out, src, not self._active and not self._pending, _PROMOTE, now)
        else:
            # Undo its half of the link. Nothing to it is outstanding (checked above): a request
            # it accepted before this DISCONNECT arrives would be obsolete as well.
            self._disconnect(out, src)
            self._add_passive(src)

    def _disconnect(self, out: list[Effect], peer: Addr) -> None:
        """DISCONNECT ``peer`` (not leaving): replies to our earlier requests become obsolete."""
        self._asked.pop(peer, None)
        self._send(out, peer, Disconnect(self.epoch, False))

    def _send_join(self, out: list[Effect], now: float) -> None:
        if not self._seeds:
            return
        candidates = [s for s in self._seeds if s != self._join_contact] or self._seeds
        contact = self._rng.choice(candidates)
        self._join_contact = contact
        self._note_asked(contact, _JOIN_ASK)
        self._send(out, contact, Join(self.epoch))
        out.append(SetTimer(_JOIN, now + self.config.join_timeout))

    def _request(self, out: list[Effect], peer: Addr, high: bool, kind: str, now: float) -> None:
        req = self._rng.getrandbits(31)
        self._pending[peer] = _Pending(req, kind)
        self._note_asked(peer, req)
        self._send(out, peer, Neighbor(high, self.epoch, req))
        out.append(SetTimer(("hyparview", "nbr", peer, req), now + self.config.neighbor_timeout))

    def _note_asked(self, peer: Addr, req: int) -> None:
        asked = self._asked.pop(peer, [])  # re-inserted: the most recently asked peer is last
        asked.append(req)
        self._asked[peer] = asked[-_ASKED_PER_PEER:]
        if len(self._asked) > _ASKED_MEMORY:
            del self._asked[next(iter(self._asked))]

    def _cancel_pending(self, out: list[Effect], peer: Addr) -> None:
        pending = self._pending.pop(peer, None)
        if pending is not None:
            out.append(CancelTimer(("hyparview", "nbr", peer, pending.req)))

    def _add_active(self, out: list[Effect], peer: Addr, now: float) -> None:
        if peer == self.addr or peer in self._active:
            return
        if len(self._active) >= self.config.active_size:
            victim = self._rng.choice([p for p in self._active if p != peer])
            del self._active[victim]
            self.stats.evictions += 1
            self._disconnect(out, victim)
            out.append(Emit(NeighborDown(victim, "evicted")))
            self._add_passive(victim)
        self._passive.pop(peer, None)
        self._failed.pop(peer, None)
        self._active[peer] = None
        self._isolated_rounds = 0
        out.append(Emit(NeighborUp(peer)))

    def _add_passive(self, peer: Addr, prefer_drop: tuple[Addr, ...] = ()) -> None:
        if peer == self.addr or peer in self._active or peer in self._passive:
            return
        if len(self._passive) >= self.config.passive_size:
            drop = [p for p in prefer_drop if p in self._passive]
            victim = drop[0] if drop else self._rng.choice(list(self._passive))
            del self._passive[victim]
        self._passive[peer] = None

    def _integrate(self, nodes: tuple[Addr, ...], sent: tuple[Addr, ...]) -> None:
        """Merge shuffled ids into the passive view, evicting first the ids we sent away."""
        for node in nodes:
            if node not in self._failed:
                self._add_passive(node, sent)

    def _restarted(self, out: list[Effect], peer: Addr) -> None:
        out.append(Emit(NeighborDown(peer, "restarted")))
        out.append(Emit(NeighborUp(peer)))

    def _remember_failed(self, peer: Addr, now: float) -> None:
        if self.config.reconnect_memory == 0:
            return
        self._failed.pop(peer, None)
        self._failed[peer] = now
        while len(self._failed) > self.config.reconnect_memory:
            del self._failed[next(iter(self._failed))]

    def _see_epoch(self, peer: Addr, epoch: int) -> str:
        """Record ``peer``'s epoch: ``"stale"`` (older than seen), ``"newer"``, or ``"same"``."""
        known = self._epochs.get(peer)
        if known is not None and epoch < known:
            self.stats.stale_ignored += 1
            return "stale"
        self._epochs[peer] = epoch
        if known is None or epoch == known:
            if len(self._epochs) > _EPOCH_MEMORY:
                self._forget_epochs()
            return "same"
        return "newer"

    def _forget_epochs(self) -> None:
        keep = set(self._active) | set(self._pending) | set(self._passive)
        for peer in list(self._epochs):
            if len(self._epochs) <= _EPOCH_MEMORY // 2:
                break
            if peer not in keep:
                del self._epochs[peer]


__all__ = ["HyParView", "HyParViewStats"]
