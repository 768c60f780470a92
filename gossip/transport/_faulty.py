"""A fault-injecting wrapper around any :class:`~gossip.transport.Transport`.

Theory of operation
-------------------
:class:`FaultyTransport` sits between the cores' driver (a :class:`~gossip.runtime.Host`) and a
real transport (``NetTransport``, ``MemoryTransport``), and damages traffic on purpose, from a
seeded ``random.Random``: the same seed and the same sequence of sends make the same decisions.
It exists because the test kernel has no ``netem`` qdisc: loss can come from nftables, but delay,
duplication and reordering of real-socket and network-namespace traffic come from here.

Four independent :class:`Faults` settings, one per kind and direction (``packets_out``,
``packets_in``, ``frames_out``, ``frames_in``), each with a latency distribution, loss,
duplication and reordering probabilities. Outbound faults act before the inner transport sends;
inbound faults act on what the inner transport received, before :meth:`FaultyTransport.receive`
returns it. Every item gets a delivery time ``now + latency`` (a held-back one, ``reorder``, up to
``reorder_window`` more); a *lane* per peer and direction delivers its items in time order.
Frames of one lane keep their order (each is delivered no earlier than the frame before it)
unless ``reorder`` holds one back; packets are independent (a wide latency spread reorders them,
as on a real network).

Frame loss, duplication and reordering break the stream's guarantees on purpose (TCP never
drops, repeats or reorders a frame): they are for testing that a core tolerates what it claims
to. Frame latency keeps them. A delayed outbound frame is handed to the inner transport later:
the caller has already returned, so if that send fails the failure comes back as
:class:`~gossip.PeerUnreachable` from :meth:`receive`.

Cuts: :meth:`partition` blocks traffic to and/or from a set of peers (symmetric, or one way),
:meth:`heal` lifts it, and :attr:`offline` blocks everything in and out. A blocked packet is
dropped; a blocked outbound frame fails at once with :class:`~gossip.UnreachableError` (the
inner link to that peer is closed, as a refused connect or a reset would leave it), and a blocked
inbound frame is dropped (a black hole: the sender's link stays up until its own failure
detection notices). Items already in flight when a cut starts are lost with it.

With every fault off and no cut, items go straight through (no lane, no extra task), so the
wrapper passes the transport conformance suite unchanged.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Self, TypeAlias

import anyio
import anyio.abc

from gossip._errors import ConfigError, MessageTooLargeError, TransportError, UnreachableError
from gossip._events import Addr, PacketReceived, PeerUnreachable, StreamReceived
from gossip.sim._latency import Constant, Latency, as_latency
from gossip.transport._interface import Incoming, Transport
from gossip.transport._wrapper import TransportWrapper

__all__ = ["Direction", "Faults", "FaultyTransport"]

Direction: TypeAlias = Literal["both", "in", "out"]
"""Which way a partition cuts: ``"out"`` blocks what we send, ``"in"`` what we receive."""

_Kind: TypeAlias = Literal["packet", "frame", "unreachable"]


@dataclass(frozen=True, kw_only=True, slots=True)
class Faults:
    """What happens to one kind of traffic in one direction (all off by default)."""

    latency: float | Latency = 0.0  # s (a number) or a callable (rng) -> s, drawn per item
    loss: float = 0.0  # probability that an item is dropped
    duplicate: float = 0.0  # probability that an item is delivered twice
    reorder: float = 0.0  # probability that an item is held back by up to reorder_window
    reorder_window: float = 0.010  # s, the extra delay of a held-back item is uniform in [0, this]

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"Faults.{name} is a probability in [0, 1], got {p!r}")
        if not self.reorder_window >= 0:
            raise ConfigError(f"Faults.reorder_window must be >= 0 s, got {self.reorder_window}")
        if isinstance(self.latency, int | float) and not self.latency >= 0:
            raise ConfigError(f"Faults.latency must be >= 0 s, got {self.latency}")
        as_latency(self.latency)  # a number or a callable, or ConfigError

    @property
    def off(self) -> bool:
        """Nothing to do: every item goes straight through."""
        lat = self.latency
        no_delay = (isinstance(lat, int | float) and lat == 0) or (
            isinstance(lat, Constant) and lat.seconds == 0
        )
        return no_delay and not (self.loss or self.duplicate or self.reorder)


_OFF = Faults()


@dataclass(order=True, slots=True)
class _Item:
    at: float
    seq: int
    kind: _Kind = field(compare=False)
    data: bytes = field(compare=False)
    reason: str = field(compare=False, default="")


@dataclass(eq=False, slots=True)
class _Lane:
    """Items for one peer in one direction, delivered in time order by one task."""

    heap: list[_Item] = field(default_factory=list)
    wake: anyio.Event = field(default_factory=anyio.Event)
    last_frame: float = 0.0  # delivery time of the newest in-order frame (frames stay FIFO)
    running: bool = False


class FaultyTransport(TransportWrapper):
    """Wraps ``inner`` (not yet started: ``async with`` starts and closes it) and injects faults.

    ``seed`` (or ``rng``) makes the decisions reproducible. Fault settings are attributes that
    may be replaced at any time (``t.packets_out = Faults(loss=0.2)``); so may the cuts
    (:meth:`partition`, :meth:`heal`, :attr:`offline`). :attr:`stats` counts what was done, by
    ``"<kind>_<direction>_<what>"`` (e.g. ``"packets_in_dropped"``, ``"frames_out_blocked"``).
    """

    def __init__(
        self,
        inner: Transport,
        *,
        seed: int | None = None,
        rng: random.Random | None = None,
        packets_out: Faults = _OFF,
        packets_in: Faults = _OFF,
        frames_out: Faults = _OFF,
        frames_in: Faults = _OFF,
        inbox_size: int = 4096,  # received items buffered until the consumer takes them
    ) -> None:
        if rng is not None and seed is not None:
            raise ConfigError("pass seed= or rng=, not both")
        if inbox_size < 1:
            raise ConfigError("inbox_size must be >= 1")
        super().__init__(inner)
        self.rng = rng if rng is not None else random.Random(seed)
        self.packets_out = packets_out
        self.packets_in = packets_in
        self.frames_out = frames_out
        self.frames_in = frames_in
        self.offline = False  # True: every packet and frame, in and out, is blocked
        self._cut_out: set[Addr] = set()
        self._cut_in: set[Addr] = set()
        self.stats: dict[str, int] = {}
        self._lanes_out: dict[Addr, _Lane] = {}
        self._lanes_in: dict[Addr, _Lane] = {}
        self._seq = itertools.count()
        self._inbox_send, self._inbox_recv = anyio.create_memory_object_stream[Incoming](inbox_size)
        self._tg: anyio.abc.TaskGroup | None = None
        self._closed = False

    # -- the Transport surface -----------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._tg is not None or self._closed:
            raise TransportError("a transport is started once")
        await self.inner.__aenter__()
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(self._pump)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        await self.aclose()
        if self._tg is not None:
            self._tg.cancel_scope.cancel()
            await self._tg.__aexit__(None, None, None)
        # Entered before our task group, so left after it (cancel scopes nest).
        await self.inner.__aexit__(None, None, None)
        return None

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            await self.inner.aclose()
        self._inbox_send.close()
        self._inbox_recv.close()

    async def receive(self) -> Incoming:
        try:
            return await self._inbox_recv.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise TransportError("transport is closed") from None

    async def send_packet(self, dst: Addr, data: bytes) -> None:
        self._check_open()
        if len(data) > self.inner.max_packet_size:
            raise MessageTooLargeError(
                f"packet of {len(data)} bytes exceeds max_packet_size={self.inner.max_packet_size}"
            )
        if self._blocked_out(dst):
            self._count("packets_out_blocked")
            return
        faults = self.packets_out
        lane = self._lanes_out.get(dst)
        if faults.off and (lane is None or not lane.heap):
            await self.inner.send_packet(dst, data)
            return
        for at in self._schedule(faults, "packets_out"):
            item = _Item(at, next(self._seq), "packet", data)
            self._enqueue(self._lanes_out, dst, item, out=True)

    async def send_frame(self, dst: Addr, data: bytes) -> None:
        await self.send_frames(dst, (data,))

    async def send_frames(self, dst: Addr, frames: Sequence[bytes]) -> None:
        self._check_open()
        cap = self.inner.max_frame_size
        for data in frames:
            if len(data) > cap:
                raise MessageTooLargeError(
                    f"frame of {len(data)} bytes exceeds max_frame_size={cap}"
                )
        if not frames:
            return
        if self._blocked_out(dst):
            self._count("frames_out_blocked", len(frames))
            await self.inner.close_stream(dst)
            raise UnreachableError(f"cannot reach {dst}: cut off ({self._why()})")
        faults = self.frames_out
        lane = self._lanes_out.get(dst)
        if faults.off and (lane is None or not lane.heap):
            await self.inner.send_frames(dst, frames)
            return
        for data in frames:
            self._enqueue_frame(self._lanes_out, dst, data, faults, "frames_out", out=True)

    async def close_stream(self, peer: Addr) -> None:
        lane = self._lanes_out.get(peer)
        if lane is not None and any(item.kind == "frame" for item in lane.heap):
            # Frames still in flight go first, as the interface promises.
            with anyio.move_on_after(self._flush_bound(lane)):
                while any(item.kind == "frame" for item in lane.heap):
                    await anyio.sleep(0.005)
        await self.inner.close_stream(peer)

    # -- cuts ------------------------------------------------------------------------------------

    def partition(self, peers: Iterable[Addr], direction: Direction = "both") -> None:
        """Block traffic with ``peers``: both ways, only ours to them (``"out"``), or only
        theirs to us (``"in"``). Adds to any cut already in place."""
        if direction not in ("both", "in", "out"):
            raise ConfigError(f"direction must be 'both', 'in' or 'out', got {direction!r}")
        peers = set(peers)
        if direction in ("both", "out"):
            self._cut_out |= peers
        if direction in ("both", "in"):
            self._cut_in |= peers

    def heal(self, peers: Iterable[Addr] | None = None) -> None:
        """Lift the cuts with ``peers`` (default: every peer). :attr:`offline` is separate."""
        if peers is None:
            self._cut_out.clear()
            self._cut_in.clear()
            return
        peers = set(peers)
        self._cut_out -= peers
        self._cut_in -= peers

    @property
    def partitioned(self) -> tuple[frozenset[Addr], frozenset[Addr]]:
        """The peers we cannot send to, and those we cannot receive from."""
        return frozenset(self._cut_out), frozenset(self._cut_in)

    def _blocked_out(self, peer: Addr) -> bool:
        return self.offline or peer in self._cut_out

    def _blocked_in(self, peer: Addr) -> bool:
        return self.offline or peer in self._cut_in

    def _why(self) -> str:
        return "fault injection: offline" if self.offline else "fault injection: partition"

    # -- scheduling ------------------------------------------------------------------------------

    def _count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n

    def _check_open(self) -> None:
        if self._closed or self._tg is None:
            raise TransportError("transport is closed" if self._closed else "transport not started")

    def _draw(self, faults: Faults, key: str) -> list[tuple[float, bool]]:
        """One (delay, held back) per copy to deliver: none if lost, two if duplicated."""
        rng = self.rng
        if faults.loss and rng.random() < faults.loss:
            self._count(f"{key}_dropped")
            return []
        copies = 1
        if faults.duplicate and rng.random() < faults.duplicate:
            copies = 2
            self._count(f"{key}_duplicated")
        latency = as_latency(faults.latency)
        out: list[tuple[float, bool]] = []
        for _ in range(copies):
            delay = latency(rng)
            held = bool(faults.reorder) and rng.random() < faults.reorder
            if held:
                delay += rng.uniform(0.0, faults.reorder_window)
                self._count(f"{key}_reordered")
            if delay > 0:
                self._count(f"{key}_delayed")
            out.append((delay, held))
        return out

    def _schedule(self, faults: Faults, key: str) -> list[float]:
        now = anyio.current_time()
        return [now + delay for delay, _ in self._draw(faults, key)]

    def _enqueue_frame(
        self,
        lanes: dict[Addr, _Lane],
        peer: Addr,
        data: bytes,
        faults: Faults,
        key: str,
        *,
        out: bool,
    ) -> None:
        now = anyio.current_time()
        lane = lanes.get(peer)
        for delay, held in self._draw(faults, key):
            at = now + delay
            if not held:
                # In order: never before the frame ahead of it (a slow link, not a reordering).
                last = lane.last_frame if lane is not None else 0.0
                at = max(at, last)
            lane = self._enqueue(lanes, peer, _Item(at, next(self._seq), "frame", data), out=out)
            if not held:
                lane.last_frame = at

    def _enqueue(self, lanes: dict[Addr, _Lane], peer: Addr, item: _Item, *, out: bool) -> _Lane:
        lane = lanes.get(peer)
        if lane is None:
            lane = lanes[peer] = _Lane()
        heapq.heappush(lane.heap, item)
        lane.wake.set()
        if not lane.running:
            lane.running = True
            assert self._tg is not None
            self._tg.start_soon(self._run_lane, lanes, peer, lane, out)
        return lane

    @staticmethod
    def _flush_bound(lane: _Lane) -> float:
        if not lane.heap:
            return 0.0
        return max(0.0, max(item.at for item in lane.heap) - anyio.current_time()) + 1.0

    async def _run_lane(self, lanes: dict[Addr, _Lane], peer: Addr, lane: _Lane, out: bool) -> None:
        try:
            while lane.heap:
                # A fresh event before reading the head: an item enqueued from here on wakes us.
                lane.wake = anyio.Event()
                delay = lane.heap[0].at - anyio.current_time()
                if delay > 0:
                    with anyio.move_on_after(delay):
                        await lane.wake.wait()  # an earlier item may arrive meanwhile
                    continue
                due: list[_Item] = []
                now = anyio.current_time()
                while lane.heap and lane.heap[0].at <= now:
                    due.append(heapq.heappop(lane.heap))
                if out:
                    await self._deliver_out(peer, lane, due)
                else:
                    await self._deliver_in(peer, due)
        except (TransportError, anyio.BrokenResourceError, anyio.ClosedResourceError):
            lane.heap.clear()  # closed
        finally:
            lane.running = False
            if lanes.get(peer) is lane and not lane.heap:
                del lanes[peer]

    async def _deliver_out(self, dst: Addr, lane: _Lane, due: list[_Item]) -> None:
        batch: list[bytes] = []
        for item in due:
            if item.kind == "packet":
                if self._blocked_out(dst):
                    self._count("packets_out_blocked")
                    continue
                await self.inner.send_packet(dst, item.data)
            else:
                batch.append(item.data)
        if not batch:
            return
        if self._blocked_out(dst):
            self._count("frames_out_blocked", len(batch))
            await self._fail_lane(dst, lane, f"cut off ({self._why()})")
            await self.inner.close_stream(dst)
            return
        try:
            await self.inner.send_frames(dst, batch)
        except UnreachableError as exc:
            await self._fail_lane(dst, lane, str(exc))

    async def _fail_lane(self, dst: Addr, lane: _Lane, reason: str) -> None:
        """A delayed frame could not be sent: its sender returned long ago, so the failure is
        reported as the link breaking; the frames queued behind it are lost with it."""
        lost = sum(1 for item in lane.heap if item.kind == "frame")
        lane.heap = [item for item in lane.heap if item.kind != "frame"]
        heapq.heapify(lane.heap)
        lane.last_frame = 0.0
        self._count("frames_out_failed", lost + 1)
        await self._inbox_send.send(PeerUnreachable(dst, reason))

    async def _deliver_in(self, src: Addr, due: list[_Item]) -> None:
        for item in due:
            if item.kind == "unreachable":
                await self._inbox_send.send(PeerUnreachable(src, item.reason))
            elif self._blocked_in(src):
                self._count(f"{item.kind}s_in_blocked")
            elif item.kind == "packet":
                self._put_packet(PacketReceived(src, item.data))
            else:
                await self._inbox_send.send(StreamReceived(src, item.data))

    def _put_packet(self, packet: PacketReceived) -> None:
        try:
            self._inbox_send.send_nowait(packet)
        except anyio.WouldBlock:
            self._count("packets_in_backpressure")

    async def _pump(self) -> None:
        """Read the inner transport and apply the inbound faults."""
        try:
            while True:
                try:
                    item = await self.inner.receive()
                except TransportError:
                    return
                await self._on_incoming(item)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return
        finally:
            self._inbox_send.close()

    async def _on_incoming(self, item: Incoming) -> None:
        lanes = self._lanes_in
        if isinstance(item, PeerUnreachable):
            lane = lanes.get(item.peer)
            if lane is not None and lane.heap:  # after the frames still held for that peer
                at = max(lane.last_frame, *(i.at for i in lane.heap))
                report = _Item(at, next(self._seq), "unreachable", b"", item.reason)
                self._enqueue(lanes, item.peer, report, out=False)
            else:
                await self._inbox_send.send(item)
            return
        src = item.src
        is_packet = isinstance(item, PacketReceived)
        key = "packets_in" if is_packet else "frames_in"
        if self._blocked_in(src):
            self._count(f"{key}_blocked")
            return
        faults = self.packets_in if is_packet else self.frames_in
        lane = lanes.get(src)
        if faults.off and (lane is None or not lane.heap):
            if isinstance(item, PacketReceived):
                self._put_packet(item)
            else:
                await self._inbox_send.send(item)
            return
        if is_packet:
            for at in self._schedule(faults, key):
                packet = _Item(at, next(self._seq), "packet", item.data)
                self._enqueue(lanes, src, packet, out=False)
        else:
            self._enqueue_frame(lanes, src, item.data, faults, key, out=False)
