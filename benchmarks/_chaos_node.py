"""One chaos node: a :class:`~sync.Node` in its own process, driven by JSON lines on stdin.

``python -m benchmarks._chaos_node --name n1 --bind 127.0.0.1:0 --seed ADDR --data-dir DIR
--key-file FILE --fault-seed N`` runs a Node (``local()`` timings, SQLite data dir, cluster key)
whose UDP/TCP transport is wrapped in :class:`~gossip.transport.FaultyTransport` (the kernel has
no ``netem``), and whose wall clock can be shifted. It prints ``{"ready": ADDR, "replica_id": ..}``
once running, then answers one JSON object per command line (``id`` echoed):

- ``{"op": "put"|"remove"|"incr"|"add"|"discard", "obj", "key", "value", "level"}``: the write,
  started at once (concurrently with everything else), through the map ``m`` / counter ``c`` /
  set ``s`` handles; ``level`` is ``local``, ``to2``, ``majority`` or ``all``. The answer carries
  ``status`` (``ok`` / ``info``: a storage or unexpected error, may be applied / ``fail``: a
  ``UsageError``, nothing written), ``seen`` (the key's value, or whether the element was
  present, just before the write) and ``replicas`` (the replicas that confirmed holding it,
  this one included: what the level's wait recorded, not what the level promises);
- ``{"cmd": "faults", "loss", "dup", "delay": [lo, hi]}``: packet loss and duplication (UDP:
  SWIM), and latency of packets and frames (streams stay reliable, as TCP keeps them);
- ``{"cmd": "partition", "peers": [ADDR...], "direction": "both"|"in"|"out"}``, ``{"cmd": "heal"}``;
- ``{"cmd": "clock", "offset": SECONDS}``: the wall clock the node's HLC reads, shifted;
- ``{"cmd": "disk_full", "on": bool}``: SQLite's page limit set to the current size (every
  commit that grows the database fails with SQLITE_FULL, as on a full disk) or lifted;
- ``{"cmd": "disk_readonly", "on": bool}``: the database turned read-only (SQLite's
  ``query_only``: every commit fails with SQLITE_READONLY, "attempt to write a readonly
  database", the error a file system remounted read-only gives) or writable again;
- ``{"cmd": "sizes"}``: per object, encoded bytes and causal-context runs; the delta buffer;
- ``{"cmd": "read", "obj", "key"}``: one map entry's value (None if absent);
- ``{"cmd": "state"}``: ``{"m": {...}, "c": int, "s": [...], "replica_id", "members", "metrics"}``.

``DELTAMESH_CHAOS_LOG_ROWS=N`` in the environment (the parent's passes down): the SQLite store's
log folds every ``N`` rows and stays on at any database size (the default, 16,384 rows, is about
what a node commits in a whole 120-s run, so without it mostly the fold at open runs): the fold
itself then runs under kill -9, full and read-only disks.

Sans test dependencies: the parent (:mod:`benchmarks.chaos`) imports nothing from here.
"""

from __future__ import annotations

import argparse
import contextvars
import json
import os
import sys
import time as _time
from collections.abc import Sequence
from typing import Any

import anyio

import crdts
import sync._node as node_module
import sync._replication as replication_module
from crdts import AWLWWMap, ORSet, PNCounter
from gossip.sim import Uniform
from gossip.transport import Faults, FaultyTransport, NetTransport
from sync import (
    Node,
    NodeConfig,
    StorageError,
    UsageError,
    WriteAll,
    WriteMajority,
    WriteTimeoutError,
    WriteTo,
)


class _Clock:
    """``time`` for the Node module with a shiftable wall clock (its HLC reads ``time_ns``)."""

    offset_ns = 0

    def time_ns(self) -> int:
        return _time.time_ns() + self.offset_ns

    def time(self) -> float:
        return _time.time() + self.offset_ns / 1e9

    def __getattr__(self, name: str) -> Any:
        return getattr(_time, name)


CLOCK = _Clock()
TRANSPORTS: list[FaultyTransport] = []


class _FaultyNet(FaultyTransport):
    def connected_peers(self) -> list[str]:
        inner = self.inner
        assert isinstance(inner, NetTransport)
        return inner.connected_peers()


# The replication waits a write started (one per write with a level): which replicas confirmed
# it is what the checker needs (a write held by >= 2 must survive a lost data dir), and the level
# alone does not say it (a majority of the members *still alive*: 1 once the others are dead).
_WAITS: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar("waits", default=None)


class _RecordedWait(replication_module._Wait):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__()
        waits = _WAITS.get()
        if waits is not None:
            waits.append(self)


def _install(seed: int) -> None:
    def make(config: Any, *, keyring: Any, epoch: int | None = None) -> _FaultyNet:
        t = _FaultyNet(NetTransport(config, keyring=keyring, epoch=epoch), seed=seed)
        TRANSPORTS.append(t)
        return t

    setattr(node_module, "NetTransport", make)  # noqa: B010 (this process only)
    setattr(node_module, "time", CLOCK)  # noqa: B010
    setattr(replication_module, "_Wait", _RecordedWait)  # noqa: B010
    rows = os.environ.get(LOG_ROWS_ENV)
    if rows:
        _small_log(int(rows))


LOG_ROWS_ENV = "DELTAMESH_CHAOS_LOG_ROWS"


def _small_log(rows: int) -> None:
    """Data dirs opened from now on fold their SQLite log every ``rows`` rows, at any size."""
    import sync.storage._datadir as datadir_module
    from sync.storage._sqlite import SQLiteStore

    base: Any = SQLiteStore

    def make(*args: Any, **kw: Any) -> Any:
        return base(*args, log_rows=rows, log_pages=1 << 40, **kw)

    setattr(datadir_module, "SQLiteStore", make)  # noqa: B010 (this process only)


def _say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def _write(node: Node, cmd: dict[str, Any]) -> dict[str, Any]:
    op, obj, key, value = cmd["op"], cmd.get("obj", ""), cmd.get("key", ""), cmd.get("value")
    level_name = cmd.get("level", "local")
    level: Any = {"to2": WriteTo(2), "majority": WriteMajority(), "all": WriteAll()}.get(level_name)
    waits: list[Any] = []
    _WAITS.set(waits)
    seen: Any = None
    try:
        if op in ("put", "remove"):
            h = node.get(obj, AWLWWMap)
            seen = h.value.get(key, None)
            if op == "put":
                await h.put(key, value, consistency=level, timeout=2.0)
            else:
                await h.remove(key, consistency=level, timeout=2.0)
        elif op in ("add", "discard"):
            s = node.get(obj, ORSet)
            seen = key in s.value
            if op == "add":
                await s.add(key, consistency=level, timeout=2.0)
            else:
                await s.remove(key, consistency=level, timeout=2.0)
        elif op == "incr":
            c = node.get(obj, PNCounter)
            n = int(value or 0)
            if n >= 0:
                await c.increment(n, consistency=level, timeout=2.0)
            else:
                await c.decrement(-n, consistency=level, timeout=2.0)
        else:
            return {"status": "fail", "error": f"unknown op {op!r}"}
    except WriteTimeoutError as exc:  # durable here; fewer replicas than asked
        return {"status": "ok", "seen": seen, "replicas": len(exc.confirmed), "timeout": True}
    except UsageError as exc:
        return {"status": "fail", "seen": seen, "error": repr(exc)}
    except StorageError as exc:
        return {"status": "info", "seen": seen, "error": repr(exc)}
    # confirmed by the replicas that acked its wait (none: the level needed no other replica)
    replicas = 1 + len(waits[-1].acked) if waits else 1
    return {"status": "ok", "seen": seen, "replicas": replicas}


def _state(node: Node) -> dict[str, Any]:
    m = node.get("m", AWLWWMap).value
    s = node.get("s", ORSet).value
    c = node.get("c", PNCounter).value
    metrics = node.metrics()
    return {
        "m": dict(m),
        "s": sorted(s),
        "c": c,
        "replica_id": node.replica_id,
        "members": sum(x.state == "alive" for x in node.members()),
        "active": len(node.active_view),
        "pending_deltas": metrics.get("pending_deltas", 0),
        "faults": dict(TRANSPORTS[-1].stats) if TRANSPORTS else {},
    }


def _sizes(node: Node) -> dict[str, Any]:
    """Per object: encoded bytes and causal-context runs (what would grow with a leak)."""
    engine = node.engine
    objects: dict[str, Any] = {}
    for name in node.keys(""):
        x = engine.get(name)
        if x is None:
            continue
        cc = getattr(x, "context", None)
        runs = sum(1 for _ in cc.runs()) if cc is not None and hasattr(cc, "runs") else 0
        objects[name] = {"bytes": len(crdts.encode(x)), "context_runs": runs}
    return {"objects": objects, "pending_deltas": engine.buffer_size}


def _disk_full(node: Node, on: bool) -> dict[str, Any]:
    store: Any = getattr(node, "_store", None)
    conn = getattr(store, "_conn", None)
    if conn is None:
        return {"error": "no SQLite connection to limit"}
    with store._mutex:  # not while a commit runs in the committer's thread
        if on:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count={int(pages)}")
        else:
            conn.execute("PRAGMA max_page_count=1073741823")
        return {"max_page_count": conn.execute("PRAGMA max_page_count").fetchone()[0]}


def _disk_readonly(node: Node, on: bool) -> dict[str, Any]:
    """The node's disk turns read-only (or writable again) under it.

    A real read-only remount is not possible here: the kernel refuses to make a mount read-only
    while a file on it is open for writing (EBUSY), and SQLite holds its database open. SQLite's
    ``query_only`` gives the node the same failure a read-only file gives, SQLITE_READONLY on
    every commit, while reads keep working."""
    store: Any = getattr(node, "_store", None)
    conn = getattr(store, "_conn", None)
    if conn is None:
        return {"error": "no SQLite connection to make read-only"}
    with store._mutex:
        conn.execute(f"PRAGMA query_only={1 if on else 0}")
        return {"query_only": conn.execute("PRAGMA query_only").fetchone()[0]}


async def _child(args: argparse.Namespace) -> None:
    config = NodeConfig.local(
        name=args.name,
        bind=args.bind,
        seeds=tuple(args.seed),
        data_dir=args.data_dir,
        key_file=args.key_file,
    )
    async with Node(config) as node, anyio.create_task_group() as tg:
        _say({"ready": node.address, "replica_id": node.replica_id})

        async def run_write(cmd: dict[str, Any]) -> None:
            try:
                reply = await _write(node, cmd)
            except Exception as exc:  # an unexpected error: reported, the op indeterminate
                reply = {"status": "info", "error": repr(exc)}
            _say({"id": cmd.get("id"), **reply})

        while True:
            line = await anyio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
            if not line:
                tg.cancel_scope.cancel()
                break
            cmd = json.loads(line)
            what = cmd.get("cmd")
            if "op" in cmd:
                tg.start_soon(run_write, cmd)
                continue
            if what == "quit":
                tg.cancel_scope.cancel()
                break
            try:
                reply = _control(node, what, cmd)
            except Exception as exc:  # reported to the parent, never fatal here
                reply = {"error": repr(exc)}
            _say({"id": cmd.get("id"), **reply})


def _control(node: Node, what: str, cmd: dict[str, Any]) -> dict[str, Any]:
    reply: dict[str, Any] = {}
    t = TRANSPORTS[-1]
    if what == "faults":
        lo, hi = cmd.get("delay", [0.0, 0.0])
        lat = Uniform(lo, hi) if hi > 0 else 0.0
        t.packets_out = Faults(
            latency=lat, loss=cmd.get("loss", 0.0), duplicate=cmd.get("dup", 0.0)
        )
        t.frames_out = Faults(latency=lat)
    elif what == "partition":
        t.partition(cmd["peers"], cmd.get("direction", "both"))
    elif what == "heal":
        t.heal()
    elif what == "clock":
        CLOCK.offset_ns = int(float(cmd["offset"]) * 1e9)
    elif what == "disk_full":
        reply = _disk_full(node, bool(cmd["on"]))
    elif what == "disk_readonly":
        reply = _disk_readonly(node, bool(cmd["on"]))
    elif what == "state":
        reply = _state(node)
    elif what == "sizes":
        reply = _sizes(node)
    elif what == "read":
        reply = {"value": node.get(cmd["obj"], AWLWWMap).get(cmd["key"], None)}
    return reply


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks._chaos_node")
    parser.add_argument("--name", required=True)
    parser.add_argument("--bind", required=True)
    parser.add_argument("--seed", action="append", default=[])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--key-file", required=True)
    parser.add_argument("--fault-seed", type=int, default=0)
    args = parser.parse_args(argv)
    _install(args.fault_seed)
    anyio.run(_child, args)
    sys.stdout.flush()
    os._exit(0)  # the stdin reader thread may still be blocked in readline


if __name__ == "__main__":
    main()
