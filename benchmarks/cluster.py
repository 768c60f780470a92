"""A 5-node cluster on loopback: throughput, convergence latency, write latency, idle cost, restart.

    python -m benchmarks.cluster            # full run
    python -m benchmarks.cluster --quick    # small run (CI)

Five ``sync.Node`` processes (separate OS processes, one data dir each on SQLite, the cluster key
on, the ``local`` preset) on 127.0.0.1, driven by this parent over their stdin/stdout (one JSON
command and one JSON reply a line). Phases:

1. **Saturation.** Every node runs ``writers`` concurrent tasks doing ``await cart.put(item, n)``
   (``WriteLocal``: acknowledged once durable locally) on random carts of a shared keyspace, as
   fast as they go, for ``duration`` seconds; then the parent waits until every node holds the
   same carts (a digest of every key and value). *Replicated updates/s* = acknowledged writes /
   (load time + drain time): what the cluster sustains including getting every write everywhere.
2. **Steady rate** at half of that: paced writes, each to a fresh entry of a per-writer map, so
   every node can record when it first saw each write; *convergence latency* of a write = the
   last node's first sight minus the origin's acknowledgement (all processes share the machine's
   monotonic clock).
3. **Write latency** of ``WriteTo(2)`` and ``WriteMajority()`` (sequential writes on one node).
4. **Idle**: CPU (% of a core, psutil) and bytes/s (the transport's counters) of each node with no
   load.
5. **Restart** of a node whose data dir holds 1,000,000 small carts (20,000 with --quick): the
   time from process start to ``async with Node(...)`` entered, then to its Merkle root (what a
   first catch-up needs) and of a first read, and its peak RSS. ``--restart-only`` runs this
   phase alone and merges it into the results file of the last full run; ``--skip-restart``
   runs the others and keeps that file's restart figures (``restart.command`` says which run
   measured them).
6. **Profile**: a shorter saturation run with cProfile on one node; its top functions by own time.
"""

from __future__ import annotations

import contextlib
import cProfile
import dataclasses
import io
import json
import os
import pstats
import random
import re
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------
# The node process
# ---------------------------------------------------------------------------------------------


def child(argv: list[str]) -> None:
    """``--child NAME DATA_DIR KEY_HEX SEEDS(comma) [RESEND_TIMEOUT]``: run a node, obey commands.
    ``DATA_DIR`` ``-``: the in-memory store (for comparison runs only)."""
    import anyio

    name, data_dir, key_hex, seeds = argv[:4]
    resend = float(argv[4]) if len(argv) > 4 else None
    t_start = time.monotonic()

    async def main() -> None:
        from crdts import AWLWWMap
        from sync import Node, NodeConfig, WriteMajority, WriteTo

        config = NodeConfig.local(
            name=name,
            bind="127.0.0.1:0",
            seeds=tuple(s for s in seeds.split(",") if s),
            data_dir=None if data_dir == "-" else data_dir,
            key=bytes.fromhex(key_hex),
        )
        if resend is not None:  # an A/B comparison; otherwise the preset's value
            config = config.with_(sync=dataclasses.replace(config.sync, resend_timeout=resend))
        out = sys.stdout
        stdin = anyio.wrap_file(sys.stdin)

        def reply(obj: dict[str, Any]) -> None:
            out.write(json.dumps(obj) + "\n")
            out.flush()

        async with Node(config) as node:
            entered = time.monotonic() - t_start
            seen: dict[str, float] = {}  # "origin:seq" -> first sight (steady phase)

            def on_change(change: Any) -> None:
                if change.origin is None:
                    return
                now = time.monotonic()
                for f in change.added:
                    if f not in seen:
                        seen[f] = now

            node.engine.subscribe(on_change, prefix="lat:")
            reply(
                {
                    "ready": node.address,
                    "entered_s": entered,
                    "cpu_s": time.process_time(),  # the process's CPU so far: load-robust
                    "objects": len(node.keys()),
                    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                }
            )
            prof: cProfile.Profile | None = None
            while True:
                line = await stdin.readline()
                if not line:
                    return
                cmd = json.loads(line)
                op = cmd["op"]
                if op == "quit":
                    reply({"ok": True})
                    return
                if op == "status":
                    reply(
                        {
                            "members": sum(1 for m in node.members() if m.state == "alive"),
                            "active": len(node.active_view),
                            "objects": len(node.keys()),
                            "metrics": _jsonable(node.metrics()),
                            "engine": {
                                k: v
                                for k, v in node.engine.metrics.as_dict().items()
                                if k not in ("peers", "total")
                            },
                        }
                    )
                elif op == "digest":
                    # The engine's own Merkle root (sum of canonical item hashes, maintained
                    # incrementally): equal on two nodes exactly when their keyspaces are, and
                    # cheap to poll (only keys changed since the last flush are hashed).
                    eng: Any = node.engine
                    eng._merkle.flush(eng._encoded_state)
                    root, n = eng._merkle.node(0, 0)
                    reply({"digest": f"{root:016x}", "objects": n})
                elif op == "read":  # one object's value (on a restarted node: decoded now)
                    t = time.monotonic()
                    value = node.get(cmd["key"], AWLWWMap).value
                    reply({"value": _jsonable(value), "s": time.monotonic() - t})
                elif op == "load":
                    reply(await _load(node, AWLWWMap, name, cmd))
                elif op == "profile_start":
                    prof = cProfile.Profile()
                    prof.enable()
                    reply({"ok": True})
                elif op == "profile_stop":
                    res: dict[str, Any] = {}
                    if prof is not None:
                        prof.disable()
                        for order, n in (("tottime", 35), ("cumulative", 60)):
                            buf = io.StringIO()
                            pstats.Stats(prof, stream=buf).sort_stats(order).print_stats(n)
                            res[order] = relpaths(buf.getvalue())
                        prof = None
                    reply(res)
                elif op == "seen":
                    reply({"seen": seen})
                    seen.clear()
                elif op == "latency":
                    level = WriteTo(2) if cmd["level"] == "to2" else WriteMajority()
                    cart = node.get("wlat:" + name, AWLWWMap)
                    lat: list[float] = []
                    timeouts = 0
                    budget_end = time.monotonic() + cmd.get("budget", 60.0)
                    for i in range(cmd["n"]):
                        if time.monotonic() > budget_end:
                            break  # bounded: a level that keeps timing out must not stall us
                        t = time.monotonic()
                        try:
                            await cart.put(f"i{i % 50}", i, consistency=level, timeout=2.0)
                        except Exception:
                            timeouts += 1
                            continue
                        lat.append(time.monotonic() - t)
                    reply({"lat": lat, "timeouts": timeouts})
                else:
                    reply({"error": f"unknown op {op!r}"})

    anyio.run(main)


async def _load(node: Any, kind: type, name: str, cmd: dict[str, Any]) -> dict[str, Any]:
    """Writers doing puts for ``duration`` s, at ``rate`` writes/s for the node (0: flat out)."""
    import anyio

    duration: float = cmd["duration"]
    writers: int = cmd["writers"]
    rate: float = cmd["rate"]
    keyspace: int = cmd["keyspace"]
    track: bool = cmd["track"]
    rng = random.Random(f"{name}-{cmd.get('seed', 0)}")
    acks: dict[str, float] = {}
    count = 0
    errors = 0
    lat: list[float] = []
    t0 = time.monotonic()
    deadline = t0 + duration
    seq = 0

    async def writer(w: int) -> None:
        nonlocal count, errors, seq
        i = 0
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            if rate:
                due = t0 + seq / rate  # one shared schedule: write i is due at t0 + i/rate
                seq += 1
                if due > now:
                    await anyio.sleep(due - now)
                    if time.monotonic() >= deadline:
                        return
            if track:
                i += 1
                field = f"{name}:{w}:{i}"
                cart = node.get(f"lat:{name}:{w}:{i % 16}", kind)
                value: Any = 1
            else:
                cart = node.get(f"cart:{rng.randrange(keyspace):06d}", kind)
                field = f"item{rng.randrange(8)}"
                value = rng.randrange(1000)
            t = time.monotonic()
            try:
                await cart.put(field, value)
            except Exception:
                errors += 1
                continue
            done = time.monotonic()
            count += 1
            if track:
                acks[field] = done
            if len(lat) < 20_000:
                lat.append(done - t)

    async with anyio.create_task_group() as tg:
        for w in range(writers):
            tg.start_soon(writer, w)
    elapsed = time.monotonic() - t0
    res: dict[str, Any] = {"writes": count, "errors": errors, "elapsed": elapsed, "lat": lat}
    if track:
        res["acks"] = acks
    return res


def relpaths(text: str) -> str:
    """Profile text without this machine's paths: files of the repository relative to it,
    installed packages from ``site-packages/``, the standard library as ``<stdlib>/``."""
    text = text.replace(str(ROOT) + "/", "")
    text = re.sub(r"[^\s(]*/site-packages/", "site-packages/", text)
    return re.sub(r"[^\s(]*/lib/python3\.\d+/", "<stdlib>/", text)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple | set | frozenset):
        return [_jsonable(v) for v in x]
    if isinstance(x, int | float | str | bool) or x is None:
        return x
    return repr(x)


# ---------------------------------------------------------------------------------------------
# The parent
# ---------------------------------------------------------------------------------------------


class Proc:
    """A node process and its command channel."""

    def __init__(
        self,
        name: str,
        data_dir: Path | None,
        key: bytes,
        seeds: str,
        resend_timeout: float | None = None,
    ) -> None:
        self.name = name
        where = "-" if data_dir is None else str(data_dir)
        args = [sys.executable, "-m", "benchmarks.cluster", "--child", name, where]
        args += [key.hex(), seeds]
        if resend_timeout is not None:
            args.append(str(resend_timeout))
        self.started = time.monotonic()
        self.p = subprocess.Popen(
            args,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.stderr: list[str] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        self.ready = self.read(timeout=600)
        if "ready" not in self.ready:
            raise RuntimeError(f"{name} failed to start: {self.ready}")
        self.ready_wall = time.monotonic() - self.started
        self.addr: str = self.ready["ready"]

    def _drain_stderr(self) -> None:
        assert self.p.stderr is not None
        for line in self.p.stderr:
            self.stderr.append(line)
            del self.stderr[:-200]

    def read(self, timeout: float = 300) -> dict[str, Any]:
        assert self.p.stdout is not None
        box: list[str] = []
        t = threading.Thread(target=lambda: box.append(self.p.stdout.readline()))  # type: ignore[union-attr]
        t.start()
        t.join(timeout)
        if not box or not box[0]:
            tail = "".join(self.stderr[-30:])
            raise RuntimeError(f"{self.name}: no reply within {timeout} s\n{tail}")
        result: dict[str, Any] = json.loads(box[0])
        return result

    def send(self, **cmd: Any) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(json.dumps(cmd) + "\n")
        self.p.stdin.flush()

    def call(self, timeout: float = 300, **cmd: Any) -> dict[str, Any]:
        self.send(**cmd)
        return self.read(timeout)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.call(timeout=15, op="quit")
        try:
            self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def start_cluster(
    tmp: Path | None, n: int, key: bytes, resend_timeout: float | None = None
) -> list[Proc]:
    """``n`` node processes (data dirs under ``tmp``; ``None``: in-memory stores)."""
    first = Proc("n0", None if tmp is None else tmp / "n0", key, "", resend_timeout)
    procs = [first]
    for i in range(1, n):
        d = None if tmp is None else tmp / f"n{i}"
        procs.append(Proc(f"n{i}", d, key, first.addr, resend_timeout))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = [p.call(op="status") for p in procs]
        if all(s["members"] == n and s["active"] >= 1 for s in st):
            return procs
        time.sleep(0.2)
    raise RuntimeError(f"the cluster did not form: {st}")


def parallel(procs: list[Proc], timeout: float = 600, **cmd: Any) -> list[dict[str, Any]]:
    """Send one command to every node at once, then collect the replies."""
    for p in procs:
        p.send(**cmd)
    return [p.read(timeout) for p in procs]


def wait_converged(procs: list[Proc], prefix: str, limit: float) -> tuple[float, bool]:
    """Seconds until every node's keyspace digest agrees (polling), and whether it did.
    (``prefix`` names the phase; the digest covers every object, all of which replicate.)"""
    t = time.monotonic()
    while True:
        ds = parallel(procs, op="digest", prefix=prefix)
        if len({d["digest"] for d in ds}) == 1:
            return time.monotonic() - t, True
        if time.monotonic() - t > limit:
            return time.monotonic() - t, False
        time.sleep(0.2)


def cpu_seconds(p: Proc) -> float:
    import psutil  # type: ignore[import-untyped]

    t = psutil.Process(p.p.pid).cpu_times()
    return float(t.user + t.system)


def _received_objects(procs: list[Proc]) -> int:
    """Objects received by all nodes so far (every copy, decoded or skipped as a repeat)."""
    return sum(p.call(op="status")["metrics"]["sync_total"]["recv_objects"] for p in procs)


def populate(path: Path, n: int) -> None:
    """A data dir holding ``n`` one-item carts, written the way a node writes them."""
    import crdts
    from crdts import AWLWWMap, HLCTimestamp
    from sync.storage import open_data_dir

    store, info = open_data_dir(path, "restart")
    rid = info.replica_id
    step = 50_000
    for lo in range(0, n, step):
        objs = {}
        for i in range(lo, min(n, lo + step)):
            m = AWLWWMap()
            m.put(rid, "apple", i % 10, HLCTimestamp(1_700_000_000_000 + i, 0, rid))
            objs[f"cart:{i:07d}"] = crdts.encode(m, canonical=True)  # as a node stores it
        store.commit(objs, {})
    store.close()


def percentile_of(xs: list[float], p: float) -> float:
    from benchmarks._harness import percentile

    return percentile(xs, p) if xs else float("nan")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--child":
        child(argv[1:])
        return
    from benchmarks._harness import RESULTS_DIR, Bench, median

    bench = Bench("cluster", description=__doc__ or "", argv=argv, add_arguments=_arguments)
    quick = bench.quick
    nodes = 5
    sat_s = 3.0 if quick else 15.0
    steady_s = 3.0 if quick else 15.0
    writers = bench.args.writers or (32 if quick else 64)
    keyspace = 2_000 if quick else 20_000
    lat_n = 30 if quick else 150
    idle_s = 3.0 if quick else 30.0
    restart_n = 20_000 if quick else 1_000_000
    if bench.args.restart_only:
        restart_only(bench, restart_n)
        return
    key = secrets.token_bytes(32)
    tmp = Path(tempfile.mkdtemp(prefix="deltamesh-bench-cluster-"))
    extra: dict[str, Any] = {"nodes": nodes, "loadavg_start": os.getloadavg()}
    procs: list[Proc] = []
    try:
        bench.log(f"starting {nodes} node processes")
        memory = bench.args.store == "memory"
        extra["store"] = bench.args.store
        resend = bench.args.resend_timeout
        extra["resend_timeout"] = resend
        procs = start_cluster(None if memory else tmp, nodes, key, resend)

        # 1. saturation
        bench.log(f"saturation: {writers} writers per node for {sat_s} s")
        # CPU seconds of the 5 node processes over load + drain, per write: what a replicated
        # write costs, a figure that holds up on a busy machine where updates/s does not
        cpu0 = [cpu_seconds(p) for p in procs]
        recv0 = _received_objects(procs)
        res = parallel(
            procs,
            op="load",
            duration=sat_s,
            writers=writers,
            rate=0,
            keyspace=keyspace,
            track=False,
            seed=1,
        )
        writes = sum(r["writes"] for r in res)
        load_s = max(r["elapsed"] for r in res)
        drain_s, ok = wait_converged(procs, "cart:", 120)
        cpu_s = sum(cpu_seconds(p) for p in procs) - sum(cpu0)
        recv = _received_objects(procs) - recv0
        acked_rate = writes / load_s
        sustained = writes / (load_s + drain_s)
        wl = [x for r in res for x in r["lat"]]
        bench.row(
            phase="saturation",
            writes=writes,
            load_s=round(load_s, 2),
            drain_s=round(drain_s, 2),
            converged=ok,
            acked_per_s=round(acked_rate),
            replicated_per_s=round(sustained),
            cpu_ms_per_write=round(1000 * cpu_s / max(writes, 1), 3),
            recv_objects_per_write=round(recv / max(writes, 1), 1),
            write_p50_ms=round(median(wl) * 1000, 2),
            write_p99_ms=round(percentile_of(wl, 99) * 1000, 2),
            errors=sum(r["errors"] for r in res),
        )
        extra["saturation"] = {
            "writes": writes,
            "load_s": load_s,
            "drain_s": drain_s,
            "converged": ok,
            "acked_per_s": acked_rate,
            "replicated_per_s": sustained,
            "cpu_s_nodes": cpu_s,
            "cpu_ms_per_write": 1000 * cpu_s / max(writes, 1),
            "objects_received": recv,
        }

        # 2. steady rate at half of saturation, with convergence latency
        rate = max(50.0, sustained / 2)
        bench.log(f"steady: {rate:.0f} writes/s cluster-wide for {steady_s} s")
        res = parallel(
            procs,
            op="load",
            duration=steady_s,
            writers=writers,
            rate=rate / nodes,
            keyspace=keyspace,
            track=True,
            seed=2,
        )
        drain2, ok2 = wait_converged(procs, "lat:", 120)
        seen = [p.call(op="seen")["seen"] for p in procs]
        conv: list[float] = []
        missing = 0
        for i, r in enumerate(res):
            for f, t_ack in r["acks"].items():
                ts = [s.get(f) for j, s in enumerate(seen) if j != i]
                if any(t is None for t in ts):
                    missing += 1
                    continue
                conv.append(max(0.0, max(t for t in ts if t is not None) - t_ack))
        writes2 = sum(r["writes"] for r in res)
        steady_rate = writes2 / max(r["elapsed"] for r in res)
        conv_p50 = percentile_of(conv, 50)
        conv_p99 = percentile_of(conv, 99)
        bench.row(
            phase="steady",
            writes=writes2,
            load_s=round(max(r["elapsed"] for r in res), 2),
            drain_s=round(drain2, 2),
            converged=ok2,
            acked_per_s=round(steady_rate),
            conv_p50_ms=round(conv_p50 * 1000, 1),
            conv_p99_ms=round(conv_p99 * 1000, 1),
            unseen=missing,
        )
        extra["steady"] = {
            "target_rate": rate,
            "rate": steady_rate,
            "writes": writes2,
            "convergence_p50_s": conv_p50,
            "convergence_p99_s": conv_p99,
            "convergence_max_s": max(conv) if conv else None,
            "unseen_writes": missing,
            "converged": ok2,
        }

        # 3. write latency with replica acknowledgements
        for level in ("to2", "majority"):
            r = procs[1].call(op="latency", level=level, n=lat_n, budget=20.0 if quick else 60.0)
            bench.row(
                phase=f"write_{level}",
                writes=len(r["lat"]),
                errors=r["timeouts"],
                write_p50_ms=round(percentile_of(r["lat"], 50) * 1000, 2),
                write_p99_ms=round(percentile_of(r["lat"], 99) * 1000, 2),
            )
            extra[f"write_{level}"] = {
                "p50_s": percentile_of(r["lat"], 50),
                "p99_s": percentile_of(r["lat"], 99),
                "timeouts": r["timeouts"],
            }

        # 4. idle cost
        time.sleep(2.0 if quick else 10.0)  # let catch-ups and acks settle
        before = [(cpu_seconds(p), p.call(op="status")["metrics"]["transport"]) for p in procs]
        t = time.monotonic()
        time.sleep(idle_s)
        after = [(cpu_seconds(p), p.call(op="status")["metrics"]["transport"]) for p in procs]
        span = time.monotonic() - t
        cpu = [100 * (a[0] - b[0]) / span for a, b in zip(after, before, strict=True)]
        bps = [
            (a[1]["bytes_out"] - b[1]["bytes_out"]) / span
            for a, b in zip(after, before, strict=True)
        ]
        bench.row(
            phase="idle",
            seconds=round(span, 1),
            cpu_pct_median=round(median(cpu), 2),
            cpu_pct_max=round(max(cpu), 2),
            bytes_out_per_s_median=round(median(bps)),
        )
        extra["idle"] = {"cpu_pct": cpu, "bytes_out_per_s": bps, "seconds": span}
        st = [p.call(op="status") for p in procs]
        extra["engine_counters"] = {
            "objects_received": sum(s["metrics"]["sync_total"]["recv_objects"] for s in st),
            "duplicates_skipped": sum(s["engine"].get("duplicates_skipped", 0) for s in st),
            "relays_held": sum(s["engine"].get("relays_held", 0) for s in st),
            "relays_released": sum(s["engine"].get("relays_released", 0) for s in st),
            "relays_late": sum(s["engine"].get("relays_late", 0) for s in st),
            "catchups_started": sum(s["engine"]["catchups_started"] for s in st),
            "catchup_objects_shipped": sum(s["engine"]["catchup_objects_shipped"] for s in st),
        }

        # 6. profile at saturation: load and drain, node n0 under cProfile
        bench.log("profile: a short saturation run (load + drain) with n0 under cProfile")
        procs[0].call(op="profile_start")
        res = parallel(
            procs,
            op="load",
            duration=min(sat_s, 5.0),
            writers=writers,
            rate=0,
            keyspace=keyspace,
            track=False,
            seed=3,
        )
        drain3, _ = wait_converged(procs, "cart:", 120)
        prof = procs[0].call(op="profile_stop")
        extra["profile"] = {
            "node": "n0",
            "writes_cluster": sum(r["writes"] for r in res),
            "writes_profiled_node": res[0]["writes"],
            "load_s": max(r["elapsed"] for r in res),
            "drain_s": drain3,
            **prof,
        }
    finally:
        for p in procs:
            p.stop()

    # 5. restart with restart_n objects on disk
    skip_restart = bench.args.skip_restart or bench.args.store == "memory"
    try:
        if not skip_restart:
            extra["restart"] = restart_phase(bench, tmp, key, restart_n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    extra["loadavg_end"] = os.getloadavg()
    sat = extra["saturation"]
    bench.goal(
        "replicated_updates_per_s",
        round(sat["replicated_per_s"]),
        ">= 20000",
        note="5 processes, SQLite + cluster key; acknowledged writes / (load + drain)",
    )
    bench.goal(
        "convergence_p99_s",
        round(extra["steady"]["convergence_p99_s"], 3),
        "< 1",
        note="at half of the saturation rate; last node's first sight - origin's ack",
    )
    if not skip_restart:
        restart_goal(bench, extra["restart"], restart_n)
    elif bench.args.store != "memory":
        keep_restart(bench, extra)
    plot(
        extra,
        (bench.out.parent if bench.args.out else RESULTS_DIR)
        / ("cluster.quick.png" if quick else "cluster.png"),
    )
    bench.finish(extra=extra)


def restart_phase(bench: Any, tmp: Path, key: bytes, restart_n: int) -> dict[str, Any]:
    """Phase 5: a node process restarted over a data dir of ``restart_n`` one-item carts: the
    time to ``Node`` entered, then to its Merkle root (what its first catch-up needs), and of a
    first read of one stored cart."""
    bench.log(f"restart: populating {restart_n:,} objects")
    populate(tmp / "restart", restart_n)
    rp = Proc("restart", tmp / "restart", key, "")
    try:
        t = time.monotonic()
        root = rp.call(timeout=600, op="digest")
        root_s = time.monotonic() - t
        read = rp.call(op="read", key=f"cart:{restart_n // 2:07d}")
        status = rp.call(op="status")
    finally:
        rp.stop()
    store = status["metrics"]["store"]
    bench.row(
        phase="restart",
        objects=rp.ready["objects"],
        start_s=round(rp.ready_wall, 2),
        node_enter_s=round(rp.ready["entered_s"], 2),
        start_cpu_s=round(rp.ready.get("cpu_s", float("nan")), 2),
        merkle_root_s=round(root_s, 2),
        first_read_ms=round(read["s"] * 1000, 2),
        peak_rss_mib=round(rp.ready["peak_rss_mib"]),
    )
    return {
        "objects": rp.ready["objects"],
        "process_start_to_ready_s": rp.ready_wall,
        "node_enter_s": rp.ready["entered_s"],
        "start_cpu_s": rp.ready.get("cpu_s"),
        "merkle_root_after_ready_s": root_s,
        "merkle_objects": root["objects"],
        "first_read_s": read["s"],
        "objects_not_decoded": store.get("objects_not_decoded"),
        "peak_rss_mib": rp.ready["peak_rss_mib"],
        "loadavg": os.getloadavg(),
    }


def restart_goal(bench: Any, restart: dict[str, Any], restart_n: int) -> None:
    scale = 1_000_000 / restart_n
    bench.goal(
        "restart_1m_s",
        round(restart["process_start_to_ready_s"] * scale, 1),
        "<= 60",
        note=f"process start to Node entered, {restart_n:,} objects, scaled to 1M",
    )


def keep_restart(bench: Any, extra: dict[str, Any]) -> None:
    """``--skip-restart``: the restart figures of the results file this run replaces are kept
    (row, goal and ``restart``, which says which run measured them), so that a run of the other
    phases does not drop them."""
    if not bench.out.exists():
        return
    prev = json.loads(bench.out.read_text())
    if "restart" not in prev or bench.quick != prev.get("quick"):
        return
    restart = dict(prev["restart"])
    restart.setdefault("command", prev.get("command"))
    extra["restart"] = restart
    bench.rows += [r for r in prev.get("rows", []) if r.get("phase") == "restart"]
    if "restart_1m_s" in prev.get("goals", {}):
        bench.goals["restart_1m_s"] = prev["goals"]["restart_1m_s"]


def restart_only(bench: Any, restart_n: int) -> None:
    """``--restart-only``: phase 5 alone, merged into the results file of the last full run
    (its restart figures, row and goal replaced; ``restart.command`` says how they were made)."""
    tmp = Path(tempfile.mkdtemp(prefix="deltamesh-bench-cluster-"))
    try:
        restart = restart_phase(bench, tmp, secrets.token_bytes(32), restart_n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    restart_goal(bench, restart, restart_n)
    restart["command"] = bench.command
    prev = json.loads(bench.out.read_text()) if bench.out.exists() else None
    written = bench.finish(extra={"restart": restart})
    if prev is None:
        return
    prev["goals"]["restart_1m_s"] = written["goals"]["restart_1m_s"]
    prev["rows"] = [r for r in prev.get("rows", []) if r.get("phase") != "restart"]
    prev["rows"] += written["rows"]
    prev["restart"] = restart
    bench.out.write_text(json.dumps(prev, indent=1, sort_keys=False, default=str) + "\n")
    print(f"merged the restart phase into {bench.out} (the other phases are its last full run)")


def _arguments(parser: Any) -> None:
    parser.add_argument(
        "--store",
        choices=["sqlite", "memory"],
        default="sqlite",
        help="the nodes' store (memory: only to compare, the goals are for sqlite)",
    )
    parser.add_argument(
        "--skip-restart",
        action="store_true",
        help="skip the restart phase (the results file's restart figures are kept)",
    )
    parser.add_argument(
        "--restart-only",
        action="store_true",
        help="only the restart phase, merged into the last full run's results file",
    )
    parser.add_argument(
        "--resend-timeout",
        type=float,
        default=None,
        help="override SyncConfig.resend_timeout of the nodes (default: the preset's)",
    )
    parser.add_argument("--writers", type=int, default=None, help="writer tasks per node")


def plot(extra: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    sat = extra["saturation"]
    st = extra["steady"]
    names = ["acked\n(saturation)", "replicated\n(saturation)", "steady"]
    vals = [sat["acked_per_s"], sat["replicated_per_s"], st["rate"]]
    a.bar(names, vals, color=["#88a", "#448", "#484"])
    a.axhline(20_000, color="r", ls="--", label="goal 20,000/s")
    a.set_ylabel("updates/s, cluster-wide")
    a.set_title("5 nodes on loopback (SQLite, cluster key)")
    a.legend()
    labels = ["convergence p50", "convergence p99", "WriteTo(2) p99", "majority p99"]
    ys = [
        st["convergence_p50_s"],
        st["convergence_p99_s"],
        extra["write_to2"]["p99_s"],
        extra["write_majority"]["p99_s"],
    ]
    b.bar(labels, [y * 1000 for y in ys], color="#a84")
    b.axhline(1000, color="r", ls="--", label="goal p99 < 1 s")
    b.set_ylabel("ms")
    b.set_title("latency")
    b.tick_params(axis="x", labelrotation=20)
    b.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
