"""The soak: 5 Node processes under steady load and periodic faults, sampled every 10 s.

``python -m benchmarks.soak [--minutes 60] [--rate 20] [--sample 10] [--fault-every 60]``

The cluster of :mod:`benchmarks.chaos` (the same node processes: SQLite data dirs, cluster key,
fault-injecting transport) gets a steady write load over a *bounded* keyspace (64 map keys, one
counter, a set drawing from 200 elements), so that anything that keeps growing is a leak, not
data. Every ``--fault-every`` seconds the nemesis does one of: kill -9 a node and restart it
2 s later, cut one node off for 5 s, 20 % packet loss for 10 s. Every ``--sample`` seconds it
records per node: RSS and open fds (from ``/proc``), the delta buffer (entries awaiting acks),
each object's encoded size and causal-context runs; the write latency of the window (p50,
p99: invoke to acknowledgement, local durability or the level asked for); and a convergence
latency (a marker put at one node, polled on every other until all read it).

Goals: after the warm-up (the first quarter of the samples), no growth trend: the least-squares
slope of each series, extrapolated to an hour, stays under a bound relative to its mean (RSS,
fds, buffer, context runs), and the checker finds 0 violations at the end. Plots in
``results/soak.png``. ``--quick``: 1 minute. The issue's full run is one hour.
"""

from __future__ import annotations

import os
import random
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._chaos_checker import Op
from benchmarks._chaos_run import NODES, ClusterRun
from benchmarks._harness import RESULTS_DIR, Bench, percentile

ELEMENTS = 200
MAP_KEYS = 64


def _proc(pid: int) -> tuple[int, int]:
    """(RSS KiB, open fds) of a process, (0, 0) if gone."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            rss = next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, ValueError):
        return 0, 0


def slope_per_hour(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys over xs (seconds), times 3600."""
    if len(xs) < 3:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return (
        0.0
        if den == 0
        else 3600 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den
    )


class Soak(ClusterRun):
    """The soak's run: a paced load, one fault every ``--fault-every`` s, samples meanwhile."""

    restart_unbidden = True  # at the end: every node up, whatever took it down

    def __init__(self, args: Any, workdir: Path, log: Any, minutes: float) -> None:
        super().__init__(args.first_seed, minutes * 60, workdir, log)
        self.a = args
        self.samples: list[dict[str, Any]] = []
        self.latencies: list[tuple[float, float]] = []  # (ack time, latency s)
        self.lock = threading.Lock()

    def _issue_soak(self, name: str, counter: int) -> None:
        rng = self.rng
        r = rng.random()
        level = "local" if r < 0.8 else "to2"
        k = rng.random()
        cmd: dict[str, Any]
        if k < 0.45:
            key = f"k{rng.randrange(MAP_KEYS)}"
            if rng.random() < 0.2:
                cmd = {"op": "remove", "obj": "m", "key": key}
            else:
                cmd = {"op": "put", "obj": "m", "key": key, "value": f"{name}.{counter}"}
        elif k < 0.7:
            cmd = {"op": "incr", "obj": "c", "value": rng.choice([1, 2, -1])}
        else:
            elem = f"e{rng.randrange(ELEMENTS)}"
            cmd = {"op": rng.choice(["add", "discard"]), "obj": "s", "key": elem}
        cmd["level"] = level

        def settled(op: Op, status: str, reply: dict[str, Any], at: float) -> None:
            if status == "ok":
                self.latencies.append((at, at - op.invoked))

        self.submit(name, cmd, settled)

    def workload(self, stop: threading.Event) -> None:
        counter = 0
        gap = 1.0 / self.a.rate
        nxt = time.monotonic()
        while not stop.is_set():
            live = [n for n in self.names if self.children[n].alive]
            if live:
                name = self.rng.choice(live)
                if self.children[name].in_flight() < 8:
                    counter += 1
                    self._issue_soak(name, counter)
            nxt += gap
            stop.wait(max(0.0, nxt - time.monotonic()))

    def nemesis(self, stop: threading.Event) -> None:
        i = 0
        while not stop.wait(self.a.fault_every):
            victim = self.rng.choice(self.names)
            kind = ("kill", "isolate", "loss")[i % 3]
            i += 1
            start = self.now()
            if kind == "kill":
                self.kill(victim, wipe=False)
                stop.wait(2.0)
                self.restart(victim, wiped=False)
            elif kind == "isolate":
                others = [n for n in self.names if n != victim]
                self.partition([(victim, others, "both")] + [(o, [victim], "both") for o in others])
                stop.wait(5.0)
                self.heal_partitions()
            else:
                self.set_net({"loss": 0.2, "dup": 0.0, "delay": [0.0, 0.0]})
                stop.wait(10.0)
                self.clear_net()
            self.faults[kind] += 1
            self.spans.append((kind, start, self.now()))

    def convergence(self, i: int) -> float | None:
        """A marker put at one node; seconds until every node reads it (None: not in 15 s)."""
        live = [n for n in self.names if self.children[n].alive]
        if len(live) < NODES:
            return None
        writer = self.rng.choice(live)
        value = f"conv.{i}"
        t0 = time.monotonic()
        r = self.control(writer, {"op": "put", "obj": "probe", "key": "conv", "value": value})
        if r is None or r.get("status") != "ok":
            return None
        pending = set(live) - {writer}
        while pending and time.monotonic() - t0 < 15.0:
            for n in list(pending):
                got = self.control(n, {"cmd": "read", "obj": "probe", "key": "conv"})
                if got is not None and got.get("value") == value:
                    pending.discard(n)
            if pending:
                time.sleep(0.05)
        return None if pending else time.monotonic() - t0

    def sample(self, i: int) -> dict[str, Any]:
        t = self.now()
        nodes: dict[str, Any] = {}
        for n in self.names:
            child = self.children[n]
            rss, fds = _proc(child.proc.pid) if child.alive else (0, 0)
            sizes = self.control(n, {"cmd": "sizes"}) or {}
            objs = sizes.get("objects", {})
            nodes[n] = {
                "rss_kib": rss,
                "fds": fds,
                "pending_deltas": sizes.get("pending_deltas"),
                "bytes": {k: v["bytes"] for k, v in objs.items()},
                "context_runs": {k: v["context_runs"] for k, v in objs.items()},
            }
        with self.hlock:
            window = [lat for at, lat in self.latencies if t - self.a.sample <= at <= t]
        conv = self.convergence(i)
        return {
            "t": round(t, 1),
            "nodes": nodes,
            "writes": len(window),
            "write_p50_ms": round(1000 * percentile(window, 50), 2) if window else None,
            "write_p99_ms": round(1000 * percentile(window, 99), 2) if window else None,
            "convergence_s": None if conv is None else round(conv, 3),
        }

    def during(self, stop: threading.Event) -> None:
        """Sample every ``--sample`` s until the run's time is up."""
        i = 0
        while self.now() < self.seconds:
            time.sleep(max(0.0, (i + 1) * self.a.sample - self.now()))
            s = self.sample(i)
            self.samples.append(s)
            self.log(
                f"t={s['t']}s rss={[v['rss_kib'] // 1024 for v in s['nodes'].values()]} MiB "
                f"writes={s['writes']} p99={s['write_p99_ms']} ms conv={s['convergence_s']} s"
            )
            i += 1

    def soak(self) -> dict[str, Any]:
        report, _, _, _ = self.execute()
        return {"violations": len(report.violations), "ops": report.ops, "ok": report.ok,
                "first": [v.detail for v in report.violations[:5]]}  # fmt: skip


def _trend(samples: list[dict[str, Any]], pick: Any) -> tuple[float, float]:
    """(mean, slope per hour) of a per-sample value after the warm-up quarter."""
    warm = samples[len(samples) // 4 :]
    xs = [s["t"] for s in warm]
    ys = [float(pick(s)) for s in warm]
    if not ys:
        return 0.0, 0.0
    return statistics.fmean(ys), slope_per_hour(xs, ys)


def _plot(samples: list[dict[str, Any]], spans: list[Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    ts = [s["t"] for s in samples]
    names = sorted(samples[0]["nodes"]) if samples else []
    for n in names:
        axes[0][0].plot(ts, [s["nodes"][n]["rss_kib"] / 1024 for s in samples], label=n)
        axes[0][1].plot(ts, [s["nodes"][n]["fds"] for s in samples], label=n)
        axes[1][0].plot(
            ts,
            [sum(s["nodes"][n]["context_runs"].values()) for s in samples],
            label=f"{n} ctx runs",
        )
    axes[1][0].plot(
        ts, [sum((v["pending_deltas"] or 0) for v in s["nodes"].values()) for s in samples],
        color="black", label="delta buffer (all)",
    )  # fmt: skip
    axes[1][1].plot(ts, [s["write_p50_ms"] or 0 for s in samples], label="write p50 ms")
    axes[1][1].plot(ts, [s["write_p99_ms"] or 0 for s in samples], label="write p99 ms")
    axes[1][1].plot(ts, [1000 * (s["convergence_s"] or 0) for s in samples], label="convergence ms")
    for ax, title in zip(
        [axes[0][0], axes[0][1], axes[1][0], axes[1][1]],
        ["RSS (MiB)", "open fds", "causal-context runs, delta buffer", "latency (ms)"],
        strict=True,
    ):
        ax.set_title(title)
        ax.set_xlabel("s")
        ax.legend(fontsize=6)
        for kind, s0, s1 in spans:
            ax.axvspan(
                s0, s1, alpha=0.08, color={"kill": "red", "isolate": "orange"}.get(kind, "blue")
            )
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    def add(p: Any) -> None:
        p.add_argument("--minutes", type=float, default=60.0)
        p.add_argument("--rate", type=float, default=20.0, help="writes per second (all nodes)")
        p.add_argument("--sample", type=float, default=10.0, help="s between samples")
        p.add_argument("--fault-every", type=float, default=60.0, help="s between faults")
        p.add_argument("--first-seed", type=int, default=1)
        p.add_argument("--no-plot", action="store_true")

    bench = Bench("soak", description=__doc__, argv=argv, add_arguments=add)
    a = bench.args
    minutes = 1.0 if bench.quick else a.minutes
    if bench.quick:
        a.fault_every = min(a.fault_every, 15.0)
    wd = Path(tempfile.mkdtemp(prefix="soak-"))
    soak = Soak(a, wd, bench.log, minutes)
    random.seed(a.first_seed)
    end = soak.soak()
    samples = soak.samples
    shutil.rmtree(wd, ignore_errors=True)
    series = {
        "rss_kib_max": lambda s: max(v["rss_kib"] for v in s["nodes"].values()),
        "fds_max": lambda s: max(v["fds"] for v in s["nodes"].values()),
        "delta_buffer_total": lambda s: sum(
            (v["pending_deltas"] or 0) for v in s["nodes"].values()
        ),
        "context_runs_max": lambda s: max(
            (sum(v["context_runs"].values()) for v in s["nodes"].values()), default=0
        ),
        "state_bytes_max": lambda s: max(
            (sum(v["bytes"].values()) for v in s["nodes"].values()), default=0
        ),
    }
    for name, pick in series.items():
        mean, slope = _trend(samples, pick)
        rel = slope / mean if mean else 0.0
        bench.row(series=name, mean_after_warmup=round(mean, 1), slope_per_hour=round(slope, 1),
                  growth_per_hour=f"{100 * rel:.1f}%")  # fmt: skip
        bench.goal(f"{name}_growth_per_hour", round(rel, 4), "<= 0.10",
                   note="least-squares slope after warm-up / mean")  # fmt: skip
    # latency stable: no trend after warm-up either (a looser bound: it follows the machine's load)
    for name, key in (("write_p99_ms", "write_p99_ms"), ("convergence_s", "convergence_s")):
        timed = [s for s in samples if s[key] is not None]
        mean, slope = _trend(timed, lambda s, key=key: s[key])
        rel = slope / mean if mean else 0.0
        bench.row(series=name, mean_after_warmup=round(mean, 3), slope_per_hour=round(slope, 3),
                  growth_per_hour=f"{100 * rel:.1f}%")  # fmt: skip
        bench.goal(f"{name}_growth_per_hour", round(rel, 4), "<= 0.50",
                   note="least-squares slope after warm-up / mean")  # fmt: skip
    p99 = [s["write_p99_ms"] for s in samples if s["write_p99_ms"] is not None]
    conv = [s["convergence_s"] for s in samples if s["convergence_s"] is not None]
    bench.row(
        series="write_p99_ms (median of samples)",
        mean_after_warmup=statistics.median(p99) if p99 else None,
    )
    bench.row(
        series="convergence_s (median of samples)",
        mean_after_warmup=statistics.median(conv) if conv else None,
    )
    bench.goal("violations", end["violations"], "<= 0")
    bench.goal("minutes", round(soak.now() / 60, 2), f">= {minutes * 0.95:.2f}")
    out = bench.finish(extra={"samples": samples, "end": end, "faults": dict(soak.faults),
                              "spans": soak.spans})  # fmt: skip
    if not a.no_plot and samples:
        png = bench.out.with_suffix(".png") if a.out or bench.quick else RESULTS_DIR / "soak.png"
        _plot(samples, soak.spans, png)
    return out


if __name__ == "__main__":
    main()
