"""Relaying received deltas in a dense overlay (``SyncConfig.relay_hold``).

Theory of operation
-------------------
Delta-based sync relays every received delta to every other neighbour; in a dense overlay (the
Node's five-node full mesh) each delta then reaches each replica about n times. With
``relay_hold`` on, a received delta is relayed at once only to neighbours that are not the
source's; for the source's own neighbours it is *held* (per source, in arrival order): they
should get it from the source directly. Each round, a node tells each neighbour in a small
:class:`~sync._messages.Have` report its neighbours and how far it holds each one's stream, plus
``A(you)`` (how far our stream counts as delivered to you, including ranges never sent to you
because you hold them or get them from their source). A held relay is dropped for a neighbour
that reports holding the source's stream up to the delta's interval end; released at once when
the source leaves our neighbours or either side's Have stops listing the other; and relayed
anyway after ``relay_hold`` (a silent link, a neighbour far behind), unless every neighbour it
waits for reported progress on the source's stream within the last ``relay_hold``: it is only
behind, the delta is on its way from the source, and a relay would add to its backlog (the
positive feedback of an overloaded cluster); then it waits up to ``4 * relay_hold``.
"""

from __future__ import annotations

from collections import deque

from gossip._events import Effect
from sync._base import Crdt, EngineBase
from sync._messages import Have

__all__ = ["Held", "RelayMixin"]

# A held relay waits at most this many relay_holds while the neighbours it waits for are only
# behind on the source's stream (their reports of it still move): then it goes anyway.
_MAX_HOLDS = 4


class Held:
    """The received deltas of one message whose relay waits (relay_hold): when they came, their
    keys, deltas and encodings (``None``: encoded when relayed), the source's epoch and the end
    of the source's interval they came in, and the neighbours they are held for (neighbours of
    the source, which should get them from there). One per message, not per object: every
    object of a message shares all of that but the key, and the hold is decided per message."""

    __slots__ = ("epoch", "hi", "items", "later", "t")

    def __init__(
        self,
        t: float,
        items: list[tuple[str, Crdt, bytes | None]],
        epoch: int,
        hi: int,
        later: set[str],
    ) -> None:
        self.t = t
        self.items = items
        self.epoch = epoch
        self.hi = hi
        self.later = later


class RelayMixin(EngineBase):
    """The relay hold of :class:`~sync.SyncEngine` (see the module docstring)."""

    def _hold_relay(self, origin: str) -> set[str] | None:
        """relay_hold: the neighbours that should get a delta received from ``origin`` from
        ``origin`` directly (each lists the other as a neighbour in its last Have): its relay to
        them is held. ``None``: relay to every other neighbour now. The same for every object of
        a message: the engine asks once per message."""
        peers = self._peers
        src = peers.get(origin)
        if src is None or not src.have:
            return None
        theirs = src.have
        later = {w for w, p in peers.items() if w != origin and w in theirs and origin in p.have}
        return later or None

    def _hold(
        self,
        origin: str,
        items: list[tuple[str, Crdt, bytes | None]],
        later: set[str],
        rx: tuple[int, int, float],
    ) -> None:
        """Hold the relay of ``items`` (one message's changes from ``origin``) for ``later``."""
        epoch, hi, now = rx
        q = self._relay.get(origin)
        if q is None:
            q = self._relay[origin] = deque()
        q.append(Held(now, items, epoch, hi, later))
        self.metrics.relays_held += len(later) * len(items)

    def _has(self, peer: str, origin: str, h: Held) -> bool:
        """Whether ``peer``'s last Have shows it holds ``origin``'s stream up to ``h.hi``."""
        p = self._peers.get(peer)
        if p is None:
            return True  # no longer a neighbour: nothing to relay to it
        m = p.have.get(origin)
        return m is not None and m[0] == h.epoch and m[1] >= h.hi

    def _relay_due(self, now: float) -> None:
        """Decide the held relays: a neighbour that reported holding one is dropped from it; one
        whose source, or link to the source, went away (the source left our neighbours, or
        either one's Have no longer lists the other) gets every held relay from that source at
        once; and what is still unreported after ``relay_hold`` is relayed anyway (a silent link,
        a neighbour far behind)."""
        peers = self._peers
        hold = self.config.relay_hold
        for origin in list(self._relay):
            q = self._relay[origin]
            src = peers.get(origin)
            cut = {
                w
                for w, p in peers.items()
                if w != origin and (src is None or w not in src.have or origin not in p.have)
            }
            done = self._released.get(origin, set())
            new = cut - done
            if new:
                for h in q:
                    ws = h.later & new
                    if ws:
                        h.later -= ws
                        self._release(origin, h, ws, late=False)
            self._released[origin] = cut
            while q:
                h = q[0]
                h.later = {w for w in h.later if not self._has(w, origin, h)}
                if h.later and (
                    now - h.t < hold
                    or (now - h.t < _MAX_HOLDS * hold and self._catching_up(h, origin, now))
                ):
                    break  # the ones behind it came later
                q.popleft()
                if h.later:
                    self._release(origin, h, h.later, late=True)
                else:
                    self._index_unbuffered(key for key, _, _ in h.items)
            if not q:
                del self._relay[origin]
                self._released.pop(origin, None)

    def _catching_up(self, h: Held, origin: str, now: float) -> bool:
        """Whether every neighbour ``h`` waits for is only behind on ``origin``'s stream: its
        reports of that stream (the same epoch as ``h``'s) moved within the last ``relay_hold``.
        The link works and the delta is on its way; a relay now would add to its backlog."""
        hold = self.config.relay_hold
        for w in h.later:
            p = self._peers.get(w)
            if p is None:
                return False
            m = p.have.get(origin)
            if m is None or m[0] != h.epoch or now - p.have_moved.get(origin, -hold) >= hold:
                return False
        return True

    def _release(self, origin: str, h: Held, ws: set[str], *, late: bool) -> None:
        """Relay ``h`` to those of ``ws`` that have not reported holding it."""
        need = [w for w in ws if not self._has(w, origin, h)]
        if not need:
            self._index_unbuffered(key for key, _, _ in h.items)
            return
        if late:
            self.metrics.relays_late += len(need) * len(h.items)
        else:
            self.metrics.relays_released += len(need) * len(h.items)
        skip = frozenset(self._peers).difference(need)
        src = (h.epoch, h.hi)
        for key, delta, enc in h.items:
            self._append(key, delta, origin, skip, src, enc)

    def _report_have(self, out: list[Effect]) -> None:
        """Tell every neighbour our neighbours, how far we hold each one's stream, and how far
        ours counts as delivered to it (when any of that changed since our last report)."""
        recv = self._recv
        marks: list[tuple[str, int, int]] = []
        for a in self._peers:
            r = recv.get(a)
            marks.append((a, 0, 0) if r is None else (a, r[0], r[1].mark))
        changed = marks != self._have_marks
        self._have_marks = marks
        for peer, p in self._peers.items():
            # A(you) counts as delivered only once the neighbour's Hello has set where its
            # stream starts (a resend from its watermark, or a catch-up) and no catch-up of it
            # is under way: a new neighbour starts at A = c, and what is older reaches it that
            # way. Told earlier, it would vouch for the gap in its next Hello, and nothing
            # would ship it (nor would the neighbours holding those relays for it).
            settled = p.hello_epoch is not None and p.catchup is None and p.deferred is None
            acked = p.ack.mark if settled else 0
            if changed or acked != p.have_acked:
                p.have_acked = acked
                self._send(out, peer, Have(marks, self.epoch, acked))

    def _on_have(self, src: str, msg: Have, now: float = 0.0) -> None:
        p = self._peers.get(src)
        if p is None:
            return
        old = p.have
        p.have = {a: (e, m) for a, e, m in msg.marks}
        moved = p.have_moved
        for a, (e, m) in p.have.items():
            was = old.get(a)
            if was is not None and was[0] == e and m > was[1]:
                moved[a] = now  # its hold on that stream progresses (see _catching_up)
        for a in [a for a in moved if a not in p.have]:
            del moved[a]
        r = self._recv.get(src)
        if r is not None and r[0] == msg.epoch and r[1].mark > 0:
            # Only once a catch-up (or a kept watermark) has made the tracker vouch for the
            # stream's start: A(us) begins at the sender's c when we became neighbours, and what
            # is older reaches us by catch-up, not by this stream.
            r[1].raise_to(msg.acked)
