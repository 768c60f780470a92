"""The anyio host: runs sans-I/O protocol cores over one transport.

Theory of operation
-------------------
A :class:`Host` is the driver of the sans-I/O model (``gossip/_events.py``): it owns no protocol
logic. Inside ``async with Host(transport, cores)`` it

1. calls every core's ``start(now)`` and carries out the effects;
2. reads the transport: a payload goes to the core whose ``TAG_RANGES`` entry holds its first byte
   (``protocol_of``); a :class:`~gossip.PeerUnreachable` goes to every core. A transport offering
   :class:`~gossip.transport.DirectFrames` (``NetTransport``) hands each frame over from the task
   that read and opened it, so the frame reaches its core in the same step of the event loop
   (no queue, no second task woken per frame); anything else is read from ``receive()``;
3. keeps the timers: ``SetTimer`` arms (or re-arms) ``(core, key)`` at an absolute deadline on
   anyio's clock (``anyio.current_time()``, the ``now`` every core sees), ``CancelTimer`` disarms
   it; a due timer is disarmed and delivered as :class:`~gossip.TimerFired`;
4. carries out effects: ``SendPacket`` at once (best effort: written straight to the socket when
   the transport offers :class:`~gossip.transport.DirectPackets`, else through one packet queue
   and sender task); ``SendStream`` and ``CloseStream``
   through one FIFO queue and one sender task per peer, so frames to a peer keep their order and a
   slow or dead peer never blocks the others (the sender idles between bursts and ends with the
   link: waking a task costs a third of starting one). A failed connect or send empties that
   queue and feeds ``PeerUnreachable(peer)`` to every core, and the peer's reconnect backoff
   (``_backoff.py``) holds later frames to it until its wait is over: every core sending to a
   dead peer no longer makes the host dial it again at once. A frame received from the peer
   lifts the backoff;
5. hands ``Emit`` events to the application: ``on_event`` (a callback) and :meth:`Host.events`
   (an async iterator). The buffer behind ``events()`` is filled only while someone may read
   it (always without a callback; with one, from the first ``events()`` call); when it is full,
   new events are dropped, counted and logged.

Carrying out effects never awaits, so an event is handled from start to finish in one step. With
a :class:`~gossip.transport.DirectPackets` transport (``NetTransport``), a datagram is handed to
its core from the socket's readiness callback and the answer written before control returns to the
event loop: no task switch, no queue. At rest a member does little but that (a probe and an ack a
second each way), and the task hops, queues and checkpoints of a general path cost more CPU than
the protocol work itself (``benchmarks/swim.py``, part 6, measures it).

Leaving the ``async with`` normally waits up to ``drain_timeout`` for queued frames to be written,
then cancels the host's tasks; the transport stays open for its owner to close.

Applications drive cores with :meth:`Host.call`: ``await host.call(swim, lambda now:
swim.join(seeds, now))`` runs the command with the current ``now`` and carries out its effects.

An exception raised by a core while handling peer input or a timer is counted
(``metrics.core_errors``) and logged, and the node carries on: a peer must never be able to
crash it. Exceptions from ``start`` and from commands run through :meth:`call` propagate to the
caller, whose bug they are.
"""

from __future__ import annotations

import logging
import math
import random
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from types import TracebackType
from typing import Self

import anyio
import anyio.abc
import anyio.lowlevel

from gossip._errors import (
    ConfigError,
    MessageTooLargeError,
    TransportError,
    UnreachableError,
    UsageError,
)
from gossip._events import (
    TAG_RANGES,
    Addr,
    CancelTimer,
    CloseStream,
    Effect,
    Emit,
    Event,
    PacketReceived,
    PeerUnreachable,
    ProtocolCore,
    SendPacket,
    SendStream,
    SetTimer,
    StreamReceived,
    TimerFired,
    protocol_of,
)
from gossip.runtime._alarm import Alarm
from gossip.runtime._backoff import Backoff
from gossip.runtime._config import HostConfig, HostMetrics
from gossip.runtime._timers import TimerTable
from gossip.transport._interface import DirectFrames, DirectPackets, StreamIncoming, Transport

__all__ = ["Host"]

log = logging.getLogger("gossip.runtime")


class _Close:
    """Marks a ``CloseStream`` in a peer's send queue (it runs after the frames before it)."""


_CLOSE = _Close()
_BATCH_FRAMES = 256  # frames handed to the transport in one write, at most
_BATCH_BYTES = 1 << 20  # bytes: stop adding frames to a write beyond this


class Host:
    """Runs ``cores`` over a started ``transport`` (which the host does not close).

    ``rng`` draws the reconnect backoff's jitter (default: a fresh ``random.Random()``).
    """

    def __init__(
        self,
        transport: Transport,
        cores: Sequence[ProtocolCore],
        *,
        config: HostConfig | None = None,
        on_event: Callable[[object], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.transport = transport
        self.cores = list(cores)
        self.config = config if config is not None else HostConfig()
        self.metrics = HostMetrics()
        self._on_event = on_event
        # Without a callback, events() is the only way to see events: buffer from the start.
        self._buffering = on_event is None
        self._overflowing = False  # inside a burst of dropped events (logged once per burst)
        cfg = self.config
        self.backoff = Backoff(
            cfg.reconnect_backoff,
            cfg.reconnect_backoff_max,
            cfg.reconnect_jitter,
            rng if rng is not None else random.Random(),
        )
        self._gates: dict[Addr, anyio.Event] = {}  # senders waiting out a peer's backoff
        self._by_protocol: dict[str, int] = {}
        for index, core in enumerate(self.cores):
            protocol = getattr(core, "protocol", None)
            if protocol not in TAG_RANGES:
                raise ConfigError(f"core {core!r} names no TAG_RANGES entry: {protocol!r}")
            if protocol in self._by_protocol:
                raise ConfigError(f"two cores claim the protocol {protocol!r}")
            self._by_protocol[protocol] = index
        self._timers = TimerTable()
        self._direct = transport if isinstance(transport, DirectPackets) else None
        self._direct_frames = transport if isinstance(transport, DirectFrames) else None
        self._packets: deque[SendPacket] = deque()  # without a direct path: the packet queue
        self._packets_wake = anyio.Event()
        self._alarm: Alarm | None = None  # made on entry: it needs the running event loop
        self._firing = False  # handling due timers (re-arming happens once they are done)
        self._outq: dict[Addr, deque[bytes | _Close]] = {}
        # Senders with an empty queue, waiting for the next frame to their peer: waking one
        # costs a third of starting a task per burst of frames (they end when the link does).
        self._idle: dict[Addr, anyio.Event] = {}
        self._events_send, self._events_recv = anyio.create_memory_object_stream[object](
            self.config.event_buffer
        )
        self._tg: anyio.abc.TaskGroup | None = None
        self._running = False

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._tg is not None:
            raise UsageError("a host is started once")
        self._alarm = Alarm(self._on_alarm)
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        self._running = True
        try:
            if self._direct is None:
                tg.start_soon(self._packet_sender)
            now = self.now()
            for index, core in enumerate(self.cores):
                self._execute(index, core.start(now))
        except BaseException:
            # Unwind the task group (cancelling anything the start effects began), then let the
            # core's own exception through, unwrapped.
            self._running = False
            tg.cancel_scope.cancel()
            await tg.__aexit__(None, None, None)
            raise
        if self._direct is not None:
            self._direct.deliver_packets_to(self._on_packet)
        if self._direct_frames is not None:
            self._direct_frames.deliver_frames_to(self._on_stream)
        tg.start_soon(self._receive_loop)
        tg.start_soon(self._alarm.run)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        assert self._tg is not None
        if exc_type is None:
            # A normal exit: let frames already queued (a leave's DISCONNECT, say) reach the
            # wire before the senders are cancelled, for at most drain_timeout seconds.
            # Queues waiting out a reconnect backoff are to peers that are down: not waited for.
            with anyio.move_on_after(self.config.drain_timeout):
                while self._packets or any(
                    dst not in self._gates and dst not in self._idle for dst in self._outq
                ):
                    await anyio.sleep(0.005)
        self._running = False
        if self._direct is not None:
            self._direct.deliver_packets_to(None)
        if self._direct_frames is not None:
            self._direct_frames.deliver_frames_to(None)
        self._tg.cancel_scope.cancel()
        try:
            # The body's own exception is not handed to the task group, which would wrap it in
            # an exception group: it propagates unchanged (we return None).
            await self._tg.__aexit__(None, None, None)
        finally:
            self._events_send.close()
        return None

    def now(self) -> float:
        """The clock every core sees: anyio's monotonic clock (the event loop's), in seconds."""
        return self._alarm.now() if self._alarm is not None else anyio.current_time()

    # -- the application's side ------------------------------------------------------------

    async def call(
        self, core: ProtocolCore, command: Callable[[float], list[Effect]]
    ) -> list[Effect]:
        """Run ``command(now)`` (a method of ``core`` returning effects) and carry out its effects.

        Returns the effects. Exceptions from the command propagate (they are the caller's bug).
        """
        index = self._index(core)
        if not self._running:
            raise UsageError("the host is not running: use 'async with Host(...)'")
        effects = command(self.now())
        self._execute(index, effects)
        await anyio.lowlevel.checkpoint()
        return effects

    def events(self) -> AsyncIterator[object]:
        """The ``Emit`` events of every core, in order (one consumer).

        With an ``on_event`` callback, events are buffered for this iterator only from the first
        call on (an app that uses only the callback never fills a buffer). The buffer holds
        ``HostConfig.event_buffer`` events; beyond that new events are dropped, counted
        (``metrics.events_dropped``) and logged, so read it promptly.
        """
        self._buffering = True
        return self._events_recv

    def _index(self, core: ProtocolCore) -> int:
        for index, hosted in enumerate(self.cores):
            if hosted is core:
                return index
        raise UsageError(f"{core!r} is not hosted here")

    def timer_deadline(self, core: ProtocolCore, key: Hashable) -> float | None:
        """When ``core``'s timer ``key`` fires, or ``None`` if it is not armed (for tests)."""
        return self._timers.deadline(self._index(core), key)

    # -- carrying out effects --------------------------------------------------------------

    def _execute(self, index: int, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, SendPacket):
                if self._direct is None:
                    self._packets.append(effect)
                    self._packets_wake.set()
                    continue
                try:
                    self._direct.send_packet_nowait(effect.dst, effect.data)
                except MessageTooLargeError as exc:
                    self.metrics.oversize_sends += 1
                    log.error("core %s: %s", self.cores[index].protocol, exc)
                except TransportError:
                    pass  # closed: best effort
                except Exception:  # a datagram is best effort; a driver bug must not kill the node
                    log.exception("sending a packet to %s failed", effect.dst)
            elif isinstance(effect, SendStream):
                if len(effect.data) > self.transport.max_frame_size:
                    self.metrics.oversize_sends += 1
                    log.error(
                        "core %s: frame of %d bytes over max_frame_size=%d dropped",
                        self.cores[index].protocol,
                        len(effect.data),
                        self.transport.max_frame_size,
                    )
                    continue
                self._enqueue(effect.dst, effect.data)
            elif isinstance(effect, CloseStream):
                self._enqueue(effect.peer, _CLOSE)
            elif isinstance(effect, SetTimer):
                self._timers.set(index, effect.key, effect.at)
                if self._alarm is not None and not self._firing:
                    self._alarm.arm(effect.at)
            elif isinstance(effect, CancelTimer):
                self._timers.cancel(index, effect.key)
                alarm = self._alarm
                if alarm is not None and not self._firing:
                    # The cancelled timer may be what the alarm waits for: wait for the next one
                    # instead of waking for nothing.
                    deadline = self._timers.next_deadline()
                    alarm.postpone(math.inf if deadline is None else deadline)
            elif isinstance(effect, Emit):
                self._emit(effect.event)
            else:  # a core is plain Python: a typing promise is not a guarantee
                self.metrics.core_errors += 1  # type: ignore[unreachable]
                log.error("core %s returned a non-effect: %r", self.cores[index].protocol, effect)

    def _emit(self, event: object) -> None:
        self.metrics.events_emitted += 1
        if self._on_event is not None:
            try:
                self._on_event(event)
            except Exception:
                log.exception("on_event callback failed for %r", event)
        if not self._buffering:
            return
        try:
            self._events_send.send_nowait(event)
        except anyio.WouldBlock:
            self.metrics.events_dropped += 1
            if not self._overflowing:
                self._overflowing = True
                log.warning(
                    "events() buffer full (event_buffer=%d): dropping new events until the "
                    "reader catches up (metrics.events_dropped counts them); first dropped: %r",
                    self.config.event_buffer,
                    event,
                )
            return
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self.metrics.events_dropped += 1
            return
        self._overflowing = False

    async def _packet_sender(self) -> None:
        """Sends queued datagrams in order (only for transports without a direct path)."""
        while True:
            if not self._packets:
                self._packets_wake = anyio.Event()
                await self._packets_wake.wait()
                continue
            effect = self._packets.popleft()
            try:
                await self.transport.send_packet(effect.dst, effect.data)
            except MessageTooLargeError as exc:
                self.metrics.oversize_sends += 1
                log.error("packet to %s dropped: %s", effect.dst, exc)
            except TransportError:
                pass  # closed: best effort
            except Exception:  # a datagram is best effort; a driver bug must not kill the node
                log.exception("sending a packet to %s failed", effect.dst)

    def _enqueue(self, dst: Addr, item: bytes | _Close) -> None:
        queue = self._outq.get(dst)
        if queue is None:
            queue = self._outq[dst] = deque()
            assert self._tg is not None
            self._tg.start_soon(self._sender, dst, queue)
        if len(queue) >= self.config.send_queue_limit and not isinstance(item, _Close):
            # The peer takes frames slower than we make them: declare the link failed rather
            # than grow without bound or silently drop frames from a reliable stream.
            self.metrics.queue_overflows += 1
            queue.clear()
            queue.append(_CLOSE)
            self._wake_sender(dst)
            self.transport_failed(dst, "send queue overflow")
            return
        queue.append(item)
        self._wake_sender(dst)

    def _wake_sender(self, dst: Addr) -> None:
        idle = self._idle.pop(dst, None)
        if idle is not None:
            idle.set()

    def transport_failed(self, peer: Addr, reason: str) -> None:
        """Feed ``PeerUnreachable(peer)`` to every core (soon, from the host's task group)."""
        assert self._tg is not None
        self._tg.start_soon(self._unreachable_soon, PeerUnreachable(peer, reason))

    async def _unreachable_soon(self, event: PeerUnreachable) -> None:
        self._unreachable(event)

    async def _wait_backoff(self, dst: Addr) -> None:
        """Hold frames to ``dst`` until its reconnect backoff is over (or a frame from it)."""
        wait = self.backoff.ready_at(dst) - self.now()
        if wait <= 0:
            return
        self.metrics.backoff_waits += 1
        gate = self._gates[dst] = anyio.Event()
        try:
            with anyio.move_on_after(wait):
                await gate.wait()
        finally:
            if self._gates.get(dst) is gate:
                del self._gates[dst]

    def _heard_from(self, peer: Addr) -> None:
        """A frame arrived from ``peer``: a working connection exists, so its backoff ends."""
        if self.backoff.ready_at(peer):
            self.backoff.succeeded(peer)
            gate = self._gates.get(peer)
            if gate is not None:
                gate.set()

    async def _sender(self, dst: Addr, queue: deque[bytes | _Close]) -> None:
        """Writes ``dst``'s queue in order. Between bursts it waits to be woken (``_idle``): a
        task started per burst cost three times a wake-up. It ends with the link: after a close
        or a failed send, or once woken with nothing to send (``PeerUnreachable(dst)``)."""
        try:
            while await self._send_queued(dst, queue):
                idle = self._idle[dst] = anyio.Event()
                await idle.wait()
                if not queue:
                    break
        finally:
            # No await between the emptiness check and here: nothing can have been queued since.
            if self._outq.get(dst) is queue:
                del self._outq[dst]
            self._idle.pop(dst, None)  # (only this task waits there for dst)

    async def _send_queued(self, dst: Addr, queue: deque[bytes | _Close]) -> bool:
        """Write what is queued (until the queue is empty); whether the link is still up."""
        up = True
        while queue:
            if not isinstance(queue[0], _Close):
                await self._wait_backoff(dst)
                if not queue:
                    break
            item = queue.popleft()
            batch: list[bytes] = []
            try:
                if isinstance(item, _Close):
                    await self.transport.close_stream(dst)
                    up = False
                    continue
                # Frames queued behind this one go out in the same write (up to a bound).
                batch.append(item)
                size = len(item)
                while (
                    queue
                    and not isinstance(queue[0], _Close)
                    and len(batch) < _BATCH_FRAMES
                    and size < _BATCH_BYTES
                ):
                    frame = queue.popleft()
                    assert not isinstance(frame, _Close)
                    batch.append(frame)
                    size += len(frame)
                await self.transport.send_frames(dst, batch)
                self.backoff.succeeded(dst)
                up = True
            except UnreachableError as exc:
                lost = len(batch) + sum(not isinstance(i, _Close) for i in queue)
                self.metrics.send_failures += lost
                queue.clear()
                self.backoff.failed(dst, self.now())
                up = False
                self._unreachable(PeerUnreachable(dst, str(exc)))  # may queue new frames
            except MessageTooLargeError as exc:  # screened at enqueue; the cap changed?
                self.metrics.oversize_sends += len(batch)
                log.error("frames to %s dropped: %s", dst, exc)
            except TransportError:
                queue.clear()  # the transport is closed
                up = False
            except Exception as exc:  # unexpected: treat the link as failed, stay up
                log.exception("sending to %s failed", dst)
                self.metrics.send_failures += len(batch)
                queue.clear()
                self.backoff.failed(dst, self.now())
                up = False
                self._unreachable(PeerUnreachable(dst, f"send failed: {exc!r}"))
        return up

    # -- feeding events to cores -----------------------------------------------------------

    def _deliver(self, index: int, event: Event) -> None:
        core = self.cores[index]
        now = self.now()
        try:
            effects = core.handle(event, now)
        except Exception:
            self.metrics.core_errors += 1
            log.exception(
                "core %s failed on %s; event dropped", core.protocol, type(event).__name__
            )
            return
        self._execute(index, effects)

    def _unreachable(self, event: PeerUnreachable) -> None:
        self.metrics.unreachable += 1
        self._wake_sender(event.peer)  # an idle sender to that peer ends (if nothing is queued)
        for index in range(len(self.cores)):
            self._deliver(index, event)

    def _on_packet(self, event: PacketReceived) -> None:
        """A datagram from a :class:`DirectPackets` transport, in its readiness callback."""
        if not self._running:
            return
        index = self._by_protocol.get(protocol_of(event.data) or "")
        if index is None:
            self.metrics.unrouted += 1
            return
        self._deliver(index, event)

    def _on_stream(self, item: StreamIncoming) -> None:
        """A frame or a broken link from a :class:`DirectFrames` transport, in its read loop."""
        if self._running:
            self._dispatch(item)

    def _dispatch(self, item: PacketReceived | StreamIncoming) -> None:
        if isinstance(item, PeerUnreachable):
            self._unreachable(item)
            return
        if isinstance(item, StreamReceived):
            self._heard_from(item.src)
        index = self._by_protocol.get(protocol_of(item.data) or "")
        if index is None:
            self.metrics.unrouted += 1
            return
        self._deliver(index, item)

    async def _receive_loop(self) -> None:
        """What the transport queues: everything, or what it cannot hand over directly."""
        while True:
            try:
                item = await self.transport.receive()
            except TransportError:
                return  # the transport was closed
            self._dispatch(item)

    def _on_alarm(self) -> None:
        """The alarm rang: deliver every due timer, then re-arm for the next deadline."""
        if not self._running:
            return
        self.metrics.alarms += 1
        self._firing = True
        try:
            # One at a time: a handler may cancel or reset a timer that is also due.
            while (due := self._timers.pop_due(self.now())) is not None:
                index, key = due
                assert isinstance(index, int)
                self.metrics.timers_fired += 1
                self._deliver(index, TimerFired(key))
        finally:
            self._firing = False
            deadline = self._timers.next_deadline()
            if deadline is not None and self._alarm is not None:
                self._alarm.arm(deadline)
