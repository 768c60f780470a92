"""The Node: the one object an app imports. It composes the store, the transport with the cluster
key, and one :class:`~gossip.runtime.Host` running SWIM, HyParView and the SyncEngine.

Theory of operation
-------------------
``async with Node(config) as node:``

1. opens the store (the data dir: replica id, HLC, every object, streamed in), then the transport
   (UDP + TCP on one port, every packet and frame sealed with the cluster key) behind an
   on/off switch (:meth:`go_offline`);
2. builds the three cores over the same address: SWIM (membership, failure detection, the name
   in member metadata), HyParView (the overlay; its active view is the sync engine's neighbour
   set) and the SyncEngine over the loaded objects; the :class:`~sync._bridge.OverlayBridge`
   wires their notifications together (see its docstring for the two-layer choice);
3. runs them in one Host, plus three small tasks: the effect pump (the bridge's effects, carried
   out in order), the overlay safety net, and the seed retry (a seed that is down at start is
   retried with backoff until one answers, so start order does not matter).

Writes go through typed handles (:meth:`get`): the verb runs on the live object through the
engine (the node supplies replica id and HLC timestamp), the engine records the delta and the
Node's ``on_record`` hook marks the object for the group committer; the write returns once its
batch is committed (local durability), or later if a consistency level asks for replicas.
Received deltas take the same hook, so everything that changes an object is persisted.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial
from types import TracebackType
from typing import Any, Self, TypeVar, overload

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectSendStream

import crdts
from crdts import (
    HLC,
    AWLWWMap,
    GCounter,
    GSet,
    HLCTimestamp,
    LWWRegister,
    MVRegister,
    ORMap,
    ORSet,
    PNCounter,
)
from gossip._events import Effect, ProtocolCore
from gossip.hyparview import HyParView
from gossip.runtime import Host, HostConfig
from gossip.swim import LeaveCompleted, SwimCore
from gossip.transport import Keyring, NetTransport
from sync._bridge import CoreEffects, OverlayBridge
from sync._consistency import Consistency, WriteLocal
from sync._engine import CatchupCompleted, SyncEngine
from sync._errors import TypeMismatchError, UsageError
from sync._handles import (
    CounterHandle,
    GCounterHandle,
    GSetHandle,
    Handle,
    LWWRegisterHandle,
    MapHandle,
    MVRegisterHandle,
    ORMapHandle,
    SetHandle,
    handle_class,
)
from sync._membership import MemberInfo, MembershipEvent, encode_meta, membership_event
from sync._node_config import NodeConfig, advertise_for
from sync._offline import OfflineSwitch
from sync._subscriptions import Change

__all__ = ["Node"]

log = logging.getLogger("sync.node")

T = TypeVar("T")
_CRDT_METHODS = ("join", "merge", "leq", "diff", "decompose", "copy")
_STREAM_BUFFER = 10_000  # items an async iterator (changes, membership events) may fall behind


class Node:
    """One replica of a deltamesh cluster (see the module docstring and docs/node.md)."""

    def __init__(self, config: NodeConfig) -> None:
        if not isinstance(config, NodeConfig):
            raise UsageError("Node(config) needs a NodeConfig (e.g. NodeConfig.local(name=...))")
        self.config = config
        self.name = config.name
        self.insecure = config.insecure
        self._replica_id = ""
        self._address = ""
        self._open = False
        self._closing = False
        self._types: dict[str, type[Any]] = {}
        self._hlc: HLC | None = None
        self._host: Host | None = None
        self._net: NetTransport | None = None
        self._switch: OfflineSwitch | None = None
        self._swim: SwimCore | None = None
        self._hv: HyParView | None = None
        self._engine: SyncEngine | None = None
        self._bridge: OverlayBridge | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._effects: deque[tuple[ProtocolCore, list[Effect]]] = deque()
        self._effects_wake = anyio.Event()
        self._left = anyio.Event()
        self._event_sinks: list[MemoryObjectSendStream[MembershipEvent]] = []
        self._dirty: set[str] = set()
        self._offline_peers: list[str] = []
        self._counters: dict[str, int] = {
            "catchups_completed": 0,
            "events_dropped": 0,
            "changes_dropped": 0,
        }

    # -- identity ----------------------------------------------------------------------------

    @property
    def replica_id(self) -> str:
        """The id that mints this node's CRDT dots: one per data dir (fresh for a new one)."""
        return self._replica_id

    @property
    def address(self) -> str:
        """The ``host:port`` peers dial (SWIM and HyParView identify this node by it)."""
        return self._address

    @property
    def engine(self) -> SyncEngine:
        if self._engine is None:
            raise UsageError("the node is not running: use 'async with Node(config) as node'")
        return self._engine

    @property
    def host(self) -> Host:
        if self._host is None:
            raise UsageError("the node is not running")
        return self._host

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._open or self._closing:
            raise UsageError("a Node is started once")
        cfg = self.config
        state = await self._open_store()
        key = cfg.load_key()
        if key is None:
            log.warning(
                "node %s runs WITHOUT a cluster key: every message is plaintext and anyone who "
                "can reach %s can join, read and write (pass key_file=)",
                cfg.name,
                cfg.bind,
            )
            keyring = Keyring.plaintext(cluster=cfg.cluster)
        else:
            keyring = Keyring([key], cluster=cfg.cluster)
        net = NetTransport(cfg.transport_config(advertise_for(cfg)), keyring=keyring)
        await net.__aenter__()
        try:
            await self._start(net, state)
        except BaseException:
            await self._teardown()
            raise
        return self

    async def _open_store(self) -> dict[str, Any]:
        """The replica id, HLC and objects of the data dir (in memory: fresh ones)."""
        if self.config.data_dir is not None:
            raise UsageError("data_dir needs sync.storage (not available in this build)")
        self._replica_id = f"{self.name}-{secrets.token_hex(8)}"
        self._hlc = HLC(self._replica_id)
        return {}

    async def _start(self, net: NetTransport, state: dict[str, Any]) -> None:
        cfg = self.config
        self._net = net
        self._address = addr = net.local_addr
        rng = random.Random(secrets.randbits(64))
        self._swim = swim = SwimCore(
            addr,
            cfg.swim,
            random.Random(rng.getrandbits(64)),
            meta=encode_meta(self.name),
            seeds=cfg.seeds,
        )
        self._hv = hv = HyParView(
            addr,
            rng=random.Random(rng.getrandbits(64)),
            config=cfg.hyparview,
            epoch=time.time_ns() // 1_000_000,  # grows across restarts of this address
        )
        self._engine = engine = SyncEngine(
            self._replica_id, cfg.sync, random.Random(rng.getrandbits(64)), state=state
        )
        engine.on_record = self._dirty.add
        self._bridge = OverlayBridge(swim, hv, engine, rng=random.Random(rng.getrandbits(64)))
        self._switch = OfflineSwitch(net)
        # every event comes through on_event; the host's own events() buffer is not used
        host = Host(
            self._switch,
            [swim, hv, engine],
            config=HostConfig(event_buffer=0),
            on_event=self._on_event,
        )
        await host.__aenter__()
        self._host = host
        self._open = True
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(self._pump)
        tg.start_soon(self._overlay_loop)
        if cfg.seeds:
            await host.call(hv, lambda now: hv.join(list(cfg.seeds), now))
            tg.start_soon(self._seed_loop)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if exc_type is None and self._open and not self._offline:
            await self._leave()
        await self._teardown()
        return None

    async def _leave(self) -> None:
        """Graceful leave: HyParView's DISCONNECTs, SWIM's "left" gossip (bounded wait)."""
        swim, hv, host = self._swim, self._hv, self._host
        assert swim is not None and hv is not None and host is not None
        with anyio.move_on_after(self.config.leave_timeout):
            await host.call(hv, hv.leave)
            await host.call(swim, swim.leave)
            await self._left.wait()

    async def _teardown(self) -> None:
        self._closing = True
        self._open = False
        # Innermost first (each __aexit__ closes a cancel scope its __aenter__ opened: they
        # must unwind in reverse order, in this task, and not inside a new scope).
        try:
            if self._tg is not None:
                self._tg.cancel_scope.cancel()
                tg, self._tg = self._tg, None
                await tg.__aexit__(None, None, None)
        finally:
            try:
                if self._host is not None:
                    await self._host.__aexit__(None, None, None)
            finally:
                if self._net is not None:
                    await self._net.__aexit__(None, None, None)
                for sink in self._event_sinks:
                    sink.close()
                self._event_sinks.clear()

    def _check_open(self) -> None:
        if not self._open:
            raise UsageError("the node is not running: use 'async with Node(config) as node'")

    # -- the cores' events -------------------------------------------------------------------

    def _on_event(self, event: object) -> None:
        """Every core's ``Emit``, synchronously from the host (no await: order is kept)."""
        bridge = self._bridge
        assert bridge is not None
        now = anyio.current_time()
        self._queue(bridge.on_event(event, now))
        if isinstance(event, CatchupCompleted):
            self._counters["catchups_completed"] += 1
        elif isinstance(event, LeaveCompleted):
            self._left.set()
        else:
            ev = membership_event(event, self._name_of(getattr(event, "addr", "")), time.time())
            if ev is not None:
                for sink in self._event_sinks:
                    try:
                        sink.send_nowait(ev)
                    except anyio.WouldBlock:
                        self._counters["events_dropped"] += 1
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                        pass

    def _name_of(self, addr: str) -> str:
        if self._swim is None or not addr:
            return ""
        m = self._swim.member(addr)
        return "" if m is None else MemberInfo.of(m).name

    def _queue(self, effects: CoreEffects) -> None:
        if any(e for _, e in effects):
            self._effects.extend((c, e) for c, e in effects if e)
            self._effects_wake.set()

    async def _pump(self) -> None:
        host = self.host
        while True:
            await self._effects_wake.wait()
            self._effects_wake = anyio.Event()
            while self._effects:
                core, effects = self._effects.popleft()
                await host.call(core, lambda _now, e=effects: e)  # type: ignore[misc]

    async def _overlay_loop(self) -> None:
        bridge = self._bridge
        assert bridge is not None
        interval = self.config.overlay_interval()
        while True:
            await anyio.sleep(interval)
            if not self._offline:
                self._queue(bridge.check_overlay(anyio.current_time()))

    async def _seed_loop(self) -> None:
        """Retry the seeds with backoff (jittered, capped) while SWIM knows nobody alive."""
        cfg, bridge, swim, hv = self.config, self._bridge, self._swim, self._hv
        assert bridge is not None and swim is not None and hv is not None
        delay = cfg.seed_retry_initial
        rng = random.Random(secrets.randbits(32))
        while True:
            await anyio.sleep(delay * rng.uniform(0.75, 1.25))
            if self._offline or not bridge.needs_seeds():
                delay = cfg.seed_retry_initial
                continue
            seeds = [s for s in cfg.seeds if s != self._address]
            if not seeds:
                return
            await self.host.call(swim, partial(swim.join, seeds))
            if not hv.active_view and not hv.pending and not hv.is_joining:
                await self.host.call(hv, partial(hv.join, seeds))
            delay = min(delay * 2, cfg.seed_retry_max)

    # -- objects -----------------------------------------------------------------------------

    @overload
    def get(self, name: str, kind: type[AWLWWMap]) -> MapHandle: ...
    @overload
    def get(self, name: str, kind: type[ORSet]) -> SetHandle: ...
    @overload
    def get(self, name: str, kind: type[GSet]) -> GSetHandle: ...
    @overload
    def get(self, name: str, kind: type[PNCounter]) -> CounterHandle: ...
    @overload
    def get(self, name: str, kind: type[GCounter]) -> GCounterHandle: ...
    @overload
    def get(self, name: str, kind: type[LWWRegister]) -> LWWRegisterHandle: ...
    @overload
    def get(self, name: str, kind: type[MVRegister]) -> MVRegisterHandle: ...
    @overload
    def get(self, name: str, kind: type[ORMap]) -> ORMapHandle: ...
    @overload
    def get(self, name: str, kind: type[T]) -> Handle[T]: ...
    def get(self, name: str, kind: type[Any]) -> Handle[Any]:
        """A typed handle to object ``name`` (created by its first write). A name that holds,
        or was asked for as, another type raises :class:`TypeMismatchError`."""
        self._check_open()
        if not isinstance(name, str) or not name:
            raise UsageError(f"object names are non-empty str, got {name!r}")
        if not isinstance(kind, type) or not all(
            callable(getattr(kind, m, None)) for m in _CRDT_METHODS
        ):
            raise UsageError(f"{kind!r} is not a CRDT type (join, merge, diff, decompose, copy)")
        self._object(name, kind)  # raises on a mismatch
        self._types[name] = kind
        return handle_class(kind)(self, name, kind)

    def _object(self, name: str, kind: type[Any]) -> Any:
        """The live object under ``name`` (None if absent), checked to be a ``kind``."""
        x = self.engine.get(name)
        held = type(x) if x is not None else self._types.get(name)
        if held is not None and held is not kind:
            raise TypeMismatchError(f"{name!r} holds a {held.__name__}, not a {kind.__name__}")
        return x

    def keys(self, prefix: str = "") -> list[str]:
        """The names of the objects held here that start with ``prefix``, sorted."""
        return sorted(k for k in self.engine if k.startswith(prefix))

    def scan(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        """``(name, value)`` of the objects starting with ``prefix``, in name order."""
        engine = self.engine
        for k in self.keys(prefix):
            x = engine.get(k)
            if x is not None:
                yield k, x.value

    def _timestamp(self) -> HLCTimestamp:
        assert self._hlc is not None
        return self._hlc.now(time.time_ns() // 1_000_000)

    async def _write(
        self,
        name: str,
        kind: type[Any],
        fn: Callable[[Any], Any],
        consistency: Consistency | None,
        timeout: float | None,
        *,
        copy: bool,
    ) -> None:
        self._check_open()
        engine = self.engine
        x = self._object(name, kind)
        try:
            if copy:
                base = kind() if x is None else x.copy()
                delta = fn(base)
                if type(delta) is not kind:
                    raise UsageError(
                        f"the mutator must return the {kind.__name__} delta it made, got "
                        f"{type(delta).__name__}"
                    )
                engine.apply(name, delta)
            else:
                engine.update(name, fn, create=kind)
        except UsageError:
            raise
        except (crdts.CrdtError, ValueError, TypeError) as exc:
            raise UsageError(f"write to {name!r} rejected, nothing changed: {exc}") from exc
        self._types[name] = kind
        await self._durable()
        level = consistency if consistency is not None else WriteLocal()
        if not isinstance(level, WriteLocal):
            raise UsageError(f"{level!r} is not available in this build")

    async def _durable(self) -> None:
        """Wait until every change made so far is committed to the store."""
        self._dirty.clear()  # the in-memory store holds nothing beyond the live objects

    async def flush(
        self, consistency: Consistency | None = None, timeout: float | None = None
    ) -> None:
        """Wait until everything written so far is durable locally (and, with a level, held
        by that many replicas)."""
        self._check_open()
        await self._durable()
        if consistency is not None and not isinstance(consistency, WriteLocal):
            raise UsageError(f"{consistency!r} is not available in this build")

    def _changes(
        self, *, key: str | None = None, prefix: str | None = None
    ) -> AsyncIterator[Change]:
        return self._iterate_changes(key, prefix)

    async def _iterate_changes(self, key: str | None, prefix: str | None) -> AsyncIterator[Change]:
        send, recv = anyio.create_memory_object_stream[Change](_STREAM_BUFFER)

        def deliver(change: Change) -> None:
            try:
                send.send_nowait(change)
            except anyio.WouldBlock:
                self._counters["changes_dropped"] += 1

        sub = self.engine.subscribe(deliver, key=key, prefix=prefix)
        try:
            async with recv:
                async for change in recv:
                    yield change
        finally:
            sub.cancel()
            send.close()

    def changes(self, prefix: str = "") -> AsyncIterator[Change]:
        """Every change of every object whose name starts with ``prefix``, from now on."""
        self._check_open()
        return self._changes(prefix=prefix)

    # -- observability -----------------------------------------------------------------------

    def members(self) -> list[MemberInfo]:
        """Every member SWIM knows (this node included, tombstones too), by address."""
        swim = self._swim
        if swim is None:
            return []
        return sorted((MemberInfo.of(m) for m in swim.members()), key=lambda m: m.addr)

    @property
    def active_view(self) -> frozenset[str]:
        """HyParView's active view: the sync neighbours."""
        return frozenset() if self._hv is None else self._hv.active_view

    @property
    def passive_view(self) -> frozenset[str]:
        return frozenset() if self._hv is None else self._hv.passive_view

    async def membership_events(self) -> AsyncIterator[MembershipEvent]:
        """Membership changes from now on (joined, updated, suspected, recovered, dead, left,
        reaped), each stamped with the wall-clock time it was seen here."""
        self._check_open()
        send, recv = anyio.create_memory_object_stream[MembershipEvent](_STREAM_BUFFER)
        self._event_sinks.append(send)
        try:
            async with recv:
                async for ev in recv:
                    yield ev
        finally:
            if send in self._event_sinks:
                self._event_sinks.remove(send)
            send.close()

    def metrics(self) -> dict[str, Any]:
        """A snapshot: sync traffic per neighbour, pending deltas, catch-ups, lag, store,
        transport drops, membership (see docs/node.md for each field)."""
        engine = self.engine
        seq = engine.seq
        acks = engine.acks()
        snap = engine.snapshot_metrics()
        peers = snap["peers"]
        neighbors = {
            p: {
                "lag_entries": seq - acks.get(p, seq),
                **{
                    k: peers.get(p, {}).get(k, 0)
                    for k in (
                        "sent_msgs",
                        "sent_bytes",
                        "recv_msgs",
                        "recv_bytes",
                        "sent_objects",
                        "recv_objects",
                        "peer_errors",
                    )
                },
            }
            for p in sorted(acks)
        }
        net = self._net
        switch = self._switch
        host = self._host
        bridge = self._bridge
        assert net is not None and switch is not None and host is not None and bridge is not None
        tm = net.metrics
        return {
            "name": self.name,
            "address": self._address,
            "replica_id": self._replica_id,
            "offline": self._offline,
            "objects": len(engine),
            "neighbors": neighbors,
            "pending_deltas": engine.buffer_size,
            "objects_pending": snap["objects_pending"],
            "lag_entries": max((n["lag_entries"] for n in neighbors.values()), default=0),
            "catchups": {
                "started": snap["catchups_started"],
                "completed": snap["catchups_completed"],
                "in_progress": engine.catching_up(),
                "objects_shipped": snap["catchup_objects_shipped"],
            },
            "sync_total": snap["total"],
            "peer_errors": snap["peer_errors"],
            "callback_errors": snap["callback_errors"],
            "members_alive": len(self._swim.alive()) if self._swim is not None else 0,
            "overlay_rejoins": bridge.overlay_rejoins,
            "transport": {
                **tm.snapshot(),
                "offline_dropped_in": switch.dropped_in,
                "offline_dropped_out": switch.dropped_out,
            },
            "host": {
                "core_errors": host.metrics.core_errors,
                "send_failures": host.metrics.send_failures,
            },
            **{k: v for k, v in self._counters.items()},
        }

    # -- offline -----------------------------------------------------------------------------

    @property
    def _offline(self) -> bool:
        return self._switch is not None and self._switch.offline

    @property
    def offline(self) -> bool:
        return self._offline

    async def go_offline(self) -> None:
        """Cut this node off: no packet or frame goes in or out (connections are closed); local
        reads and writes keep working. Peers will see it fail; :meth:`go_online` rejoins."""
        self._check_open()
        switch, net, swim = self._switch, self._net, self._swim
        assert switch is not None and net is not None and swim is not None
        if switch.offline:
            return
        self._offline_peers = [a for a in swim.alive() if a != self._address]
        await switch.set_offline(True, net.connected_peers())

    async def go_online(self) -> None:
        """Reconnect: rejoin through the members known before going offline and the seeds;
        the sync engine's catch-up then exchanges what changed on both sides."""
        self._check_open()
        switch, swim, hv = self._switch, self._swim, self._hv
        assert switch is not None and swim is not None and hv is not None
        if not switch.offline:
            return
        await switch.set_offline(False)
        contacts = list(dict.fromkeys([*self._offline_peers, *self.config.seeds]))
        contacts = [c for c in contacts if c != self._address]
        if contacts:
            await self.host.call(swim, lambda now: swim.join(contacts, now))
            if not hv.active_view:
                await self.host.call(hv, lambda now: hv.join(contacts, now))
