"""The Node's gate in front of its transport: an on/off switch, the durability boundary, and a
redial backoff.

- Offline (``go_offline``): no packet or frame goes in or out.
- Online, frames first wait for ``before_send`` (the Node's pending commit: nothing leaves the
  node before the commit that holds it); with ``needs_commit``, only the frames it picks (those
  that carry object state), and the frames queued before the first of them go at once.
- A peer whose connect failed is not dialled again before a backoff (jittered, doubling from
  ``backoff_min`` to ``backoff_max``, reset by a success): without it a node whose only seed is
  down re-dialled it about a thousand times a second (HyParView re-sends its JOIN to a contact
  that fails, the host carries it out at once; 30 % of a core, measured). The wait happens in
  the host's sender task of that peer, so other peers are not held up.

The Node's ``go_offline()``/``go_online()`` (simulating a device losing its network). While
offline, datagrams and frames sent are dropped (counted), every open connection is closed, and
whatever still arrives is dropped before any core sees it.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Self

import anyio

from gossip import UnreachableError
from gossip._events import Addr
from gossip.transport import Incoming, Transport, TransportMetrics

__all__ = ["LinkGate"]

_MAX_FAILED = 4096  # peers whose failure is remembered for the backoff


class LinkGate:
    """Wraps a started :class:`~gossip.transport.Transport` (it does not own it)."""

    def __init__(
        self,
        inner: Transport,
        *,
        before_send: Callable[[], Awaitable[None]] | None = None,
        needs_commit: Callable[[bytes], bool] | None = None,
        rng: random.Random | None = None,
        backoff_min: float = 0.1,  # s, wait before the first redial of a peer that failed
        backoff_max: float = 5.0,  # s, cap of the doubling wait
    ) -> None:
        self.inner = inner
        self._rng = rng or random.Random()
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        # peer -> (current backoff, earliest next dial): peers whose last send failed
        self._failed: dict[Addr, tuple[float, float]] = {}
        self.redials_delayed = 0
        # awaited before frames go out (the Node's durability boundary: commit first)
        self.before_send = before_send
        # which frames wait for it (None: all); the others go at once
        self.needs_commit = needs_commit
        self.gate_packets = False  # datagrams wait too (only when the sync engine uses them)
        self.offline = False
        self.dropped_in = 0  # items that arrived while offline
        self.dropped_out = 0  # packets and frames refused while offline

    async def set_offline(self, offline: bool, peers: Sequence[Addr] = ()) -> None:
        """Switch; going offline closes the connections to ``peers``."""
        self.offline = offline
        if offline:
            for peer in peers:
                await self.inner.close_stream(peer)

    # -- the Transport protocol ------------------------------------------------------------

    @property
    def local_addr(self) -> Addr:
        return self.inner.local_addr

    @property
    def metrics(self) -> TransportMetrics:
        return self.inner.metrics

    @property
    def max_packet_size(self) -> int:
        return self.inner.max_packet_size

    @property
    def max_frame_size(self) -> int:
        return self.inner.max_frame_size

    async def send_packet(self, dst: Addr, data: bytes) -> None:
        if self.offline:
            self.dropped_out += 1
            return
        if (
            self.gate_packets
            and self.before_send is not None
            and (self.needs_commit is None or self.needs_commit(data))
        ):
            await self.before_send()
        await self.inner.send_packet(dst, data)

    async def send_frame(self, dst: Addr, data: bytes) -> None:
        await self.send_frames(dst, [data])

    async def send_frames(self, dst: Addr, frames: Sequence[bytes]) -> None:
        if self.offline:
            # Silence, as a cut cable gives: failing the send at once would have the cores
            # retry at once (HyParView re-JOINs a contact that fails), a loop without a pause.
            # They notice the cut by their timeouts (SWIM probes, HyParView requests).
            self.dropped_out += len(frames)
            return
        if self.before_send is not None:
            needs = self.needs_commit
            if needs is None:
                await self.before_send()
            else:
                # Frames before the first one that carries state go at once (order is kept):
                # an ack, a Hello or a SWIM/HyParView frame must not wait for a commit.
                for i, frame in enumerate(frames):
                    if needs(frame):
                        if i:
                            await self._send_frames(dst, frames[:i])
                            frames = frames[i:]
                        await self.before_send()
                        break
        await self._send_frames(dst, frames)

    async def _send_frames(self, dst: Addr, frames: Sequence[bytes]) -> None:
        failed = self._failed.get(dst)
        if failed is not None:
            wait = failed[1] - anyio.current_time()
            if wait > 0:
                self.redials_delayed += 1
                await anyio.sleep(wait)
        try:
            await self.inner.send_frames(dst, frames)
        except UnreachableError:
            backoff = self.backoff_min if failed is None else min(failed[0] * 2, self.backoff_max)
            at = anyio.current_time() + backoff * self._rng.uniform(0.75, 1.25)
            self._failed[dst] = (backoff, at)
            if len(self._failed) > _MAX_FAILED:
                del self._failed[next(iter(self._failed))]
            raise
        if failed is not None:
            del self._failed[dst]

    async def close_stream(self, peer: Addr) -> None:
        await self.inner.close_stream(peer)

    async def receive(self) -> Incoming:
        while True:
            item = await self.inner.receive()
            if not self.offline:
                return item
            self.dropped_in += 1

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        return None
