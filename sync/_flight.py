"""What of our delta stream is in flight to one neighbour, and its retransmission timeout.

A :class:`Flight` per neighbour (``Peer.flight``) records each chunk ``[lo, hi)`` sent and not
acknowledged yet: when it went, its size, whether it went more than once. Their total is what
flow control bounds (``SyncConfig.max_inflight_bytes``); an ack is a round-trip sample; the
retransmission timeout follows RFC 6298 (smoothed round trip plus four mean deviations, doubled
on each expiry until an ack shows progress), from ``resend_timeout`` up to ``MAX_RTO`` times it
(``MAX_RTO_DATAGRAMS`` over datagrams).
:mod:`sync._flow` decides what to send from it.
"""

from __future__ import annotations

__all__ = ["MAX_RTO", "MAX_RTO_DATAGRAMS", "Flight"]

MAX_RTO = 16  # the retransmission timeout is at most this many times resend_timeout
# over datagrams: a silent round trip there is most likely a loss, which waiting longer does not
# cure (a chunk lost 4 times in a row waited 16 s, then 32 s: beyond the property test's 60 s)
MAX_RTO_DATAGRAMS = 2


class _Chunk:
    __slots__ = ("first", "hi", "resent", "size", "t")

    def __init__(self, hi: int, t: float, size: int, first: float | None) -> None:
        self.hi = hi
        self.t = t  # when it last went
        self.size = size
        self.first = t if first is None else first  # when it first went
        self.resent = first is not None


class Flight:
    """The chunks of our stream sent to one neighbour and not acknowledged yet, their total size,
    and the round-trip estimate that sets the retransmission timeout."""

    __slots__ = ("backoff", "bytes", "chunks", "rttvar", "srtt")

    def __init__(self) -> None:
        self.chunks: dict[int, _Chunk] = {}  # lo -> chunk [lo, hi)
        self.bytes = 0
        self.srtt: float | None = None
        self.rttvar = 0.0
        self.backoff = 1.0

    def sent(self, lo: int, hi: int, size: int, now: float, *, resent: bool) -> None:
        """Chunk ``[lo, hi)`` went (``size`` 0: it needed nothing sent and is acknowledged)."""
        old = self.chunks.pop(lo, None)
        if old is not None:
            self.bytes -= old.size
        if not size:
            return
        first = None if not resent else (now if old is None else old.first)
        self.chunks[lo] = _Chunk(hi, now, size, first)
        self.bytes += size

    def acked(self, lo: int, hi: int, now: float, *, reliable: bool) -> None:
        """An ack of ``[lo, hi)``: the chunk sent as that range leaves the flight, and its round
        trip is a sample. Of a chunk sent more than once, over a ``reliable`` stream (it loses a
        frame only with its connection) the first copy is what arrived, so the sample runs from
        the first send; over datagrams it is no sample (Karn: whose ack is it?)."""
        c = self.chunks.get(lo)
        if c is None or c.hi > hi:
            return
        del self.chunks[lo]
        self.bytes -= c.size
        # progress: the neighbour answers, the timeout backs off no further (a lossy link that
        # gives no sample for a while would otherwise wait out ever longer timeouts)
        self.backoff = 1.0
        if c.resent and not reliable:
            return
        r = max(0.0, now - c.first)
        if self.srtt is None:
            self.srtt, self.rttvar = r, r / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
            self.srtt = 0.875 * self.srtt + 0.125 * r

    def drop_below(self, mark: int) -> None:
        """Forget the chunks wholly below ``mark`` (acknowledged, contiguously)."""
        if not self.chunks:
            return
        gone = [lo for lo, c in self.chunks.items() if c.hi <= mark]
        for lo in gone:
            self.bytes -= self.chunks.pop(lo).size

    def clear(self) -> None:
        self.chunks.clear()
        self.bytes = 0

    def rto(self, floor: float, cap: float = MAX_RTO) -> float:
        """The retransmission timeout: the estimate (at least ``floor``) times the backoff, at
        most ``cap * floor``."""
        base = floor if self.srtt is None else max(floor, self.srtt + 4 * self.rttvar)
        return min(base * self.backoff, cap * floor)

    def due(
        self, start: int, frontier: int, first_acked: int | None, now: float, rto: float
    ) -> tuple[list[tuple[int, int]], bool]:
        """The ranges to send again now, in order, and whether any chunk expired: the chunks in
        flight longer than ``rto``, and the range from ``start`` (the ack mark) that is neither
        in flight nor acknowledged (``first_acked``: the start of the first range acked beyond
        a gap), up to ``frontier`` at most: a Hello rewound the mark, or an ack was not recorded.
        A gap further on becomes that one once the mark reaches it (the mark moves only
        contiguously), so the work per round does not grow with the ranges acked beyond a gap."""
        todo: list[tuple[int, int]] = []
        expired = False
        front = frontier if first_acked is None else min(frontier, first_acked)
        for lo, c in self.chunks.items():
            if c.hi <= start:
                continue
            front = min(front, lo)
            if now - c.t >= rto:
                expired = True
                todo.append((max(lo, start), c.hi))
        todo.sort()
        if start < front:
            todo.insert(0, (start, front))
        return todo, expired
