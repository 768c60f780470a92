"""Sending the delta-interval to a neighbour: chunks, acks, resends and flow control.

Theory of operation
-------------------
Algorithm 2 (Almeida et al.) sends neighbour ``j`` the interval ``[A(j), c)`` every round and
resends whatever is unacknowledged. This module cuts that interval into chunks of at most
``max_message_bytes`` (chunk ``[lo, hi)`` joins, per object, the entries with ``lo <= seq < hi``,
so its ack covers exactly that range) and decides what goes each round:

- ``resend_timeout = 0`` (the paper): the whole unacknowledged interval, every round.
- ``resend_timeout > 0``: each chunk sent is remembered (:class:`~sync._flight.Flight`: its
  range, when, its size). A chunk is sent again only once it has been in flight longer than
  the retransmission timeout, and only that chunk, not everything from ``A(j)`` on: a
  neighbour seconds behind was otherwise sent its whole backlog again every
  ``resend_timeout``, which put it further behind. The timeout adapts as TCP's does (RFC 6298:
  smoothed round trip plus four deviations; doubled on each expiry until an ack shows
  progress; at most ``16 * resend_timeout``, ``2 *`` over datagrams, where a silent round trip
  is most likely a loss), with ``resend_timeout`` as its floor: a receiver
  slowed by load answers late, and a resend would only add to its backlog. Ranges below the
  frontier that are neither in flight nor acknowledged (a Hello's watermark rewound ``A(j)``)
  go at once.
- ``max_inflight_bytes > 0``: flow control. New chunks go only while the chunks in flight to
  the neighbour total less than that (one chunk always may). While the window is full, new
  entries wait in the buffer, where the entries of one object join into one delta when they
  are finally sent (a backlog coalesces instead of becoming a queue of messages at the
  receiver), and relays the neighbour has meanwhile reported holding are dropped (below).

Relays filtered at send time (``relay_hold``): an entry received from ``z`` in ``z``'s interval
ending at ``hi`` is not sent to a neighbour whose last Have report shows it holds ``z``'s stream
up to ``hi``: it has the delta, or ``z`` is responsible for relaying it (``sync._relay``). The
chain of such responsibilities follows the delta's path back to its origin, which sent it.
"""

from __future__ import annotations

from collections.abc import Iterator

from gossip._events import Effect
from sync._base import MSG_OVERHEAD, OBJ_OVERHEAD, Crdt, EngineBase, Entry, Peer
from sync._errors import ProtocolViolationError
from sync._flight import MAX_RTO, MAX_RTO_DATAGRAMS
from sync._messages import Ack, Delta, ObjectEntry

__all__ = ["FlowMixin"]


class FlowMixin(EngineBase):
    """The sending side of :class:`~sync.SyncEngine`: the delta-interval stream (see the module
    docstring) and, in ``STATE`` mode, the whole keyspace every round."""

    def _state_round(self, out: list[Effect]) -> None:
        if not self._peers or not self._state:
            return
        encoded = [(k, self._encode(x)) for k, x in self._state.items()]
        for peer in self._peers:
            for lo, hi in self._chunks([len(k) + len(e) for k, e in encoded]):
                objs = encoded[lo:hi]
                self._send(out, peer, Delta(self.epoch, 0, 0, objs), sum(len(e) for _, e in objs))
                self._count_sent(peer, (self._state[k] for k, _ in objs))

    def _chunks(self, sizes: list[int]) -> Iterator[tuple[int, int]]:
        """Cut a list of object sizes into index ranges of at most ``max_message_bytes``."""
        limit = self.config.max_message_bytes - MSG_OVERHEAD
        lo, acc = 0, 0
        for i, s in enumerate(sizes):
            s += OBJ_OVERHEAD
            if acc and acc + s > limit:
                yield lo, i
                lo, acc = i, 0
            acc += s
        if lo < len(sizes):
            yield lo, len(sizes)

    def _send_interval(
        self, peer: str, p: Peer, out: list[Effect], budget: int, now: float = 0.0
    ) -> int:
        """Send what of ``[A(peer), c)`` is due this round; returns the messages sent."""
        start = max(p.ack.mark, self._base)
        if start >= self._c:
            p.flight.clear()
            p.sent_hi = max(p.sent_hi, start)
            return 0
        floor = self.config.resend_timeout
        if not floor:  # the paper: everything unacknowledged, every round
            sent, _ = self._send_range(out, peer, p, start, self._c, budget, now, track=False)
            return sent
        fl = p.flight
        fl.drop_below(start)
        p.sent_hi = max(p.sent_hi, start)
        sent = 0
        cap = MAX_RTO_DATAGRAMS if self.config.use_packets else MAX_RTO
        todo, expired = fl.due(start, p.sent_hi, p.ack.first_pending, now, fl.rto(floor, cap))
        if expired:
            fl.backoff = min(2 * fl.backoff, float(cap))
        for lo, hi in todo:
            n, _ = self._send_range(out, peer, p, lo, hi, budget - sent, now, resend=True)
            sent += n
            if sent >= budget:
                return sent
        if p.sent_hi < self._c:
            window = self.config.max_inflight_bytes or None
            if window is None or fl.bytes < window:
                n, p.sent_hi = self._send_range(
                    out, peer, p, p.sent_hi, self._c, budget - sent, now, window=window
                )
                sent += n
        return sent

    def _send_range(  # noqa: PLR0917
        self,
        out: list[Effect],
        peer: str,
        p: Peer,
        start: int,
        end: int,
        budget: int,
        now: float,
        *,
        track: bool = True,
        resend: bool = False,
        window: int | None = None,
    ) -> tuple[int, int]:
        """Send the entries of ``[start, end)`` in chunks, at most ``budget`` messages, and (with
        ``window``) no new chunk once that many bytes are in flight; returns the messages sent
        and the position up to which everything went (or was acknowledged as not needed)."""
        bp = self._mode.bp
        limit = self.config.max_message_bytes - MSG_OVERHEAD
        encode = self._encode
        buf = self._buf
        have = p.have
        fl = p.flight
        groups: dict[str, list[Entry]] = {}
        acc = 0
        sent = 0
        lo = start
        for i in range(start - self._base, end - self._base):
            e = buf[i]
            if (bp and e.origin == peer) or (e.skip is not None and peer in e.skip):
                continue
            if e.src is not None and have:
                m = have.get(e.origin)  # type: ignore[arg-type]  # origin is set with src
                if m is not None and m[0] == e.src[0] and m[1] >= e.src[1]:
                    if not resend:
                        self.metrics.relays_dropped += 1
                    continue  # it has it from the source, or the source relays it (see above)
            if e.enc is None:
                e.enc = encode(e.delta)
            size = len(e.key) + len(e.enc) + OBJ_OVERHEAD
            if groups and acc + size > limit:
                n = self._send_chunk(out, p, peer, lo, e.seq, groups)
                if track:
                    fl.sent(lo, e.seq, n, now, resent=resend)
                sent += 1
                if sent >= budget or (window is not None and fl.bytes >= window):
                    return sent, e.seq
                lo, groups, acc = e.seq, {}, 0
            g = groups.get(e.key)
            if g is None:
                groups[e.key] = [e]
            else:
                g.append(e)
            acc += size
        if groups:
            n = self._send_chunk(out, p, peer, lo, end, groups)
            if track:
                fl.sent(lo, end, n, now, resent=resend)
            sent += 1
        else:
            # Everything left came from this neighbour (BP) or reaches it another way.
            p.ack.add(lo, end)
            if track:
                fl.sent(lo, end, 0, now, resent=resend)
        return sent, end

    def _send_chunk(  # noqa: PLR0917
        self,
        out: list[Effect],
        p: Peer,
        peer: str,
        lo: int,
        hi: int,
        groups: dict[str, list[Entry]],
    ) -> int:
        """Send chunk ``[lo, hi)``; returns its payload bytes (0: nothing needed sending, the
        range is acknowledged at once)."""
        objs: list[ObjectEntry] = []
        deltas: list[Crdt] = []
        known = p.known
        for key, entries in groups.items():
            kn = known.get(key)
            if len(entries) == 1:
                e = entries[0]
                d = e.delta
                enc = e.enc
            else:
                # the same entries joined for several neighbours in one round: join and encode
                # them once (the cache lives for one round; the joined delta is never mutated)
                tag = (key, *(e.seq for e in entries))
                hit = self._joined.get(tag)
                if hit is None:
                    d = entries[0].delta.copy()
                    for e in entries[1:]:
                        d.merge(e.delta)
                    enc = None
                    if kn is None:
                        enc = self._encode(d)
                        self._joined[tag] = (d, enc)
                else:
                    d, enc = hit
            if kn is not None:
                if d.leq(kn):
                    continue  # the neighbour sent us all of it: it has it
                d = d.diff(kn)
                enc = None
            if enc is None:
                enc = self._encode(d)
            objs.append((key, enc))
            deltas.append(d)
        if not objs:
            p.ack.add(lo, hi)  # everything in [lo, hi) is known to the neighbour already
            return 0
        payload = sum(len(e) for _, e in objs)
        self._send(out, peer, Delta(self.epoch, lo, hi, objs), payload)
        self._count_sent(peer, deltas)
        return payload + OBJ_OVERHEAD * len(objs) + MSG_OVERHEAD

    def _gc(self) -> None:
        """Drop buffer entries every current neighbour has acknowledged (all, with none)."""
        new_base = min((p.ack.mark for p in self._peers.values()), default=self._c)
        buf = self._buf
        drop = min(new_base - self._base, len(buf))
        if drop > 0:
            popleft = buf.popleft
            for _ in range(drop):
                popleft()
            self._base += drop
        if not buf:
            self._base = self._c

    def _on_ack(self, src: str, msg: Ack, now: float = 0.0) -> None:
        if msg.epoch != self.epoch:
            return  # an ack for a previous incarnation of this replica: meaningless now
        if msg.hi > self._c:
            raise ProtocolViolationError(f"ack up to {msg.hi} but only {self._c} entries exist")
        p = self._peers.get(src)
        if p is None:
            return  # no longer a neighbour: its ack no longer holds the buffer
        p.flight.acked(msg.lo, msg.hi, now, reliable=not self.config.use_packets)
        if p.ack.add(msg.lo, msg.hi):
            self._gc()
