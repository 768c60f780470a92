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

This file holds the composition, the lifecycle, the cores' events, the clock and the offline
switch; the other parts of the class are :mod:`sync._node_store` (the data dir, durability),
:mod:`sync._node_objects` (handles, writes, consistency levels) and :mod:`sync._node_observe`
(members, metrics, status); :mod:`sync._node_base` declares the state they share.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections import deque
from types import TracebackType
from typing import Any, Self

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectSendStream

from crdts import HLC, HLCTimestamp
from gossip._events import Effect, ProtocolCore
from gossip.hyparview import HyParView
from gossip.runtime import Host, HostConfig
from gossip.swim import LeaveCompleted, SwimCore
from gossip.transport import Keyring, NetTransport
from sync._bridge import CoreEffects, OverlayBridge
from sync._direct import DirectCore, StatusRequested, WriteAcked, WriteRequested
from sync._engine import CatchupCompleted, SyncEngine
from sync._errors import ClockError, UsageError
from sync._gate import LinkGate, link_gate
from sync._handles import Handle
from sync._lazy import LazyState
from sync._membership import MemberInfo, MembershipEvent, encode_meta, membership_event
from sync._node_config import NodeConfig
from sync._node_objects import NodeObjects
from sync._node_observe import NodeObserve
from sync._node_store import NodeStore
from sync._replication import Replication
from sync.storage import DataDirInfo, Store
from sync.storage._committer import GroupCommitter

__all__ = ["Node"]

log = logging.getLogger("sync.node")


class Node(NodeStore, NodeObjects, NodeObserve):
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
        self._handles: dict[str, Handle[Any]] = {}  # get()'s cache, by name
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
        self._swim_incarnation = 0  # where SWIM starts (read from the data dir)
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

    async def _start(self, net: NetTransport, state: tuple[LazyState, dict[str, int]]) -> None:
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
            incarnation=self._swim_incarnation,  # above the previous life's (persisted)
        )
        self._hv = hv = HyParView(
            addr,
            rng=random.Random(rng.getrandbits(64)),
            config=cfg.hyparview,
            epoch=time.time_ns() // 1_000_000,  # grows across restarts of this address
        )
        self._engine = engine = SyncEngine(
            self._replica_id,
            cfg.sync,
            random.Random(rng.getrandbits(64)),
            state=state[0],
            item_hashes=state[1],
        )
        assert self._store is not None
        # the engine's canonical bytes (format 2), shared with its Merkle index and catch-up
        # (one encode per change); the bound method itself, once per committed key
        gc = GroupCommitter(self._store, engine.state_bytes, self._meta)
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
                    self._close_store()
                    if self._net is not None:
                        await self._net.__aexit__(None, None, None)
                    for sink in self._event_sinks:
                        sink.close()
                    self._event_sinks.clear()

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

    # -- the clock ---------------------------------------------------------------------------

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

    # -- offline -----------------------------------------------------------------------------

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
