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
from types import TracebackType
from typing import Any, Self, TypeVar, overload

import anyio
import anyio.abc
import anyio.to_thread
import msgpack
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
from gossip import UnreachableError
from gossip._events import Effect, ProtocolCore
from gossip.hyparview import HyParView
from gossip.runtime import Host, HostConfig
from gossip.swim import LeaveCompleted, SwimCore
from gossip.transport import Keyring, NetTransport
from sync._bridge import CoreEffects, OverlayBridge
from sync._consistency import Consistency, WriteAll, WriteLocal, WriteMajority, WriteTo
from sync._direct import DirectCore, StatusRequested, WriteAcked, WriteRequested
from sync._engine import CatchupCompleted, SyncEngine
from sync._errors import ClockError, StorageError, TypeMismatchError, UsageError
from sync._gate import LinkGate, link_gate
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
from sync._node_config import NodeConfig
from sync._replication import Replication
from sync._streams import ChangeStream
from sync.storage import (
    META_HLC,
    DataDirInfo,
    LoadResult,
    Store,
    load_objects,
    open_data_dir,
    renew_replica_id,
)
from sync.storage._committer import GroupCommitter

__all__ = ["Node"]

log = logging.getLogger("sync.node")

T = TypeVar("T")
_CRDT_METHODS = ("join", "merge", "leq", "diff", "decompose", "copy")
_STREAM_BUFFER = 10_000  # items an async iterator (changes, membership events) may fall behind
_DEFAULT_TIMEOUT = 5.0  # s, a consistency level's wait when no timeout is given
_FLUSH_CHUNK_BYTES = 1 << 20  # bytes of object states per flush message


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
        self._leaving = False
        self._types: dict[str, type[Any]] = {}
        self._hlc: HLC | None = None
        self._host: Host | None = None
        self._net: NetTransport | None = None
        self._switch: LinkGate | None = None
        self._swim: SwimCore | None = None
        self._hv: HyParView | None = None
        self._engine: SyncEngine | None = None
        self._bridge: OverlayBridge | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._effects: deque[tuple[ProtocolCore, list[Effect]]] = deque()
        self._effects_wake = anyio.Event()
        self._left = anyio.Event()
        self._event_sinks: list[MemoryObjectSendStream[MembershipEvent]] = []
        self._store: Store | None = None
        self._store_info: DataDirInfo | None = None
        self._committer: GroupCommitter | None = None
        self._corrupt: list[str] = []
        self._written: set[str] = set()  # names written here since the last flush(level)
        self._direct: DirectCore | None = None
        self._replication: Replication | None = None
        self._offline_peers: list[str] = []
        self._counters: dict[str, int] = {
            "catchups_completed": 0,
            "events_dropped": 0,
            "changes_dropped": 0,
            "clock_jumps_refused": 0,
        }
        self._wall0 = time.time_ns() // 1_000_000  # the clocks at construction: the anchor
        self._mono0 = time.monotonic()

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
        # everything that can fail on the config alone, before the data dir is locked
        key = cfg.load_key()
        tcfg = cfg.transport_config()
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
        state = await self._open_store()
        try:
            net = NetTransport(tcfg, keyring=keyring)
            await net.__aenter__()
        except BaseException:
            assert self._store is not None
            self._store.close()
            self._closing = True
            raise
        try:
            await self._start(net, state)
        except BaseException:
            await self._teardown()
            raise
        return self

    async def _open_store(self) -> dict[str, Any]:
        """Open the data dir (in memory without one): replica id, HLC, every object (streamed).

        A corrupt row is reported (logged, counted in ``metrics()["store"]``), never silently
        dropped; since the lost object may have held dots of ours that peers have seen, the
        replica then takes a fresh id (a reused dot would make a later write vanish)."""
        name, data_dir = self.name, self.config.data_dir

        def open_and_load() -> tuple[Store, DataDirInfo, LoadResult, str]:
            store, info = open_data_dir(data_dir, name)
            try:
                loaded = load_objects(store, crdts.decode)
                rid = info.replica_id
                if loaded.corrupt:
                    rid = renew_replica_id(store, name)
            except BaseException:
                store.close()
                raise
            return store, info, loaded, rid

        store, info, loaded, rid = await anyio.to_thread.run_sync(open_and_load)
        self._store = store
        self._store_info = info
        self._corrupt = [str(e) for e in loaded.corrupt]
        for err in loaded.corrupt:
            log.error("node %s: data dir row not loaded: %s", name, err)
        self._replica_id = rid
        last = _decode_hlc(info.hlc, rid) if rid == info.replica_id else None
        self._hlc = HLC(rid, last=last)
        return loaded.objects

    def _encode_state(self, key: str) -> bytes | None:
        x = self.engine.get(key)
        return None if x is None else crdts.encode(x)

    def _meta(self) -> dict[str, bytes]:
        assert self._hlc is not None
        last = self._hlc.last
        return {} if last is None else {META_HLC: msgpack.packb([last.wall, last.logical])}

    async def _before_send(self) -> None:
        """The durability boundary: nothing leaves this node before the commit that holds it
        (else a replica restarted after kill -9 would mint again a dot a peer has seen)."""
        gc = self._committer
        if gc is not None:
            try:
                await gc.wait_durable()
            except StorageError as exc:
                raise UnreachableError(f"local store failing, nothing is sent: {exc}") from exc

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
        assert self._store is not None
        gc = GroupCommitter(self._store, self._encode_state, self._meta)
        await gc.__aenter__()
        self._committer = gc
        engine.on_record = gc.mark
        self._bridge = OverlayBridge(swim, hv, engine, rng=random.Random(rng.getrandbits(64)))
        self._switch = link_gate(
            net, before_send=self._before_send if self.config.data_dir is not None else None
        )
        # every event comes through on_event; the host's own events() buffer is not used
        self._direct = direct = DirectCore()
        host = Host(
            self._switch,
            [swim, hv, engine, direct],
            config=HostConfig(event_buffer=0),
            on_event=self._on_event,
        )
        await host.__aenter__()
        self._host = host
        self._replication = Replication(
            host,
            direct,
            self_addr=addr,
            alive=swim.alive,
            neighbors=lambda: hv.active_view,
            rng=random.Random(rng.getrandbits(64)),
        )
        self._open = True
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        tg.start_soon(self._pump)
        tg.start_soon(self._overlay_loop)
        if cfg.seeds:
            await host.call(hv, lambda now: hv.join(list(cfg.seeds), now))

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
        self._leaving = True  # the helper tasks stop touching the cores
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
                try:
                    if self._committer is not None:  # commits what is left
                        await self._committer.__aexit__(None, None, None)
                finally:
                    if self._store is not None:
                        self._store.close()
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
        elif isinstance(event, WriteAcked):
            assert self._replication is not None
            self._replication.on_ack(event.src, event.req)
        elif isinstance(event, WriteRequested | StatusRequested):
            if self._tg is not None and isinstance(event, WriteRequested):
                self._tg.start_soon(self._serve_write, event)
            elif self._tg is not None and isinstance(event, StatusRequested):
                self._tg.start_soon(self._serve_status, event)
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
                try:
                    await host.call(core, lambda _now, e=effects: e)  # type: ignore[misc]
                except Exception:  # a helper task must never take the node down
                    log.exception("node %s: carrying out %s effects failed", self.name, core)

    async def _overlay_loop(self) -> None:
        bridge = self._bridge
        assert bridge is not None
        interval = self.config.overlay_interval()
        while True:
            await anyio.sleep(interval)
            if not self._offline and not self._leaving:
                try:
                    self._queue(bridge.check_overlay(anyio.current_time()))
                except Exception:  # a helper task must never take the node down
                    log.exception("node %s: overlay check failed", self.name)

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
        """An HLC timestamp for a local write. The wall clock is checked against the monotonic
        clock since start: a jump ahead beyond ``max_clock_jump`` refuses the write
        (:class:`ClockError`) rather than stamp it, and every later write of this replica,
        into the future (the HLC never goes back). A step back is absorbed by the HLC."""
        assert self._hlc is not None
        wall = time.time_ns() // 1_000_000
        expected = self._wall0 + int((time.monotonic() - self._mono0) * 1000)
        if wall - expected > self.config.max_clock_jump:
            self._counters["clock_jumps_refused"] += 1
            log.error(
                "node %s: wall clock %d ms ahead of the monotonic clock: write refused",
                self.name,
                wall - expected,
            )
            raise ClockError(
                f"the wall clock is {(wall - expected) / 1000:.1f} s ahead of where the monotonic "
                f"clock puts it (max_clock_jump {self.config.max_clock_jump} ms): write refused, "
                "nothing changed; fix the clock (restarting the node accepts the new time)"
            )
        return self._hlc.now(wall)

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
        level = _check_level(consistency, timeout)
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
                delta = engine.update(name, fn, create=kind)
        except UsageError:
            raise
        except (crdts.CrdtError, ValueError, TypeError) as exc:
            raise UsageError(f"write to {name!r} rejected, nothing changed: {exc}") from exc
        self._types[name] = kind
        self._written.add(name)
        await self._durable()
        if not isinstance(level, WriteLocal):
            assert self._replication is not None
            await self._replication.replicate(
                [(name, crdts.encode(delta))],
                level,
                _DEFAULT_TIMEOUT if timeout is None else timeout,
            )

    async def _durable(self) -> None:
        """Wait until every change made so far is committed to the store."""
        assert self._committer is not None
        await self._committer.wait_durable()

    async def flush(
        self, consistency: Consistency | None = None, timeout: float | None = None
    ) -> None:
        """Wait until everything written so far is durable locally (and, with a level, held
        by that many replicas)."""
        self._check_open()
        level = _check_level(consistency, timeout)
        await self._durable()
        if isinstance(level, WriteLocal):
            return
        assert self._replication is not None
        # Every name written here since the last successful flush(WriteAll()): a weaker level
        # does not clear them (what one replica confirmed says nothing about the others).
        keys = sorted(self._written)
        if isinstance(level, WriteAll):
            self._written = set()
        engine = self.engine
        deadline = anyio.current_time() + (_DEFAULT_TIMEOUT if timeout is None else timeout)
        chunk: list[tuple[str, bytes]] = []
        size = 0
        try:
            for i, key in enumerate(keys):
                x = engine.get(key)
                if x is not None:
                    enc = crdts.encode(x)
                    chunk.append((key, enc))
                    size += len(key) + len(enc)
                if chunk and (size >= _FLUSH_CHUNK_BYTES or i == len(keys) - 1):
                    left = max(0.0, deadline - anyio.current_time())
                    await self._replication.replicate(chunk, level, left)
                    chunk, size = [], 0
        except BaseException:
            self._written.update(keys)  # not confirmed by all: the next flush sends them again
            raise

    async def _serve_write(self, ev: WriteRequested) -> None:
        """A peer's consistency write: join it, commit it, and only then acknowledge."""
        try:
            await self._serve_write_unguarded(ev)
        except Exception:  # a helper task must never take the node down
            log.exception("node %s: serving a write from %s failed", self.name, ev.src)

    async def _serve_write_unguarded(self, ev: WriteRequested) -> None:
        engine = self.engine
        ok = True
        for key, data in ev.objects:
            try:
                d = crdts.decode(data)
                x = engine.get(key)
                if x is not None and type(x) is not type(d):
                    raise TypeMismatchError(f"{key!r}: {type(d).__name__} for {type(x).__name__}")
                engine.apply(key, d)
            except Exception as exc:  # peer input: counted, not acknowledged
                engine.metrics.count_error(ev.src, exc)
                ok = False
        if not ok:
            return
        try:
            await self._durable()
        except StorageError:
            return  # not durable: no ack (the writer resends)
        if self._open:
            await self.host.call(
                self._direct_core, lambda _now: self._direct_core.ack(ev.src, ev.req)
            )

    async def _serve_status(self, ev: StatusRequested) -> None:
        try:
            status = self.status()
            await self.host.call(
                self._direct_core,
                lambda _now: self._direct_core.reply_status(ev.src, ev.req, status),
            )
        except Exception:  # a helper task must never take the node down
            log.exception("node %s: serving a status request failed", self.name)

    @property
    def _direct_core(self) -> DirectCore:
        assert self._direct is not None
        return self._direct

    def status(self) -> dict[str, Any]:
        """A plain-data summary (what ``deltamesh status`` prints): members, views, objects,
        lag, store."""
        m = self.metrics()
        return {
            "name": self.name,
            "address": self._address,
            "replica_id": self._replica_id,
            "insecure": self.insecure,
            "offline": m["offline"],
            "members": [[x.name, x.addr, x.state, x.incarnation] for x in self.members()],
            "active_view": sorted(self.active_view),
            "passive_view": sorted(self.passive_view),
            "objects": m["objects"],
            "pending_deltas": m["pending_deltas"],
            "objects_pending": m["objects_pending"],
            "lag_entries": {p: n["lag_entries"] for p, n in m["neighbors"].items()},
            "catchups_in_progress": m["catchups"]["in_progress"],
            "store": {k: m["store"][k] for k in ("data_dir", "commits", "pending", "failures")},
        }

    def _changes(self, *, key: str | None = None, prefix: str | None = None) -> ChangeStream:
        def count_drop() -> None:
            self._counters["changes_dropped"] += 1

        return ChangeStream(
            lambda deliver: self.engine.subscribe(deliver, key=key, prefix=prefix),
            buffer=_STREAM_BUFFER,
            on_drop=count_drop,
        )

    def changes(self, prefix: str = "") -> ChangeStream:
        """Every change of every object whose name starts with ``prefix``, from this call on
        (the subscription starts now, not at the first ``__anext__``); close it with
        ``aclose()`` or ``async with``."""
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
                "frames_gated": switch.gated,
            },
            "store": self._store_metrics(),
            "host": {
                "core_errors": host.metrics.core_errors,
                "send_failures": host.metrics.send_failures,
            },
            **{k: v for k, v in self._counters.items()},
        }

    def _store_metrics(self) -> dict[str, Any]:
        gc, info = self._committer, self._store_info
        assert gc is not None and info is not None
        return {
            "data_dir": None if self.config.data_dir is None else str(self.config.data_dir),
            "commits": gc.commits,
            "keys_committed": gc.keys_committed,
            "failures": gc.failures,
            "pending": gc.pending,
            "max_batch": gc.max_batch,
            "last_error": None if gc.last_error is None else str(gc.last_error),
            "corrupt_rows": list(self._corrupt),
            "new_replica_id": info.created or self._replica_id != info.replica_id,
            "clean_start": info.clean,
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
        if contacts and not self._leaving:
            await self.host.call(swim, lambda now: swim.join(contacts, now))
            if not hv.active_view:
                await self.host.call(hv, lambda now: hv.join(contacts, now))


def _decode_hlc(raw: bytes | None, replica: str) -> HLCTimestamp | None:
    """The persisted HLC (``[wall, logical]``), or None if absent or unreadable (the clock then
    restarts from the wall clock, which is safe: LWW ties break on the replica id)."""
    if not raw:
        return None
    try:
        wall, logical = msgpack.unpackb(raw)
    except Exception:
        return None
    if type(wall) is not int or type(logical) is not int or wall < 0 or logical < 0:
        return None
    return HLCTimestamp(wall, logical, replica)


def _check_level(consistency: Consistency | None, timeout: float | None) -> Consistency:
    """Validate a write's consistency arguments before anything changes."""
    level = WriteLocal() if consistency is None else consistency
    if not isinstance(level, WriteLocal | WriteTo | WriteMajority | WriteAll):
        raise UsageError(
            f"consistency must be WriteLocal/WriteTo/WriteMajority/WriteAll: {level!r}"
        )
    if timeout is not None and not timeout >= 0:
        raise UsageError(f"timeout must be >= 0 seconds, got {timeout!r}")
    return level
