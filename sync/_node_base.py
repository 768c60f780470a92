"""What the parts of the :class:`~sync.Node` share: the state set in ``Node.__init__``, the
running-or-not checks, and the methods one part calls in another.

:class:`~sync.Node` is assembled from four files, one concept each: composition, lifecycle, the
cores' events and the offline switch (:mod:`sync._node`); the data dir, durability and the clock's
persistence (:mod:`sync._node_store`); objects, writes and consistency levels
(:mod:`sync._node_objects`); observability (:mod:`sync._node_observe`). :class:`NodeBase`
declares their shared state once so that each part type-checks alone (as
:class:`~sync._base.EngineBase` does for the engine).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
from anyio.streams.memory import MemoryObjectSendStream

from crdts import HLC
from gossip._events import Effect, ProtocolCore
from gossip.hyparview import HyParView
from gossip.runtime import Host
from gossip.swim import SwimCore
from gossip.transport import NetTransport
from sync._bridge import OverlayBridge
from sync._direct import DirectCore
from sync._engine import SyncEngine
from sync._errors import UsageError
from sync._gate import LinkGate
from sync._handles import Handle
from sync._membership import MembershipEvent
from sync._node_config import NodeConfig
from sync._replication import Replication
from sync.storage import DataDirInfo, Store
from sync.storage._committer import GroupCommitter

__all__ = ["STREAM_BUFFER", "NodeBase"]

STREAM_BUFFER = 10_000  # items an async iterator (changes, membership events) may fall behind


class NodeBase:
    """The state every part of :class:`~sync.Node` reads (set in ``Node.__init__``) and the
    checks they all use."""

    config: NodeConfig
    name: str
    insecure: bool
    _replica_id: str
    _address: str
    _open: bool
    _closing: bool
    _leaving: bool
    _types: dict[str, type[Any]]
    _handles: dict[str, Handle[Any]]
    _hlc: HLC | None
    _host: Host | None
    _net: NetTransport | None
    _switch: LinkGate | None
    _swim: SwimCore | None
    _hv: HyParView | None
    _engine: SyncEngine | None
    _bridge: OverlayBridge | None
    _tg: anyio.abc.TaskGroup | None
    _effects: deque[tuple[ProtocolCore, list[Effect]]]
    _effects_wake: anyio.Event
    _left: anyio.Event
    _event_sinks: list[MemoryObjectSendStream[MembershipEvent]]
    _store: Store | None
    _store_info: DataDirInfo | None
    _committer: GroupCommitter | None
    _corrupt: list[str]
    _written: set[str]
    _direct: DirectCore | None
    _replication: Replication | None
    _offline_peers: list[str]
    _counters: dict[str, int]
    _swim_incarnation: int

    if TYPE_CHECKING:

        async def _durable(self) -> None: ...

        def _store_metrics(self) -> dict[str, Any]: ...

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

    def _check_open(self) -> None:
        if not self._open:
            raise UsageError("the node is not running: use 'async with Node(config) as node'")

    @property
    def _offline(self) -> bool:
        return self._switch is not None and self._switch.offline

    @property
    def _direct_core(self) -> DirectCore:
        assert self._direct is not None
        return self._direct
