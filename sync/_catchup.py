"""Catch-up of a new or long-absent neighbour: Hello and watermark, then whole objects in steps.

Theory of operation
-------------------
A new neighbour starts at ``A(j) = c`` (:mod:`sync._engine`); everything older reaches it by a
catch-up, decided when its :class:`~sync._messages.Hello` arrives. Both ends send a Hello (resent
each round until the other's arrives) naming the peer's epoch they know and the *watermark* up to
which they hold that peer's stream. If the neighbour holds our current epoch up to ``W``: when the
buffer still reaches back to ``W`` we just resend from ``W``; otherwise we ship the objects changed
since ``W`` (a per-key modification index ordered by sequence number). A neighbour we know nothing
about (new, or we restarted) gets a Merkle digest catch-up (:mod:`sync._digest`). When neither
end knows the other, the two digest catch-ups run one after the other (a replica recovering from a
restart second), so the second sees only what the first left different.

Either way the catch-up ships whole objects (self-contained CRDT states: causal types carry their
own context, restricted to what they hold, so no step claims more than it carries) in bounded
:class:`~sync._messages.Objects` steps, acknowledged and resent from the first unacknowledged one
each round; an object too big for one message is split into parts. ``CatchupDone(covered)`` then
establishes the receiver's watermark, so that the next reconnection is a plain resend or an index
catch-up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from gossip._events import Effect, Emit
from sync._base import MSG_OVERHEAD, OBJ_OVERHEAD, Crdt, Peer
from sync._digest import DigestMixin
from sync._errors import CorruptRecordError, ProtocolViolationError
from sync._messages import (
    PROTOCOL_VERSION,
    CatchupDone,
    Digest,
    Hello,
    ObjectEntry,
    Objects,
    ObjectsAck,
)
from sync._ranges import RangeTracker

__all__ = ["Catchup", "CatchupCompleted", "CatchupMixin"]


@dataclass(frozen=True, slots=True)
class CatchupCompleted:
    """Emitted when this replica finished catching ``peer`` up (``objects`` shipped)."""

    peer: str
    via: str  # "buffer", "index" (modification index since a watermark) or "merkle"
    objects: int


class Catchup:
    """One catch-up of a neighbour: an optional Merkle descent, then whole objects in steps."""

    __slots__ = (
        "covered",
        "digest_done",
        "last_progress",
        "next_req",
        "outstanding",
        "parts",
        "queue_items",
        "queue_nodes",
        "sent_at",
        "sent_hi",
        "session",
        "ship",
        "ship_set",
        "shipped",
        "split",
        "via",
    )

    def __init__(self, session: int, covered: int, via: str, now: float) -> None:
        self.session = session
        self.covered = covered
        self.via = via
        self.digest_done = via != "merkle"
        # Subtrees to probe: (level, prefix, hash, the key if it holds just one, else None).
        self.queue_nodes: list[tuple[int, int, int, str | None]] = []
        self.queue_items: list[tuple[int, int]] = []  # subtrees to send as item hashes
        # req -> (the probe, what each of its hashes stands for: a subtree to descend into or
        # the key of an item to ship, in the order of the reply's bits); resent if late.
        self.outstanding: dict[int, tuple[Digest, list[tuple[int, int] | str]]] = {}
        self.next_req = 0
        self.ship: list[str] = []
        self.ship_set: set[str] = set()
        self.parts: dict[int, tuple[Crdt, bytes]] = {}  # slot -> a part of a split object
        self.split: set[int] = set()  # slots whose object was split into parts
        self.shipped = RangeTracker()
        self.sent_hi = 0  # ship slots below this were sent once (acked or not)
        self.sent_at = float("-inf")  # when slots from the unacked mark on were last all sent
        self.last_progress = now

    def add_ship(self, keys: Iterable[str]) -> None:
        for k in keys:
            if k not in self.ship_set:
                self.ship_set.add(k)
                self.ship.append(k)

    @property
    def finished(self) -> bool:
        return (
            self.digest_done
            and not self.outstanding
            and not self.queue_nodes
            and not self.queue_items
            and self.shipped.mark >= len(self.ship)
        )


class CatchupMixin(DigestMixin):
    """The catch-up part of :class:`~sync.SyncEngine` (see the module docstring)."""

    def _hello_for(self, peer: str, p: Peer, *, reply: bool = False) -> Hello:
        known = self._recv.get(peer)
        return Hello(
            PROTOCOL_VERSION,
            self.epoch,
            None if known is None else known[0],
            0 if known is None else known[1].mark,
            reply,
            self._recovering,
        )

    def _on_hello(self, src: str, msg: Hello, now: float, out: list[Effect]) -> None:
        p = self._peers.get(src)
        if p is None:
            # The overlay has not told us yet: keep it for neighbor_up. Bounded: a sender can
            # claim any number of sources; a Hello not kept is resent by its sender each round.
            early = self._early_hello
            if src in early or len(early) < self.config.max_early_hellos:
                early[src] = msg
            else:
                self.metrics.early_hellos_dropped += 1
            return
        p.got_hello = True
        if not msg.reply:
            self._send(out, src, self._hello_for(src, p, reply=True))
        if p.hello_epoch == msg.epoch:
            return  # a duplicate (or a resend) of a Hello already acted on
        p.hello_epoch = msg.epoch
        if not self._mode.delta:
            return
        # A watermark beyond our sequence number cannot be of this incarnation (a reused
        # epoch): it vouches for nothing, so the neighbour is caught up by digest.
        if msg.known_epoch == self.epoch and 0 < msg.watermark <= self._c:
            w = msg.watermark
            if w >= self._base and w > self._unbuffered:
                # The buffer still holds [w, c), and every change since w is in it (none was
                # indexed without an entry: a relay held or dropped, a change nobody was to be
                # sent): plain retransmission, no catch-up.
                p.ack.mark = min(p.ack.mark, w)
                return
            cu = self._new_catchup(p, "index", now)
            keys: list[str] = []
            for k, s in reversed(self._mod.items()):
                if s < w:
                    break
                keys.append(k)
            keys.reverse()
            cu.add_ship(keys)
        else:
            known = self._recv.get(src)
            knows_nothing = known is None or known[0] != msg.epoch or known[1].mark == 0
            theirs_first = (msg.recovering, src) < (self._recovering, self.replica_id)
            if knows_nothing and theirs_first:
                # We know nothing of its stream either, so it is about to catch us up by
                # digest too. Two descents at once would each ship its side's differing
                # objects, stale ones included, and walk every differing subtree twice; after
                # its catch-up of us our tree differs from its only where we hold what it
                # lacks, so one goes first and the other (run on its CatchupDone) is short.
                # First: a replica not recovering from a restart (the other's objects are
                # likely stale), then the smaller id. If its catch-up stalls, the round starts
                # ours anyway.
                p.deferred = p.peer_activity = now
                return
            self._start_merkle(src, p, now, out)
            return
        self._pump_digest(src, cu, out)
        self._maybe_finish(src, p, out)

    def _new_catchup(self, p: Peer, via: str, now: float) -> Catchup:
        self._session += 1
        self.metrics.catchups_started += 1
        cu = p.catchup = Catchup(self._session, self._c, via, now)
        return cu

    def _catchup_round(
        self, peer: str, p: Peer, now: float, out: list[Effect], budget: int
    ) -> None:
        cu = p.catchup
        assert cu is not None
        if cu.outstanding and now - cu.last_progress > self.config.catchup_timeout:
            # A probe or its reply was lost: ask again (a reply is idempotent; late ones are
            # ignored once their request is answered).
            cu.last_progress = now
            for msg, _keys in cu.outstanding.values():
                self._send(out, peer, msg)
        # As for the delta-interval: slots in flight wait resend_timeout before going again
        # (re-encoding whole objects every round behind slow acks starved the event loop).
        in_flight = cu.sent_hi > cu.shipped.mark
        if in_flight and cu.sent_at == float("-inf") and self.config.resend_timeout:
            cu.sent_at = now  # first sent by the digest reply: the timer starts now
        resend = not (in_flight and now - cu.sent_at < self.config.resend_timeout)
        if resend:
            cu.sent_at = now
        self._ship(peer, cu, out, budget, resend=resend)
        self._maybe_finish(peer, p, out)

    def _ship(
        self, peer: str, cu: Catchup, out: list[Effect], budget: int, *, resend: bool = True
    ) -> None:
        """Send whole objects of the ship list from the first unacked one (``resend``) or the
        first never sent, in bounded steps.

        An object too big for one message is split (:meth:`_split`): its parts are appended to
        the ship list (indices never shift, so acks stay exact) and its own slot is a no-op.
        """
        limit = self.config.max_message_bytes - MSG_OVERHEAD
        i = cu.shipped.mark if resend else max(cu.shipped.mark, cu.sent_hi)
        sent = 0
        lo = i
        objs: list[ObjectEntry] = []
        xs: list[Crdt] = []
        acc = 0
        while i < len(cu.ship) and sent < budget:
            key = cu.ship[i]
            part = cu.parts.get(i)
            if part is not None:
                x, enc = part
            elif i in cu.split or key not in self._state:
                i += 1
                continue
            else:
                try:
                    enc = self.state_bytes(key) or b""  # a stored object: as stored, no decode
                    if len(enc) + len(key) + OBJ_OVERHEAD > limit:
                        x = self._state[key]  # too big for one message: decoded to be split
                        cu.split.add(i)
                        for px, penc in self._split(x):
                            cu.parts[len(cu.ship)] = (px, penc)
                            cu.ship.append(key)
                        i += 1
                        continue
                    # the object itself only to count its elements (when asked to)
                    x = self._state[key] if self._count_elements is not None else None
                except CorruptRecordError:  # our stored state of it does not decode: skip
                    i += 1
                    continue
            size = len(key) + len(enc) + OBJ_OVERHEAD
            if objs and acc + size > limit:
                self._send_objects(out, peer, cu, lo, i, objs, xs)
                sent += 1
                lo, objs, xs, acc = i, [], [], 0
                if sent >= budget:
                    return
            objs.append((key, enc))
            xs.append(x)
            acc += size
            i += 1
        if objs:
            self._send_objects(out, peer, cu, lo, i, objs, xs)
        elif i > lo:  # only no-op slots (split objects): nothing to send for them
            cu.shipped.add(lo, i)

    def _send_objects(  # noqa: PLR0917
        self,
        out: list[Effect],
        peer: str,
        cu: Catchup,
        lo: int,
        hi: int,
        objs: list[ObjectEntry],
        xs: list[Crdt],
    ) -> None:
        self._send(out, peer, Objects(cu.session, lo, hi, objs), sum(len(e) for _, e in objs))
        cu.sent_hi = max(cu.sent_hi, hi)
        self._count_sent(peer, xs)

    def _on_objects_ack(self, src: str, msg: ObjectsAck, now: float, out: list[Effect]) -> None:
        p = self._peers.get(src)
        cu = None if p is None else p.catchup
        if p is None or cu is None or cu.session != msg.session:
            return
        if msg.hi > len(cu.ship):
            raise ProtocolViolationError("objects ack beyond the ship list")
        if cu.shipped.add(msg.lo, msg.hi):
            cu.last_progress = now
        self._maybe_finish(src, p, out)

    def _maybe_finish(self, peer: str, p: Peer, out: list[Effect]) -> None:
        cu = p.catchup
        if cu is None or not cu.finished:
            return
        p.catchup = None
        self.metrics.catchups_completed += 1
        self.metrics.catchup_objects_shipped += len(cu.ship)
        self._send(out, peer, CatchupDone(cu.session, self.epoch, cu.covered))
        out.append(Emit(CatchupCompleted(peer, cu.via, len(cu.ship))))

    def _on_catchup_done(self, src: str, msg: CatchupDone, now: float, out: list[Effect]) -> None:
        if msg.covered > 0:
            self._recv_tracker(src, msg.epoch).raise_to(msg.covered)
        self._recovering = False
        p = self._peers.get(src)
        if p is not None and p.deferred is not None:
            self._start_merkle(src, p, now, out)  # its catch-up of us is complete: our turn

    def _peer_progress(self, src: str, now: float) -> None:
        p = self._peers.get(src)
        if p is not None:
            p.peer_activity = now
