"""The deterministic discrete-event network simulator.

Theory of operation
-------------------
A classic discrete-event simulation (a single future-event list ordered by time, virtual time
jumping from one event to the next) driving the same sans-I/O cores (``gossip._events``) as the
real anyio host. Every node hosts a list of cores, one per protocol of ``TAG_RANGES``; the simulator

- calls ``core.start(now)`` when the node starts (and again, on fresh cores, after a restart);
- routes each arriving payload to the core owning its first byte (``protocol_of``), as the real
  host does, and hands every core each ``PeerUnreachable``;
- carries out the returned effects: packets and stream frames go on the simulated network,
  timers go on the event heap under a per-core namespace, ``Emit`` goes to a per-node record,
  an optional callback, and the trace.

Determinism. All randomness of the network comes from one ``random.Random(seed)``; each node
gets its own generator seeded from ``(seed, addr, epoch)``. The event heap holds plain tuples
``(time, seq, kind, node, a, b, c)`` where ``seq`` is a global counter: equal times are broken by
scheduling order, never by comparing payloads. Nodes, links and connections are kept in dicts and
walked in insertion order only. Hence one seed gives one run, bit for bit, and
:meth:`Simulator.trace_digest` lets two runs prove it.

Scale. Nothing is removed from the heap: cancelling or re-arming a timer bumps a generation
counter and the stale entry is skipped when popped; a crash makes a new node object, so every
entry pointing at the old incarnation dies with it. Counters are flat lists, the hot paths are
plain methods with local-variable caching, and tracing / emit recording can be switched off.

Network model (see ``docs/simulator.md``): per directed link a latency distribution, packet
loss, duplication and reordering; streams are reliable and FIFO per direction and fail as a
whole (crash or partition: queued frames are dropped and both live ends get ``PeerUnreachable``
after ``unreachable_delay``); symmetric and one-way partitions; slow nodes with a FIFO
processing queue (an extra handling delay per incoming message, the Lifeguard experiments of
Dadgar et al., "Lifeguard: Local Health Awareness for More Accurate Failure Detection", 2018).
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar, overload

from gossip._errors import UsageError
from gossip._events import (
    CancelTimer,
    CloseStream,
    Effect,
    Emit,
    PacketReceived,
    PeerUnreachable,
    ProtocolCore,
    SendPacket,
    SendStream,
    SetTimer,
    StreamReceived,
    TimerFired,
    TimerKey,
)
from gossip.sim._config import LinkModel, SimConfig
from gossip.sim._latency import Constant, Uniform, as_latency
from gossip.sim._metrics import DROPPED, EMPTY_BASE, RECV, TAG_BASE, Metrics, new_counters
from gossip.sim._node import Conn, CoreFactory, NodeContext, SimNode
from gossip.sim._trace import EmitRecord, TraceDigest, TraceEvent, trace_digest

__all__ = ["Simulator"]

T = TypeVar("T")

# Heap entry kinds. Entries are (time, seq, kind, node, a, b, c):
_PACKET = 0  # node=dst, a=src, b=data
_STREAM = 1  # node=dst, a=src, b=data, c=Conn
_TIMER = 2  # node, a=core index, b=key, c=generation
_UNREACH = 3  # node, a=peer, b=reason
_PROCESS = 4  # node (slow): hand out the head of its backlog, a=generation
_CALL = 5  # a=callable

_Entry = tuple[float, int, int, Any, Any, Any, Any]


class _Link:
    """A :class:`LinkModel` compiled for the hot path: a constant latency needs no call, and a
    uniform one is drawn inline (``const + span * random()``: the same draw and the same value
    as :class:`Uniform`, without a Python call per message)."""

    __slots__ = ("const", "dup", "fn", "loss", "model", "reorder", "span", "window")

    def __init__(self, model: LinkModel) -> None:
        lat = as_latency(model.latency)
        self.model = model
        self.fn: Callable[[random.Random], float] | None = None
        self.const = 0.0
        self.span = 0.0  # > 0: uniform in [const, const + span]
        if isinstance(lat, Constant):
            self.const = lat.seconds
        elif isinstance(lat, Uniform) and lat.high > lat.low:
            self.const, self.span = lat.low, lat.high - lat.low
        else:
            self.fn = lat
        self.loss = model.loss
        self.dup = model.duplicate
        self.reorder = model.reorder
        self.window = model.reorder_window


def _addrs(x: str | Iterable[str]) -> frozenset[str]:
    return frozenset((x,)) if isinstance(x, str) else frozenset(x)


class Simulator:
    """A seeded, virtual-time network of nodes running sans-I/O protocol cores.

    >>> sim = Simulator(seed=7)
    >>> sim.add_node("a", lambda ctx: [EchoCore(ctx.addr)])
    >>> sim.call("a", "app", lambda now: [SendPacket("b", b"\\x70hi")])
    >>> sim.run_for(1.0)
    """

    def __init__(
        self,
        seed: int | str = 0,
        config: SimConfig | None = None,
        *,
        on_emit: Callable[[EmitRecord], None] | None = None,
    ) -> None:
        self.config = config or SimConfig()
        self.seed = seed
        self.now = 0.0
        self._rng = random.Random(seed)
        self._heap: list[_Entry] = []
        self._seq = 0
        self._nodes: dict[str, SimNode] = {}
        self._factories: dict[str, CoreFactory] = {}
        self._counters: dict[str, list[int]] = {}
        self._default = _Link(self.config.link)
        self._links: dict[tuple[str, str], _Link] = {}
        self._groups: dict[str, int] = {}
        self._one_way: list[tuple[frozenset[str], frozenset[str]]] = []
        self._partitioned = False
        # The trace sink: a list, or a running digest (which may keep the list too). Both have
        # .append, so the hot paths test one attribute for None and nothing else.
        self._digest: TraceDigest | None = None
        self._trace: list[TraceEvent] | TraceDigest | None = None
        if self.config.digest_trace:
            self._digest = self._trace = TraceDigest(keep=self.config.trace)
        elif self.config.trace:
            self._trace = []
        self._emits: dict[str, list[EmitRecord]] | None = {} if self.config.record_emits else None
        self._on_emit = on_emit
        self.events_processed = 0

    # -- nodes ---------------------------------------------------------------------------------

    def add_node(self, addr: str, make_cores: CoreFactory) -> None:
        """Add node ``addr`` now: build its cores with ``make_cores(ctx)`` and start them."""
        if not isinstance(addr, str) or not addr:
            raise UsageError(f"a node address is a non-empty string, got {addr!r}")
        if addr in self._nodes:
            raise UsageError(f"node {addr!r} already exists")
        self._factories[addr] = make_cores
        self._counters[addr] = new_counters()
        self._spawn(addr, 0, "start")

    def crash(self, addr: str) -> None:
        """Stop ``addr`` now: its timers and in-flight messages to it are lost, and every peer with
        an open stream to it gets ``PeerUnreachable`` after ``unreachable_delay``."""
        node = self._live(addr)
        node.alive = False
        if self._trace is not None:
            self._trace.append(TraceEvent(self.now, addr, "crash", (node.epoch,)))
        for conn in list(node.conns.values()):
            self._break(conn, "peer crashed")
        node.conns.clear()

    def restart(self, addr: str) -> None:
        """Bring a crashed ``addr`` back with fresh cores from its factory and the next epoch."""
        node = self._node(addr)
        if node.alive:
            raise UsageError(f"node {addr!r} is running; crash it before restarting it")
        self._spawn(addr, node.epoch + 1, "restart")

    def set_slow(self, addr: str, delay: float) -> None:
        """Make ``addr`` handle each incoming message ``delay`` seconds late, one at a time (a FIFO
        processing queue: a burst of n messages makes the last wait n * delay). 0 makes it normal.
        Timers are not delayed. The setting survives restarts."""
        if not delay >= 0:
            raise UsageError(f"slow-node delay must be >= 0 s, got {delay!r}")
        node = self._node(addr)
        node.slow = float(delay)
        if node.backlog:  # the queue goes on at the new pace: a node back to normal drains it now
            node.pgen += 1
            self._push(self.now + node.slow, _PROCESS, node, node.pgen, None, None)

    def _spawn(self, addr: str, epoch: int, kind: str) -> None:
        rng = random.Random(f"{self.seed!r}/{addr}/{epoch}")
        ctx = NodeContext(addr=addr, epoch=epoch, rng=rng, seed=self.seed)
        cores = self._factories[addr](ctx)
        node = SimNode(addr, epoch, cores, self._counters[addr])
        old = self._nodes.get(addr)
        if old is not None:
            node.slow = old.slow
        self._nodes[addr] = node
        if self._trace is not None:
            self._trace.append(TraceEvent(self.now, addr, kind, (epoch,)))
        for ci, core in enumerate(node.cores):
            if not node.alive:
                break
            effects = core.start(self.now)
            if effects:
                self._apply(node, ci, effects)

    def _node(self, addr: str) -> SimNode:
        try:
            return self._nodes[addr]
        except KeyError:
            raise UsageError(f"no node {addr!r}") from None

    def _live(self, addr: str) -> SimNode:
        node = self._node(addr)
        if not node.alive:
            raise UsageError(f"node {addr!r} is crashed")
        return node

    # -- inspection ----------------------------------------------------------------------------

    @property
    def nodes(self) -> list[str]:
        """Every node address, in the order the nodes were added."""
        return list(self._nodes)

    def is_alive(self, addr: str) -> bool:
        return self._node(addr).alive

    def epoch(self, addr: str) -> int:
        """The restart epoch of ``addr``'s current (or last) incarnation: 0, then +1 per restart."""
        return self._node(addr).epoch

    @overload
    def core(self, addr: str, which: str) -> Any: ...
    @overload
    def core(self, addr: str, which: type[T]) -> T: ...
    def core(self, addr: str, which: str | type[Any]) -> Any:
        """The current core of ``addr`` for protocol ``which`` (a name), or of class ``which``."""
        node = self._node(addr)
        if isinstance(which, str):
            return node.cores[node.core_index(which)]
        for c in node.cores:
            if isinstance(c, which):
                return c
        raise UsageError(f"node {addr!r} runs no {which.__name__} core")

    def cores(self, addr: str) -> list[ProtocolCore]:
        return list(self._node(addr).cores)

    def timers(self, addr: str, core: ProtocolCore | str) -> dict[TimerKey, float]:
        """The armed timers of one core of ``addr``: key -> absolute deadline."""
        node = self._node(addr)
        return {k: at for k, (_, at) in node.timers[node.core_index(core)].items()}

    def connections(self, addr: str) -> list[str]:
        """Peers ``addr`` has an open stream with, in the order they were opened."""
        return list(self._node(addr).conns)

    def emitted(self, addr: str | None = None, protocol: str | None = None) -> list[EmitRecord]:
        """What cores emitted (all nodes in time order, or one address across its restarts)."""
        if self._emits is None:
            raise UsageError("emits are not recorded (SimConfig.record_emits=False); use on_emit")
        if addr is not None:
            recs = list(self._emits.get(addr, ()))
        else:
            recs = sorted(
                (r for rs in self._emits.values() for r in rs), key=lambda r: r.time
            )  # stable sort: same-time records keep node-insertion order
        if protocol is not None:
            recs = [r for r in recs if r.protocol == protocol]
        return recs

    def metrics(self, addr: str | None = None) -> Metrics:
        """Counters of one address (summed across its restarts), or of the whole network."""
        if addr is not None:
            self._node(addr)
            return Metrics(self._counters[addr])
        return Metrics.sum(self._counters.values())

    @property
    def trace(self) -> list[TraceEvent]:
        """Every event so far (only with ``SimConfig.trace``)."""
        if self._digest is not None:
            if self._digest.events is None:
                raise UsageError("only a digest of the trace is kept (SimConfig.trace=False)")
            return self._digest.events
        if self._trace is None:
            raise UsageError("tracing is off (SimConfig.trace=False)")
        assert isinstance(self._trace, list)
        return self._trace

    def trace_digest(self) -> str:
        """A SHA-256 of the trace: equal across two runs exactly when the traces are equal.
        With ``SimConfig.digest_trace`` it is kept as the run goes, without keeping the trace."""
        if self._digest is not None:
            return self._digest.hexdigest()
        return trace_digest(self.trace)

    @property
    def pending(self) -> int:
        """Heap entries still to pop (cancelled timers included until they are popped)."""
        return len(self._heap)

    # -- the network ---------------------------------------------------------------------------

    def set_link(self, src: str, dst: str, model: LinkModel, *, both_ways: bool = True) -> None:
        """Override the link model ``src`` -> ``dst`` (and back, unless ``both_ways=False``)."""
        link = _Link(model)
        self._links[(src, dst)] = link
        if both_ways:
            self._links[(dst, src)] = link

    def reset_link(self, src: str, dst: str, *, both_ways: bool = True) -> None:
        """Back to the default link model."""
        self._links.pop((src, dst), None)
        if both_ways:
            self._links.pop((dst, src), None)

    def partition(self, *groups: Iterable[str]) -> None:
        """Split the network: nodes in different groups cannot reach each other, both ways. Nodes
        named in no group form one more group together. Replaces the previous symmetric partition
        (one-way cuts stay). Open streams across the cut break at once."""
        if not groups:
            raise UsageError("partition() needs at least one group; heal() removes partitions")
        assigned: dict[str, int] = {}
        listed: list[tuple[str, ...]] = []
        for i, group in enumerate(groups):
            members = [group] if isinstance(group, str) else list(group)
            listed.append(tuple(sorted(members)))
            if not members:
                raise UsageError(f"partition group {i} is empty")
            for addr in members:
                if addr in assigned:
                    raise UsageError(f"node {addr!r} is in two partition groups")
                assigned[addr] = i
        self._groups = assigned
        self._partitioned = True
        if self._trace is not None:
            self._trace.append(TraceEvent(self.now, "", "partition", tuple(listed)))
        self._break_cut_streams()

    def partition_one_way(self, srcs: str | Iterable[str], dsts: str | Iterable[str]) -> None:
        """Drop everything sent from any of ``srcs`` to any of ``dsts`` (the other way still works
        for packets; a stream needs both directions, so streams between them break)."""
        a, b = _addrs(srcs), _addrs(dsts)
        self._one_way.append((a, b))
        self._partitioned = True
        if self._trace is not None:
            self._trace.append(
                TraceEvent(
                    self.now, "", "partition", ("one-way", tuple(sorted(a)), tuple(sorted(b)))
                )
            )
        self._break_cut_streams()

    def heal(self) -> None:
        """Remove every partition, symmetric and one-way. Broken streams stay broken: cores
        reconnect by sending again."""
        self._groups = {}
        self._one_way = []
        self._partitioned = False
        if self._trace is not None:
            self._trace.append(TraceEvent(self.now, "", "heal", ()))

    def can_reach(self, src: str, dst: str) -> bool:
        """Whether a packet from ``src`` to ``dst`` would pass the partitions (ignoring loss)."""
        node = self._nodes.get(dst)
        return node is not None and node.alive and not (self._partitioned and self._cut(src, dst))

    def _cut(self, src: str, dst: str) -> bool:
        g = self._groups
        if g and g.get(src, -1) != g.get(dst, -1):
            return True
        return any(src in a and dst in b for a, b in self._one_way)

    def _break_cut_streams(self) -> None:
        for node in list(self._nodes.values()):
            for conn in list(node.conns.values()):
                if not conn.broken and (self._cut(conn.a, conn.b) or self._cut(conn.b, conn.a)):
                    self._break(conn, "partitioned")

    def _break(self, conn: Conn, reason: str) -> None:
        """Fail a connection: frames in flight are dropped; live ends learn after a delay."""
        conn.broken = True
        at = self.now + self.config.unreachable_delay
        for me, peer in ((conn.a, conn.b), (conn.b, conn.a)):
            node = self._nodes.get(me)
            if node is not None and node.conns.get(peer) is conn:
                del node.conns[peer]
                if node.alive:
                    self._push(at, _UNREACH, node, peer, reason, None)
            if conn.a == conn.b:
                break

    # -- commands and scheduling ---------------------------------------------------------------

    def call(
        self,
        addr: str,
        core: ProtocolCore | str,
        fn: Callable[[float], Iterable[Effect]],
    ) -> list[Effect]:
        """Run a user command on one core of ``addr`` at the current virtual time and carry out the
        effects it returns: ``sim.call("a", swim, lambda now: swim.join(["b"], now))``. ``core`` is
        the core object or its protocol name. Returns the effects."""
        node = self._live(addr)
        ci = node.core_index(core)
        if self._trace is not None:
            self._trace.append(TraceEvent(self.now, addr, "call", (node.protocols[ci],)))
        effects = list(fn(self.now))
        if effects:
            self._apply(node, ci, effects)
        return effects

    def schedule(self, at: float, fn: Callable[[], object]) -> None:
        """Run ``fn()`` at virtual time ``at`` (e.g. ``lambda: sim.crash("n3")``)."""
        self._push(max(at, self.now), _CALL, None, fn, None, None)

    # -- running -------------------------------------------------------------------------------

    def step(self) -> bool:
        """Process the next event that does something (skipping cancelled timers and messages to
        dead nodes). False when nothing is left."""
        heap = self._heap
        while heap:
            if self._dispatch(heapq.heappop(heap)):
                return True
        return False

    def run_until(self, t: float) -> None:
        """Process every event up to and including virtual time ``t``; then ``now == t``."""
        if t < self.now:
            raise UsageError(f"cannot run back in time (now {self.now}, asked {t})")
        heap = self._heap
        pop = heapq.heappop
        dispatch = self._dispatch
        while heap and heap[0][0] <= t:
            dispatch(pop(heap))
        self.now = t

    def run_for(self, dt: float) -> None:
        """``run_until(now + dt)``."""
        self.run_until(self.now + dt)

    def run_until_quiet(self, max_time: float = float("inf")) -> bool:
        """Run until nothing at all is scheduled (no message, timer or call), but not past
        ``max_time``. True if the network went quiet; False if ``max_time`` came first (then
        ``now == max_time``). Cores with periodic timers never go quiet: give a ``max_time``."""
        heap = self._heap
        pop = heapq.heappop
        dispatch = self._dispatch
        while heap and heap[0][0] <= max_time:
            dispatch(pop(heap))
        if heap:
            self.now = max(self.now, max_time)
            return False
        return True

    def run_until_true(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Run until ``predicate()`` holds (checked after each event), for at most ``timeout``
        virtual seconds. True if it held; otherwise ``now`` ends at the deadline."""
        deadline = self.now + timeout
        if predicate():
            return True
        heap = self._heap
        pop = heapq.heappop
        while heap and heap[0][0] <= deadline:
            if self._dispatch(pop(heap)) and predicate():
                return True
        self.now = deadline
        return False

    # -- the engine ----------------------------------------------------------------------------

    def _push(self, at: float, kind: int, node: Any, a: Any, b: Any, c: Any) -> None:  # noqa: PLR0917
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, kind, node, a, b, c))

    def _dispatch(self, ev: _Entry) -> bool:
        at, _, kind, node, a, b, c = ev
        if kind == _PACKET:  # the most frequent entry: its common path is inlined
            self.now = at
            if not node.alive:
                self._drop_in_flight(node, a, b, False, "crashed")
                return False
            if self._partitioned and self._cut(a, node.addr):
                self._drop_in_flight(node, a, b, False, "partitioned")
                return False
            self.events_processed += 1
            if node.slow or node.backlog:  # a backlog is handled first, even at 0 delay
                self._enqueue_slow(node, a, b, False)
                return True
            if not b or self._trace is not None or node.route[b[0]] < 0:
                self._receive(node, a, b, False)
                return True
            ci = node.route[b[0]]
            base = TAG_BASE[b[0]] + RECV
            cnt = node.counters
            cnt[base] += 1
            cnt[base + 1] += len(b)
            effects = node.cores[ci].handle(PacketReceived(a, b), at)
            if effects:
                self._apply(node, ci, effects)
            return True
        if kind == _TIMER:
            if not node.alive:
                return False
            timers = node.timers[a]
            cur = timers.get(b)
            if cur is None or cur[0] != c:
                return False  # cancelled or re-armed since
            del timers[b]
            self.now = at
            self.events_processed += 1
            if self._trace is not None:
                self._trace.append(TraceEvent(at, node.addr, "timer", (node.protocols[a], b)))
            effects = node.cores[a].handle(TimerFired(b), at)
            if effects:
                self._apply(node, a, effects)
            return True
        self.now = at
        if kind == _STREAM:
            if not node.alive:
                self._drop_in_flight(node, a, b, True, "crashed")
                return False
            if c.broken:
                self._drop_in_flight(node, a, b, True, "stream broken")
                return False
            self.events_processed += 1
            if node.slow or node.backlog:
                self._enqueue_slow(node, a, b, True)
                return True
            self._receive(node, a, b, True)
            return True
        self.events_processed += 1
        if kind == _PROCESS:
            if a != node.pgen:
                return False  # re-paced since
            backlog = node.backlog
            if not node.alive:
                while backlog:
                    src, data, stream = backlog.popleft()
                    self._drop_in_flight(node, src, data, stream, "crashed")
                return False
            src, data, stream = backlog.popleft()
            if backlog:
                self._push(at + node.slow, _PROCESS, node, node.pgen, None, None)
            self._receive(node, src, data, stream)
            return True
        if kind == _UNREACH:
            if not node.alive:
                return False
            if self._trace is not None:
                self._trace.append(TraceEvent(at, node.addr, "unreachable", (a, b)))
            event = PeerUnreachable(a, b)
            for ci, core in enumerate(node.cores):
                effects = core.handle(event, at)
                if effects:
                    self._apply(node, ci, effects)
                if not node.alive:
                    break
            return True
        if kind == _CALL:
            a()
            return True
        raise AssertionError(f"unknown heap entry kind {kind}")  # pragma: no cover

    def _enqueue_slow(self, node: SimNode, src: str, data: bytes, stream: bool) -> None:
        """A slow node's FIFO processing queue: each message is handled ``slow`` s after the
        previous one (or after its arrival, when the queue was empty)."""
        node.backlog.append((src, data, stream))
        if len(node.backlog) == 1:
            node.pgen += 1
            self._push(self.now + node.slow, _PROCESS, node, node.pgen, None, None)

    def _receive(self, node: SimNode, src: str, data: bytes, stream: bool) -> None:
        if data:
            tag = data[0]
            base = TAG_BASE[tag]
            ci = node.route[tag]
        else:
            base = EMPTY_BASE
            ci = -1
        cnt = node.counters
        transport = "stream" if stream else "packet"
        if ci < 0:
            cnt[base + DROPPED] += 1
            cnt[base + DROPPED + 1] += len(data)
            if self._trace is not None:
                self._trace.append(
                    TraceEvent(
                        self.now, node.addr, "drop", (transport, src, node.addr, "no core", data)
                    )
                )
            return
        cnt[base + RECV] += 1
        cnt[base + RECV + 1] += len(data)
        if self._trace is not None:
            self._trace.append(TraceEvent(self.now, node.addr, "recv", (transport, src, data)))
        effects = node.cores[ci].handle(
            StreamReceived(src, data) if stream else PacketReceived(src, data), self.now
        )
        if effects:
            self._apply(node, ci, effects)

    def _drop_in_flight(self, dst: SimNode, src: str, data: bytes, stream: bool, why: str) -> None:
        """A message lost after it was sent: counted against its sender."""
        base = TAG_BASE[data[0]] if data else EMPTY_BASE
        cnt = self._counters[src]
        cnt[base + DROPPED] += 1
        cnt[base + DROPPED + 1] += len(data)
        if self._trace is not None:
            transport = "stream" if stream else "packet"
            self._trace.append(
                TraceEvent(self.now, src, "drop", (transport, src, dst.addr, why, data))
            )

    def _drop_at_send(self, node: SimNode, dst: str, data: bytes, t: str, why: str) -> None:
        base = TAG_BASE[data[0]] if data else EMPTY_BASE
        cnt = node.counters
        cnt[base + DROPPED] += 1
        cnt[base + DROPPED + 1] += len(data)
        if self._trace is not None:
            self._trace.append(
                TraceEvent(self.now, node.addr, "drop", (t, node.addr, dst, why, data))
            )

    def _apply(self, node: SimNode, ci: int, effects: Sequence[Effect]) -> None:
        now = self.now
        for e in effects:
            cls = e.__class__
            if cls is SendPacket:
                self._send_packet(node, e.dst, e.data)  # type: ignore[union-attr]
            elif cls is SetTimer:
                node.tgen += 1
                at: float = e.at  # type: ignore[union-attr]
                if at < now:  # noqa: PLR1730 (faster than max() on the hot path)
                    at = now
                node.timers[ci][e.key] = (node.tgen, at)  # type: ignore[union-attr]
                self._seq += 1
                heapq.heappush(self._heap, (at, self._seq, _TIMER, node, ci, e.key, node.tgen))  # type: ignore[union-attr]
            elif cls is SendStream:
                self._send_stream(node, e.dst, e.data)  # type: ignore[union-attr]
            elif cls is CancelTimer:
                node.timers[ci].pop(e.key, None)  # type: ignore[union-attr]
            elif cls is Emit:
                self._emit(node, ci, e.event)  # type: ignore[union-attr]
            elif cls is CloseStream:
                self._close(node, e.peer)  # type: ignore[union-attr]
            else:
                raise UsageError(
                    f"core {node.cores[ci]!r} on {node.addr!r} returned {e!r}, "
                    "which is not an effect"
                )

    def _send_packet(self, node: SimNode, dst: str, data: bytes) -> None:
        src = node.addr
        base = TAG_BASE[data[0]] if data else EMPTY_BASE
        cnt = node.counters
        cnt[base] += 1
        cnt[base + 1] += len(data)
        now = self.now
        if self._trace is not None:
            self._trace.append(TraceEvent(now, src, "send", ("packet", dst, data)))
        dn = self._nodes.get(dst)
        if dn is None or not dn.alive:
            self._drop_at_send(node, dst, data, "packet", "no node" if dn is None else "crashed")
            return
        if self._partitioned and self._cut(src, dst):
            self._drop_at_send(node, dst, data, "packet", "partitioned")
            return
        link = self._links.get((src, dst), self._default) if self._links else self._default
        rng = self._rng
        if link.loss and rng.random() < link.loss:
            self._drop_at_send(node, dst, data, "packet", "lost")
            return
        fn = link.fn
        if fn is not None:
            t = now + _checked(fn(rng))
        elif link.span:
            t = now + (link.const + link.span * rng.random())
        else:
            t = now + link.const
        if link.reorder and rng.random() < link.reorder:
            t += link.window * rng.random()
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, _PACKET, dn, src, data, None))
        if link.dup and rng.random() < link.dup:
            if fn is not None:
                t = now + _checked(fn(rng))
            elif link.span:
                t = now + (link.const + link.span * rng.random())
            else:
                t = now + link.const
            self._seq += 1
            heapq.heappush(self._heap, (t, self._seq, _PACKET, dn, src, data, None))

    def _send_stream(self, node: SimNode, dst: str, data: bytes) -> None:
        src = node.addr
        base = TAG_BASE[data[0]] if data else EMPTY_BASE
        cnt = node.counters
        cnt[base] += 1
        cnt[base + 1] += len(data)
        now = self.now
        if self._trace is not None:
            self._trace.append(TraceEvent(now, src, "send", ("stream", dst, data)))
        conn = node.conns.get(dst)
        if conn is None:
            dn = self._nodes.get(dst)
            why = ""
            if dn is None:
                why = "no node"
            elif not dn.alive:
                why = "connection refused"
            elif self._partitioned and (self._cut(src, dst) or self._cut(dst, src)):
                why = "partitioned"
            if why:
                self._drop_at_send(node, dst, data, "stream", why)
                self._push(now + self.config.unreachable_delay, _UNREACH, node, dst, why, None)
                return
            assert dn is not None
            conn = Conn(src, dst)
            node.conns[dst] = conn
            dn.conns[src] = conn
        else:
            dn = self._nodes[dst]
        link = self._links.get((src, dst), self._default) if self._links else self._default
        fn = link.fn
        if fn is not None:
            t = now + _checked(fn(self._rng))
        elif link.span:
            t = now + (link.const + link.span * self._rng.random())
        else:
            t = now + link.const
        if src == conn.a:
            if t < conn.last_ab:  # noqa: PLR1730 (hot path)
                t = conn.last_ab
            conn.last_ab = t
        else:
            if t < conn.last_ba:  # noqa: PLR1730 (hot path)
                t = conn.last_ba
            conn.last_ba = t
        self._seq += 1
        heapq.heappush(self._heap, (t, self._seq, _STREAM, dn, src, data, conn))

    def _close(self, node: SimNode, peer: str) -> None:
        """Close after flushing: frames already sent still arrive; nobody gets an event."""
        conn = node.conns.pop(peer, None)
        if self._trace is not None:
            self._trace.append(TraceEvent(self.now, node.addr, "close", (peer,)))
        if conn is None:
            return
        other = self._nodes.get(peer)
        if other is not None and other.conns.get(node.addr) is conn:
            del other.conns[node.addr]

    def _emit(self, node: SimNode, ci: int, event: object) -> None:
        if self._trace is not None:
            self._trace.append(TraceEvent(self.now, node.addr, "emit", (node.protocols[ci], event)))
        if self._emits is None and self._on_emit is None:
            return
        rec = EmitRecord(self.now, node.addr, node.epoch, node.protocols[ci], event)
        if self._emits is not None:
            lst = self._emits.get(node.addr)
            if lst is None:
                lst = self._emits[node.addr] = []
            lst.append(rec)
        if self._on_emit is not None:
            self._on_emit(rec)


def _checked(delay: float) -> float:
    if not delay >= 0:
        raise UsageError(f"a latency callable returned {delay!r}; delays must be >= 0 s")
    return delay
