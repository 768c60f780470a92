"""What a Node shows of itself: members and views, membership events, metrics, and the status
summary (also served to ``deltamesh status`` over the wire).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio

from sync._direct import StatusRequested
from sync._membership import MemberInfo, MembershipEvent
from sync._node_base import STREAM_BUFFER, NodeBase

__all__ = ["NodeObserve"]

log = logging.getLogger("sync.node")


class NodeObserve(NodeBase):
    """The observability part of :class:`~sync.Node` (see the module docstring)."""

    async def _serve_status(self, ev: StatusRequested) -> None:
        try:
            status = self.status()
            await self.host.call(
                self._direct_core,
                lambda _now: self._direct_core.reply_status(ev.src, ev.req, status),
            )
        except Exception:  # a helper task must never take the node down
            log.exception("node %s: serving a status request failed", self.name)

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
        send, recv = anyio.create_memory_object_stream[MembershipEvent](STREAM_BUFFER)
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
