"""The run loop the chaos run and the soak share: five node processes, a load, faults, the check.

:class:`ClusterRun` starts the ``benchmarks._chaos_node`` processes (SQLite data dirs, a cluster
key, a fault-injecting transport; or each in a network namespace of :mod:`benchmarks._chaos_netns`)
and waits for the cluster to form. :meth:`ClusterRun.execute` then runs a subclass's
:meth:`~ClusterRun.workload` and :meth:`~ClusterRun.nemesis` on two threads while the main thread
runs :meth:`~ClusterRun.during` (by default it just waits ``seconds``). After that every fault is
undone, every node is up, the writes in flight are settled, and once the states stop changing the
checker (:mod:`benchmarks._chaos_checker`) reads them all.

The fault primitives (kill -9 and restart, partitions, network faults) keep the nemesis's state
(:attr:`~ClusterRun.cuts`, :attr:`~ClusterRun.net`, :attr:`~ClusterRun.clock`) so that a restarted
node gets the faults still in force. :meth:`~ClusterRun.submit` records a write in the history and
settles it when the node replies.

:mod:`benchmarks.chaos` (a seeded nemesis of every fault, the workload at every node) and
:mod:`benchmarks.soak` (a steady paced load, one fault a minute, samples) are the two subclasses.
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
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from benchmarks._chaos_checker import History, Op, Report, check
from benchmarks._chaos_netns import Hosts

__all__ = ["NODES", "QUIESCE_MAX", "Child", "ClusterRun", "spawn"]

ROOT = Path(__file__).resolve().parents[1]
NODES = 5
QUIESCE_MAX = 120.0  # s to wait for equal states after the heal
NO_NET_FAULTS: dict[str, Any] = {"cmd": "faults", "loss": 0.0, "dup": 0.0, "delay": [0, 0]}


def spawn(
    module: str, args: Sequence[str], *, name: str, log_dir: Path, prefix: Sequence[str] = ()
) -> tuple[subprocess.Popen[str], IO[str], Path]:
    """``python -m module args`` run from the repository (behind ``prefix``, e.g. ``ip netns
    exec NS``): stdin and stdout piped as text lines, stderr into a log file of its own in
    ``log_dir``. Returns the process, the open log and its path. The chaos run's node processes
    and the tests' (``tests/sync/node/_runner.py``) start this way."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}-{time.monotonic_ns()}.log"
    log: IO[str] = log_path.open("w")
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        bufsize=1,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return proc, log, log_path


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
        args = ["--name", name, "--bind", bind]
        args += ["--data-dir", str(data_dir), "--key-file", str(key_file)]
        args += ["--fault-seed", str(fault_seed)]
        for s in seeds:
            args += ["--seed", s]
        self.proc, self._log, self.log_path = spawn(
            "benchmarks._chaos_node", args, name=name, log_dir=log_dir, prefix=prefix
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


class ClusterRun:
    """One seeded run of the cluster: the processes, the fault state, the history, the check.

    Subclasses give :meth:`workload` and :meth:`nemesis` (each runs on its own thread until
    ``stop`` is set) and may replace :meth:`during` (the main thread's part)."""

    # after the faults: restart a node that exited on its own too (not only the nemesis's kills)
    restart_unbidden = False

    def __init__(
        self,
        seed: int,
        seconds: float,
        workdir: Path,
        log: Any,
        hosts: Hosts | None = None,
    ) -> None:
        self.seed = seed
        # in network namespaces: loss and partitions by the kernel (see _chaos_netns)
        self.hosts = hosts
        self.seconds = seconds
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
        self.faults: Counter[str] = Counter()  # faults applied, by kind
        self.spans: list[tuple[str, float, float]] = []  # (fault, start, end) for the plot
        self._id = 0
        self._idlock = threading.Lock()
        self.key = self.dir / "cluster.key"
        self.key.write_text(os.urandom(32).hex() + "\n")
        self.key.chmod(0o600)
        self.unbidden: list[str] = []
        self.cuts: list[tuple[str, list[str], str]] = []  # (from, to, direction) in force
        self.net: dict[str, Any] | None = None  # the network faults in force
        self.clock: dict[str, float] = {}  # clock offsets in force (s)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def next_id(self) -> int:
        with self._idlock:
            self._id += 1
            return self._id

    # -- what a subclass gives -----------------------------------------------------------------

    def workload(self, stop: threading.Event) -> None:
        raise NotImplementedError

    def nemesis(self, stop: threading.Event) -> None:
        raise NotImplementedError

    def during(self, stop: threading.Event) -> None:
        """The main thread's part while the workload and the faults run: wait ``seconds``."""
        stop.wait(self.seconds)

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

    # -- the faults, kept so that a restarted node gets those still in force --------------------

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

    def partition(self, cuts: list[tuple[str, list[str], str]]) -> None:
        """The transports drop what crosses ``cuts`` ((from, to, "both" or "out") each)."""
        self.cuts = cuts
        for src, dsts, direction in cuts:
            self.control(src, self._partition_cmd(dsts, direction))

    def heal_partitions(self) -> None:
        self.cuts = []
        if self.hosts is not None:
            self.hosts.heal()
        for n in self.names:
            self.control(n, {"cmd": "heal"})

    def set_net(self, net: dict[str, Any]) -> None:
        """Loss, duplication and delay (``{"loss", "dup", "delay": [lo, hi]}``) on every node;
        in namespaces the kernel drops, the transport wrapper delays and duplicates."""
        self.net = net
        if self.hosts is not None:
            self.hosts.set_loss(net["loss"])
            net["loss"] = 0.0
        for n in self.names:
            self.control(n, {"cmd": "faults", **net})

    def clear_net(self) -> None:
        self.net = None
        if self.hosts is not None:
            self.hosts.set_loss(0.0)
        for n in self.names:
            self.control(n, NO_NET_FAULTS)

    # -- the workload ----------------------------------------------------------------------------

    def submit(
        self,
        name: str,
        cmd: dict[str, Any],
        settled: Callable[[Op, str, dict[str, Any], float], None],
    ) -> None:
        """Send the write ``cmd`` (its ``id`` set here) to ``name``, recorded in the history;
        ``settled(op, status, reply, at)`` runs under the history's lock once it is settled."""
        cmd["id"] = self.next_id()
        with self.hlock:
            op = self.history.invoke(
                name, cmd["op"], cmd["obj"], cmd.get("key", ""), cmd.get("value"), at=self.now()
            )

        def done(reply: dict[str, Any]) -> None:
            at = self.now()
            with self.hlock:
                settled(op, self.history.settle(op, reply, at=at), reply, at)

        self.children[name].send(cmd, done)

    # -- the whole run ---------------------------------------------------------------------------

    def execute(self, *, tolerance: float = 0.0) -> tuple[Report, dict[str, Any], float, float]:
        """Start, load and fault for ``seconds``, heal, check: (the checker's report, the final
        states, seconds until they were stable, when the writes stopped)."""
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
            self.during(stop)
            stop.set()
            for t in threads:
                t.join(timeout=60)
            end_writes = self.now()
            self.heal_all()
            self.drain_writes()
            finals, quiesce = self.quiesce()
            with self.hlock:
                report = check(self.history, finals, tolerance=tolerance)
            return report, finals, quiesce, end_writes
        finally:
            for c in self.children.values():
                c.stop()

    def heal_all(self) -> None:
        """Every node up, every fault undone (partitions, network faults, clocks, disks)."""
        for n in self.names:
            child = self.children[n]
            if not child.alive and (child.killed or self.restart_unbidden):
                self.restart(n, wiped=False)
        if self.hosts is not None:
            self.hosts.heal()
            self.hosts.set_loss(0.0)
        for n in self.names:
            self.control(n, {"cmd": "heal"})
            self.control(n, NO_NET_FAULTS)
            self.control(n, {"cmd": "clock", "offset": 0.0})
            self.control(n, {"cmd": "disk_full", "on": False})
            self.control(n, {"cmd": "disk_readonly", "on": False})

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
