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
0 violations is the goal. The run loop (processes, heal, settle, check) is
:mod:`benchmarks._chaos_run`'s, shared with :mod:`benchmarks.soak`; this module gives the workload,
the nemesis and the summary.

Writes the table (faults, operations, violations per run), ``results/chaos.json`` with the goals
and ``results/chaos.png`` (the first run's timeline and the per-run counts). Also probes an
absurd clock jump (a day ahead) on an in-process Node: is it refused?
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks._chaos_checker import NOT_SEEN, Op, Report
from benchmarks._chaos_netns import Hosts
from benchmarks._chaos_run import NODES, ClusterRun
from benchmarks._harness import RESULTS_DIR, Bench

MAP_KEYS = 16  # keys of the map: few, so writes to one key collide across nodes
IN_FLIGHT = 3  # writes outstanding per node
# the acknowledgement asked for: WriteLocal, WriteTo(2), WriteMajority, WriteAll
LEVELS = ("local", "to2", "majority", "all")
LEVEL_CUM = (0.6, 0.8, 0.9, 1.0)  # cumulative shares: 60 %, 20 %, 10 %, 10 %


class Run(ClusterRun):
    """One seeded chaos run: the workload at every node, the nemesis of every fault, the check."""

    def __init__(
        self,
        seed: int,
        seconds: float,
        skew: float,
        workdir: Path,
        log: Any,
        hosts: Hosts | None = None,
    ) -> None:
        super().__init__(seed, seconds, workdir, log, hosts)
        self.skew = skew
        self.acks: list[float] = []  # ack times (s since start)
        self.elements: list[str] = []  # set elements added so far
        self.fail_errors: Counter[str] = Counter()
        self.info_errors: Counter[str] = Counter()
        self.levels: Counter[str] = Counter()  # "level:status" (and "level:replicated": >= 2)
        self.disk_faults: list[tuple[str, str, float]] = []  # (node, kind, end of the fault)

    # -- the workload ----------------------------------------------------------------------------

    def _issue(self, name: str, counter: int) -> None:
        rng = self.rng
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

        def settled(op: Op, status: str, reply: dict[str, Any], at: float) -> None:
            self.levels[f"{level}:{status}"] += 1
            if status == "ok":
                self.acks.append(at)
                if op.replicas >= 2:
                    self.levels[f"{level}:replicated"] += 1
            else:  # grouped by message: the run's temporary directory left out
                error = str(reply.get("error")).replace(str(self.dir), "<run dir>")[:120]
                (self.fail_errors if status == "fail" else self.info_errors)[error] += 1

        self.submit(name, cmd, settled)

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
                self.faults["net"] += 1
                self.set_net(
                    {
                        "loss": rng.uniform(0.0, 0.3),
                        "dup": rng.uniform(0.0, 0.1),
                        "delay": [0.0, rng.uniform(0.0, 0.05)],
                    }
                )
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
                    cuts = [(a, side_b, "both") for a in side_a]
                    cuts += [(b, side_a, "both") for b in side_b]
                else:  # one node cannot send to some others (they still reach it)
                    src, dsts = names[0], names[1 : 1 + rng.randint(1, NODES - 1)]
                    cuts = [(src, dsts, "out")]
                if hosts is None:
                    self.partition(cuts)
                else:  # the kernel's (they hold across restarts by themselves): a pulled
                    # cable, two bridges, an nftables output rule
                    if action == "oneway":
                        hosts.one_way(src, dsts)
                    elif len(side_a) == 1:
                        hosts.cut(side_a[0])
                    else:
                        hosts.split(side_a)
                undo = self.heal_partitions

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
                self.clear_net()
            self.spans.append((action, start, self.now()))

    # -- the whole run ---------------------------------------------------------------------------

    def go(self) -> dict[str, Any]:
        report, finals, quiesce, end_writes = self.execute(tolerance=2 * self.skew + 0.5)
        return self.summary(report, finals, quiesce, end_writes)

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
