"""The chaos run: 5 Node processes on loopback under a seeded nemesis, checked Jepsen-style.

``python -m benchmarks.chaos [--runs 20] [--seconds 120] [--first-seed 1] [--quick]``

Each run (one seed) starts five ``benchmarks._chaos_node`` processes (SQLite data dirs, a
cluster key, a fault-injecting transport), then for ``--seconds`` issues writes at every node
(map puts and removes on ``m``, counter increments and decrements on ``c``, set adds and removes
on ``s``; 60 % ``WriteLocal``, 20 % ``WriteTo(2)``, 10 % ``WriteMajority``, 10 % ``WriteAll``;
each acknowledgement records how many replicas confirmed the write) while a nemesis, seeded,
applies one fault after another: kill -9 and restart; kill -9, data dir deleted, restart
(the node must come back with a fresh replica id); symmetric partitions (a random split) and
one-way partitions; a clock shifted by up to +-``--skew`` seconds on one node; SQLite's page limit
pinned to the current size under one node (a full disk: commits fail); the database of one node
turned read-only (commits fail with SQLITE_READONLY; the node must acknowledge writes again once
it is writable); and, overlapping any of them half the time, 0-30 % packet loss, 0-10 % packet
duplication and 0-50 ms latency on every node. Then everything heals, every node is up, and once
the states stop changing the checker (:mod:`benchmarks._chaos_checker`) reads them all:
0 violations is the goal.

Writes the table (faults, operations, violations per run), ``results/chaos.json`` with the goals
and ``results/chaos.png`` (the first run's timeline and the per-run counts). Also probes an
absurd clock jump (a day ahead) on an in-process Node: is it refused?
"""

from __future__ import annotations

import json
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from benchmarks._chaos_checker import NOT_SEEN, History, Op, Report, check
from benchmarks._chaos_netns import Hosts
from benchmarks._harness import RESULTS_DIR, Bench

ROOT = Path(__file__).resolve().parents[1]
NODES = 5
MAP_KEYS = 16  # keys of the map: few, so writes to one key collide across nodes
IN_FLIGHT = 3  # writes outstanding per node
# the acknowledgement asked for: WriteLocal, WriteTo(2), WriteMajority, WriteAll
LEVELS = ("local", "to2", "majority", "all")
LEVEL_CUM = (0.6, 0.8, 0.9, 1.0)  # cumulative shares: 60 %, 20 %, 10 %, 10 %
QUIESCE_MAX = 120.0  # s to wait for equal states after the heal


class Child:
    """One node process; replies to commands are matched by id on a reader thread."""

    def __init__(
        self,
        name: str,
        *,
        bind: str,
        seeds: Sequence[str],
        data_dir: Path,
        key_file: Path,
        log_dir: Path,
        fault_seed: int,
        on_exit: Callable[[Child], None],
        prefix: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.addr = ""
        self.replica_id = ""
        self.killed = False  # by the nemesis (an exit is then expected)
        self.pending: dict[int, Callable[[dict[str, Any]], None]] = {}
        self._lock = threading.Lock()
        self._ready: queue.Queue[dict[str, Any]] = queue.Queue()
        self._on_exit = on_exit
        argv = [*prefix, sys.executable, "-m", "benchmarks._chaos_node", "--name", name]
        argv += ["--bind", bind]
        argv += ["--data-dir", str(data_dir), "--key-file", str(key_file)]
        argv += ["--fault-seed", str(fault_seed)]
        for s in seeds:
            argv += ["--seed", s]
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}-{time.monotonic_ns()}.log"
        self._log: IO[str] = self.log_path.open("w")
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if "ready" in msg:
                self._ready.put(msg)
                continue
            with self._lock:
                cb = self.pending.pop(msg.get("id", -1), None)
            if cb is not None:
                cb(msg)
        self.proc.wait()
        self._on_exit(self)

    def wait_ready(self, timeout: float = 60.0) -> None:
        try:
            msg = self._ready.get(timeout=timeout)
        except queue.Empty:
            raise RuntimeError(f"{self.name} did not start; see {self.log_path}") from None
        self.addr, self.replica_id = msg["ready"], msg["replica_id"]

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None and not self.killed

    def in_flight(self) -> int:
        with self._lock:
            return len(self.pending)

    def send(self, cmd: dict[str, Any], cb: Callable[[dict[str, Any]], None]) -> bool:
        with self._lock:
            self.pending[cmd["id"]] = cb
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError, ValueError):
            with self._lock:
                self.pending.pop(cmd["id"], None)
            return False
        return True

    def call(self, ids: Callable[[], int], cmd: dict[str, Any], timeout: float = 20.0) -> Any:
        """A control command; its reply (None if the node is gone or silent)."""
        box: queue.Queue[dict[str, Any]] = queue.Queue()
        if not self.send({**cmd, "id": ids()}, box.put):
            return None
        try:
            return box.get(timeout=timeout)
        except queue.Empty:
            return None

    def kill9(self) -> None:
        self.killed = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.killed = True
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({"cmd": "quit", "id": 0}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=15)
            except (BrokenPipeError, OSError, ValueError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


class Run:
    """One seeded run: the cluster, the workload, the nemesis, the check."""

    def __init__(
        self,
        seed: int,
        seconds: float,
        skew: float,
        workdir: Path,
        log: Any,
        hosts: Hosts | None = None,
    ) -> None:
        self.seed = seed
        # in network namespaces: loss and partitions by the kernel (see _chaos_netns)
        self.hosts = hosts
        self.seconds = seconds
        self.skew = skew
        self.dir = workdir
        self.log = log
        self.rng = random.Random(seed)
        self.history = History()
        self.hlock = threading.Lock()
        self.t0 = time.monotonic()
        self.names = [f"n{i}" for i in range(NODES)]
        self.children: dict[str, Child] = {}
        self.addrs: dict[str, str] = {}
        self.replica_ids: dict[str, list[str]] = {n: [] for n in self.names}
        self.identity_errors: list[str] = []
        self.faults: Counter[str] = Counter()
        self.spans: list[tuple[str, float, float]] = []  # (fault, start, end) for the plot
        self.acks: list[float] = []  # ack times (s since start)
        self._id = 0
        self._idlock = threading.Lock()
        self.key = self.dir / "cluster.key"
        self.key.write_text(os.urandom(32).hex() + "\n")
        self.key.chmod(0o600)
        self.unbidden: list[str] = []
        self.cuts: list[tuple[str, list[str], str]] = []  # (from, to, direction) in force
        self.net: dict[str, Any] | None = None  # the network faults in force
        self.clock: dict[str, float] = {}  # clock offsets in force (s)
        self.elements: list[str] = []  # set elements added so far
        self.fail_errors: Counter[str] = Counter()
        self.info_errors: Counter[str] = Counter()
        self.levels: Counter[str] = Counter()  # "level:status" (and "level:replicated": >= 2)
        self.disk_faults: list[tuple[str, str, float]] = []  # (node, kind, end of the fault)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def next_id(self) -> int:
        with self._idlock:
            self._id += 1
            return self._id

    # -- processes -----------------------------------------------------------------------------

    def _exited(self, child: Child) -> None:
        if not child.killed:
            self.unbidden.append(child.name)
            with self.hlock:
                self.history.crashed(child.name, at=self.now(), by_nemesis=False)

    def start(self, name: str) -> Child:
        hosts = self.hosts
        bind = hosts.bind(name) if hosts is not None else self.addrs.get(name, "127.0.0.1:0")
        seeds = [a for n, a in self.addrs.items() if n != name] or []
        child = Child(
            name,
            bind=bind,
            seeds=seeds,
            data_dir=self.dir / name,
            key_file=self.key,
            log_dir=self.dir / "logs",
            fault_seed=self.rng.randrange(2**32),
            on_exit=self._exited,
            prefix=hosts.prefix(name) if hosts is not None else (),
        )
        child.wait_ready()
        if name in self.addrs and child.addr != self.addrs[name]:
            raise RuntimeError(f"{name} came back on {child.addr}, not {self.addrs[name]}")
        self.addrs[name] = child.addr
        self.children[name] = child
        self.replica_ids[name].append(child.replica_id)
        return child

    def kill(self, name: str, *, wipe: bool) -> None:
        child = self.children[name]
        child.kill9()
        with self.hlock:
            self.history.crashed(name, at=self.now(), by_nemesis=True)
            if wipe:
                self.history.data_lost(name, at=self.now())
        if wipe:
            shutil.rmtree(self.dir / name, ignore_errors=True)

    def restart(self, name: str, *, wiped: bool) -> None:
        before = list(self.replica_ids[name])
        child = self.start(name)
        others = {r for n, ids in self.replica_ids.items() if n != name for r in ids}
        if wiped and child.replica_id in before:
            self.identity_errors.append(f"{name} reused replica id {child.replica_id} after wipe")
        if not wiped and child.replica_id != before[-1]:
            self.identity_errors.append(f"{name} changed replica id on a plain restart")
        if child.replica_id in others:
            self.identity_errors.append(f"{name} took another node's replica id")
        self._reapply(name)

    def control(self, name: str, cmd: dict[str, Any]) -> Any:
        child = self.children[name]
        return child.call(self.next_id, cmd) if child.alive else None

    # -- the nemesis's state, re-applied to a restarted node ------------------------------------

    def _reapply(self, name: str) -> None:
        for cut in self.cuts:
            src, dsts, direction = cut
            if src == name:
                self.control(name, self._partition_cmd(dsts, direction))
        if self.net is not None:
            self.control(name, {"cmd": "faults", **self.net})
        if name in self.clock:
            self.control(name, {"cmd": "clock", "offset": self.clock[name]})

    def _partition_cmd(self, dsts: Sequence[str], direction: str) -> dict[str, Any]:
        return {
            "cmd": "partition",
            "peers": [self.addrs[d] for d in dsts],
            "direction": direction,
        }

    # -- the workload ----------------------------------------------------------------------------

    def _issue(self, name: str, counter: int) -> None:
        rng = self.rng
        child = self.children[name]
        r = rng.random()
        level = LEVELS[next(i for i, c in enumerate(LEVEL_CUM) if r < c)]
        kind_r = rng.random()
        cmd: dict[str, Any]
        if kind_r < 0.45:
            key = f"k{rng.randrange(MAP_KEYS)}"
            if rng.random() < 0.2:
                cmd = {"op": "remove", "obj": "m", "key": key}
            else:
                cmd = {"op": "put", "obj": "m", "key": key, "value": f"{name}.{counter}"}
        elif kind_r < 0.7:
            v = rng.choice([1, 1, 2, 3, 5, -1, -2])
            cmd = {"op": "incr", "obj": "c", "value": v}
        else:
            if self.elements and rng.random() < 0.3:
                elem = rng.choice(self.elements)
                cmd = {"op": "discard", "obj": "s", "key": elem}
            else:
                elem = f"{name}.{counter}"
                self.elements.append(elem)
                cmd = {"op": "add", "obj": "s", "key": elem}
        cmd["level"] = level
        cmd["id"] = self.next_id()
        with self.hlock:
            op = self.history.invoke(
                name, cmd["op"], cmd["obj"], cmd.get("key", ""), cmd.get("value"), at=self.now()
            )

        def done(reply: dict[str, Any], op: Op = op) -> None:
            at = self.now()
            with self.hlock:
                status = self.history.settle(op, reply, at=at)
                self.levels[f"{level}:{status}"] += 1
                if status == "ok":
                    self.acks.append(at)
                    if op.replicas >= 2:
                        self.levels[f"{level}:replicated"] += 1
                else:  # grouped by message: the run's temporary directory left out
                    error = str(reply.get("error")).replace(str(self.dir), "<run dir>")[:120]
                    (self.fail_errors if status == "fail" else self.info_errors)[error] += 1

        child.send(cmd, done)

    def workload(self, stop: threading.Event) -> None:
        counter = 0
        while not stop.is_set():
            for name in self.names:
                child = self.children.get(name)
                if child is not None and child.alive and child.in_flight() < IN_FLIGHT:
                    counter += 1
                    self._issue(name, counter)
            time.sleep(0.02)

    # -- the nemesis -------------------------------------------------------------------------------

    def nemesis(self, stop: threading.Event) -> None:
        rng = self.rng
        actions = ["kill", "wipe", "partition", "oneway", "clock", "disk", "rodisk", "net"]
        while not stop.is_set():
            if stop.wait(rng.uniform(1.0, 3.0)):
                return
            action = rng.choice(actions)
            hold = rng.uniform(2.0, 8.0)
            start = self.now()
            net_too = action != "net" and rng.random() < 0.5
            hosts = self.hosts
            if net_too or action == "net":
                self.net = {
                    "loss": rng.uniform(0.0, 0.3),
                    "dup": rng.uniform(0.0, 0.1),
                    "delay": [0.0, rng.uniform(0.0, 0.05)],
                }
                if hosts is not None:  # the kernel drops; the wrapper delays and duplicates
                    hosts.set_loss(self.net["loss"])
                    self.net["loss"] = 0.0
                self.faults["net"] += 1
                for n in self.names:
                    self.control(n, {"cmd": "faults", **self.net})
            victim = rng.choice(self.names)
            undo: Callable[[], None] = lambda: None  # noqa: E731
            if action in ("kill", "wipe"):
                self.faults[action] += 1
                self.kill(victim, wipe=action == "wipe")

                def undo(v: str = victim, w: bool = action == "wipe") -> None:
                    self.restart(v, wiped=w)

                hold = rng.uniform(0.5, 5.0)
            elif action in ("partition", "oneway"):
                self.faults[action] += 1
                names = list(self.names)
                rng.shuffle(names)
                if action == "partition":
                    k = rng.randint(1, NODES // 2)
                    side_a, side_b = names[:k], names[k:]
                    self.cuts = [(a, side_b, "both") for a in side_a]
                    self.cuts += [(b, side_a, "both") for b in side_b]
                else:  # one node cannot send to some others (they still reach it)
                    src, dsts = names[0], names[1 : 1 + rng.randint(1, NODES - 1)]
                    self.cuts = [(src, dsts, "out")]
                if hosts is None:
                    for src, dsts, direction in self.cuts:
                        self.control(src, self._partition_cmd(dsts, direction))
                else:  # the kernel's: a pulled cable, two bridges, an nftables output rule
                    if action == "oneway":
                        hosts.one_way(src, dsts)
                    elif len(side_a) == 1:
                        hosts.cut(side_a[0])
                    else:
                        hosts.split(side_a)
                    self.cuts = []  # they hold across restarts by themselves

                def undo() -> None:
                    self.cuts = []
                    if self.hosts is not None:
                        self.hosts.heal()
                    for n in self.names:
                        self.control(n, {"cmd": "heal"})

            elif action == "clock":
                self.faults[action] += 1
                offset = rng.uniform(-self.skew, self.skew)
                self.clock[victim] = offset
                self.control(victim, {"cmd": "clock", "offset": offset})

                def undo(v: str = victim) -> None:
                    self.clock.pop(v, None)
                    self.control(v, {"cmd": "clock", "offset": 0.0})

            elif action in ("disk", "rodisk"):
                self.faults[action] += 1
                hold = rng.uniform(5.0, 10.0)  # long enough for the database to need a page
                cmd = "disk_full" if action == "disk" else "disk_readonly"
                self.control(victim, {"cmd": cmd, "on": True})

                def undo(v: str = victim, cmd: str = cmd, kind: str = action) -> None:
                    self.control(v, {"cmd": cmd, "on": False})
                    self.disk_faults.append((v, kind, self.now()))

            stop.wait(hold)
            undo()
            if self.net is not None:
                self.net = None
                if hosts is not None:
                    hosts.set_loss(0.0)
                for n in self.names:
                    self.control(n, {"cmd": "faults", "loss": 0.0, "dup": 0.0, "delay": [0, 0]})
            self.spans.append((action, start, self.now()))

    # -- the whole run ---------------------------------------------------------------------------

    def go(self) -> dict[str, Any]:
        try:
            for n in self.names:
                self.start(n)
            self.wait_members()
            self.t0 = time.monotonic()
            stop = threading.Event()
            threads = [
                threading.Thread(target=self.workload, args=(stop,), daemon=True),
                threading.Thread(target=self.nemesis, args=(stop,), daemon=True),
            ]
            for t in threads:
                t.start()
            stop.wait(self.seconds)
            stop.set()
            for t in threads:
                t.join(timeout=60)
            end_writes = self.now()
            for n in self.names:  # heal everything, every node up
                child = self.children[n]
                if not child.alive and child.killed:
                    self.restart(n, wiped=False)
            if self.hosts is not None:
                self.hosts.heal()
                self.hosts.set_loss(0.0)
            for n in self.names:
                self.control(n, {"cmd": "heal"})
                self.control(n, {"cmd": "faults", "loss": 0.0, "dup": 0.0, "delay": [0, 0]})
                self.control(n, {"cmd": "clock", "offset": 0.0})
                self.control(n, {"cmd": "disk_full", "on": False})
                self.control(n, {"cmd": "disk_readonly", "on": False})
            self.drain_writes()
            finals, quiesce = self.quiesce()
            with self.hlock:
                report = check(self.history, finals, tolerance=2 * self.skew + 0.5)
            return self.summary(report, finals, quiesce, end_writes)
        finally:
            for c in self.children.values():
                c.stop()

    def wait_members(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = [self.control(n, {"cmd": "state"}) for n in self.names]
            if all(s is not None and s["members"] == NODES for s in states):
                return
            time.sleep(0.5)
        raise RuntimeError("the cluster did not form")

    def drain_writes(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(c.in_flight() == 0 for c in self.children.values() if c.alive):
                return
            time.sleep(0.2)

    def quiesce(self) -> tuple[dict[str, dict[str, Any]], float]:
        """Poll the states until all are equal and stable (3 polls a second apart)."""
        start = time.monotonic()
        stable = 0
        last: Any = None
        finals: dict[str, dict[str, Any]] = {}
        while time.monotonic() - start < QUIESCE_MAX:
            finals = {}
            for n in self.names:
                s = self.control(n, {"cmd": "state"})
                if s is not None:
                    finals[n] = {"m": s["m"], "s": set(s["s"]), "c": s["c"]}
            snap = json.dumps(
                {n: [f["m"], sorted(f["s"]), f["c"]] for n, f in finals.items()}, sort_keys=True
            )
            same = len(finals) == NODES and all(f == finals[self.names[0]] for f in finals.values())
            stable = stable + 1 if same and snap == last else 0
            last = snap
            if stable >= 2:
                break
            time.sleep(1.0)
        return finals, time.monotonic() - start

    def unrecovered_disks(self, end_writes: float) -> list[str]:
        """Disk faults after which the node acknowledged no write of its own again (ended at
        least 5 s before the writes stopped: enough for the committer's retry to succeed)."""
        out = []
        for node, kind, end in self.disk_faults:
            if end > end_writes - 5.0:
                continue
            if not any(
                o.node == node and o.status == "ok" and o.acked > end for o in self.history.ops
            ):
                out.append(
                    f"{node}: no write acknowledged after its {kind} fault ended at {end:.1f}"
                )
        return out

    def summary(
        self, report: Report, finals: dict[str, Any], quiesce: float, end_writes: float
    ) -> dict[str, Any]:
        violations = [v.__dict__ if hasattr(v, "__dict__") else v for v in report.violations]
        stuck = self.unrecovered_disks(end_writes)
        return {
            "seed": self.seed,
            "seconds": round(end_writes, 1),
            "faults": dict(self.faults),
            "ops": report.ops,
            "ok": report.ok,
            "info": report.info,
            "fail": report.fail,
            "must_survive": report.must_survive,
            "violations": len(report.violations) + len(self.identity_errors) + len(stuck),
            "by_kind": report.by_kind,
            "violation_list": [
                {"kind": v.kind, "obj": v.obj, "key": v.key, "detail": v.detail}
                for v in report.violations[:50]
            ]
            + [{"kind": "identity", "detail": e} for e in self.identity_errors]
            + [{"kind": "disk_not_recovered", "detail": e} for e in stuck],
            "levels": dict(sorted(self.levels.items())),
            "netns": self.hosts is not None,
            "nft_dropped": self.hosts.dropped() if self.hosts is not None else None,
            "violation_ops": {  # the history of each key with a violation, to diagnose it
                f"{v.obj}/{v.key}": [
                    [
                        o.node,
                        o.kind,
                        o.value,
                        None if o.seen is NOT_SEEN else o.seen,
                        round(o.invoked, 3),
                        o.status,
                        round(o.acked, 3) if o.status == "ok" else None,
                        o.replicas,
                    ]
                    for o in self.history.ops
                    if o.obj == v.obj and o.key == v.key
                ][-80:]
                for v in report.violations[:10]
                if v.key
            },
            "identity_errors": self.identity_errors,
            "unbidden_exits": self.unbidden,
            "quiesce_s": round(quiesce, 1),
            "replica_ids": self.replica_ids,
            "final_sizes": {
                "map_keys": len(finals.get("n0", {}).get("m", {})),
                "set": len(finals.get("n0", {}).get("s", set())),
                "counter": finals.get("n0", {}).get("c"),
            },
            "info_errors": dict(self.info_errors.most_common(5)),
            "fail_errors": dict(self.fail_errors.most_common(5)),
            "spans": [(a, round(s, 2), round(e, 2)) for a, s, e in self.spans],
            "acks": [round(a, 2) for a in self.acks],
            "_unused": violations[:0],
        }


def absurd_clock_probe() -> dict[str, Any]:
    """An in-process Node whose wall clock jumps a day ahead: is the write refused?"""
    import anyio

    import sync._node as node_module
    from benchmarks import _chaos_node as cn

    async def probe() -> dict[str, Any]:
        from crdts import AWLWWMap
        from sync import Node, NodeConfig

        setattr(node_module, "time", cn.CLOCK)  # noqa: B010
        cn.CLOCK.offset_ns = 0
        async with Node(NodeConfig.local(name="clock")) as node:
            m = node.get("m", AWLWWMap)
            await m.put("k", "before")
            cn.CLOCK.offset_ns = 86_400 * 10**9
            try:
                await m.put("k", "a day ahead")
                refused, error = False, ""
            except Exception as exc:  # a refusal of any kind counts
                refused, error = True, repr(exc)
            cn.CLOCK.offset_ns = 0
            await m.put("k", "back to now")
            hlc = node._hlc
            ahead_s = (
                (hlc.last.wall - time.time_ns() // 1_000_000) / 1000 if hlc and hlc.last else 0
            )
            return {"refused": refused, "error": error, "hlc_ahead_after_s": round(ahead_s, 1)}

    try:
        return anyio.run(probe)
    finally:
        import time as real_time

        setattr(node_module, "time", real_time)  # noqa: B010
        cn.CLOCK.offset_ns = 0


def _plot(runs: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 7))
    first = runs[0]
    acks = first["acks"]
    if acks:
        end = int(max(acks)) + 1
        per_s = [0] * (end + 1)
        for a in acks:
            per_s[int(a)] += 1
        ax1.plot(range(len(per_s)), per_s, color="black", lw=1, label="acknowledged writes/s")
    colors = {
        "kill": "red", "wipe": "darkred", "partition": "orange", "oneway": "gold",
        "clock": "purple", "disk": "brown", "rodisk": "peru", "net": "blue",
    }  # fmt: skip
    seen: set[str] = set()
    for action, s, e in first["spans"]:
        ax1.axvspan(s, e, alpha=0.15, color=colors.get(action, "grey"),
                    label=None if action in seen else action)  # fmt: skip
        seen.add(action)
    ax1.set_title(f"run seed {first['seed']}: acknowledged writes per second and the faults")
    ax1.set_xlabel("s")
    ax1.legend(fontsize=7, ncol=4)
    xs = range(len(runs))
    ax2.bar(xs, [r["ok"] for r in runs], color="grey", label="acknowledged ops")
    ax2.bar(xs, [r["violations"] for r in runs], color="red", label="violations")
    ax2.set_xticks(list(xs), [str(r["seed"]) for r in runs], fontsize=7)
    ax2.set_xlabel("seed")
    ax2.set_title(f"{len(runs)} runs: {sum(r['violations'] for r in runs)} violations")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def _seeds(spec: str) -> list[int]:
    """``"1-10"`` or ``"1,4,7"`` (or a mix) -> the seeds."""
    out: list[int] = []
    for part in spec.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    def add(p: Any) -> None:
        p.add_argument("--runs", type=int, default=20, help="seeded runs")
        p.add_argument("--seconds", type=float, default=120.0, help="workload time per run")
        p.add_argument("--first-seed", type=int, default=1)
        p.add_argument("--seeds", default=None, help="e.g. 1-10 (instead of --runs/--first-seed)")
        p.add_argument("--skew", type=float, default=1.5, help="max clock shift (s)")
        p.add_argument("--workdir", type=Path, default=None, help="keep data dirs and logs here")
        p.add_argument(
            "--merge",
            type=Path,
            nargs="+",
            default=None,
            help="no runs: report the runs recorded in these .runs.jsonl files (parallel halves)",
        )
        p.add_argument(
            "--netns",
            action="store_true",
            help="each node in its own network namespace: loss and partitions by the kernel "
            "(needs root, ip, nft)",
        )
        p.add_argument("--no-plot", action="store_true")

    bench = Bench("chaos", description=__doc__, argv=argv, add_arguments=add)
    a = bench.args
    seconds = 6.0 if bench.quick else a.seconds
    if bench.quick:
        seeds = list(range(a.first_seed, a.first_seed + min(a.runs, 2)))
    elif a.seeds:
        seeds = _seeds(a.seeds)
    else:
        seeds = list(range(a.first_seed, a.first_seed + a.runs))
    runs: list[dict[str, Any]] = []
    if a.merge:
        for f in a.merge:
            runs += [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        runs.sort(key=lambda r: r["seed"])
        seeds = [r["seed"] for r in runs]
    journal = bench.out.with_suffix(".runs.jsonl")  # one line per finished run, as it ends
    if not a.merge:
        journal.unlink(missing_ok=True)
    base = Path(tempfile.mkdtemp(prefix="chaos-")) if a.workdir is None else a.workdir
    for i, seed in enumerate([] if a.merge else seeds):
        wd = base / f"seed{seed}"
        wd.mkdir(parents=True, exist_ok=True)
        bench.log(f"run {i + 1}/{len(seeds)}: seed {seed}, {seconds:.0f} s")
        hosts = None
        if a.netns:
            hosts = Hosts(f"dmc{os.getpid() % 100000}", [f"n{i}" for i in range(NODES)])
            hosts.create()
        try:
            res = Run(seed, seconds, a.skew, wd, bench.log, hosts).go()
        finally:
            if hosts is not None:
                hosts.delete()
        runs.append(res)
        with journal.open("a") as f:
            f.write(json.dumps(res, default=str) + "\n")
        bench.log(f"seed {seed}: {res['ok']} acked, {res['violations']} violations")
        if res["violations"]:
            bench.log(json.dumps(res["violation_list"][:10]))
        if a.workdir is None and not res["violations"]:
            shutil.rmtree(wd, ignore_errors=True)
    for res in runs:
        bench.row(
            seed=res["seed"],
            seconds=res["seconds"],
            faults=" ".join(f"{k}:{v}" for k, v in sorted(res["faults"].items())),
            ops=res["ops"],
            ok=res["ok"],
            info=res["info"],
            fail=res["fail"],
            violations=res["violations"],
            quiesce_s=res["quiesce_s"],
        )
    probe = absurd_clock_probe()
    total = sum(r["violations"] for r in runs)
    bench.goal("violations", total, "<= 0", note=f"over {len(runs)} runs")
    bench.goal("runs", len(runs), f">= {len(seeds)}")
    bench.goal(
        "absurd_clock_jump_refused",
        int(probe["refused"]),
        ">= 1",
        note="a write with the wall clock a day ahead (NodeConfig.max_clock_jump)",
    )
    out = bench.finish(
        extra={
            "runs": [{k: v for k, v in r.items() if k not in ("acks", "_unused")} for r in runs],
            "absurd_clock_probe": probe,
            "faults_total": dict(sum((Counter(r["faults"]) for r in runs), Counter())),
            "ops_total": sum(r["ops"] for r in runs),
            "acked_total": sum(r["ok"] for r in runs),
        }
    )
    if not a.no_plot and runs:
        png = bench.out.with_suffix(".png") if a.out or bench.quick else RESULTS_DIR / "chaos.png"
        _plot(runs, png)
    return out


if __name__ == "__main__":
    main()
