"""SWIM + Lifeguard measured against the papers (simulator) and against kinship (real sockets).

``python -m benchmarks.swim`` runs, in order (``--quick`` shrinks every part):

1. load: messages per member per protocol period, no failures, n in {8, 32, 128, 1000};
2. time to first detection of a crash over many seeds, vs SWIM's ``T' / (1 - 1/e)``;
3. dissemination: periods until every member knows of an update, vs log n;
4. false positives with slow members (n = 100, C slow members of handling delay D), plain SWIM vs
   full Lifeguard, and the detection latency of real crashes in the same runs;
5. 10% packet loss, 17 members joining one after another: do all stay members?
6. real sockets: N nodes as OS processes on loopback, ``kill -9`` one; our detection vs the
   simulator's prediction and vs kinship in the same run (``benchmarks/_swim_real.py``).

Parts 1-5 run in ``gossip.sim``; part 6 needs the real transport and host.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks._harness import Bench, median, percentile
from benchmarks._swim_real import bench_real
from gossip import Effect, Event, PacketReceived, ProtocolCore, SetTimer, StreamReceived, TimerFired
from gossip.sim import EmitRecord, LinkModel, NodeContext, SimConfig, Simulator
from gossip.swim import (
    MemberDead,
    MemberJoined,
    MemberSuspected,
    SwimConfig,
    SwimCore,
)
from gossip.swim._messages import Tag

T_PRIME = 1.0  # s, the LAN protocol period
FIRST_DETECTION = 1 / (1 - math.exp(-1))  # SWIM: expected periods to first detection


def names(n: int) -> list[str]:
    return [f"n{i}" for i in range(n)]


class SlowCore:
    """Wraps a member so that it handles every incoming message ``delay`` seconds late.

    Lifeguard's slow member: its messages sit in a queue for D before being processed (the
    paper injected such delays). Each message is delayed independently (a latency, not a
    throughput cap: ``Simulator.set_slow``'s FIFO model instead makes a member with D = 8 s handle
    one message per 8 s, which is a dead member by any measure).
    """

    protocol = "swim"

    def __init__(self, inner: SwimCore, delay: float) -> None:
        self.inner = inner
        self.delay = delay
        self._held: dict[int, Event] = {}
        self._n = 0

    def start(self, now: float) -> list[Effect]:
        return self.inner.start(now)

    def handle(self, event: Event, now: float) -> list[Effect]:
        if (
            isinstance(event, TimerFired)
            and isinstance(event.key, tuple)
            and event.key[:1] == ("slow-held",)
        ):
            held = self._held.pop(event.key[1], None)
            return [] if held is None else self.inner.handle(held, now)
        if self.delay > 0 and isinstance(event, PacketReceived | StreamReceived):
            self._n += 1
            self._held[self._n] = event
            return [SetTimer(("slow-held", self._n), now + self.delay)]
        return self.inner.handle(event, now)


class Run:
    """A simulated cluster bootstrapped with full membership (no join storm) and an event log."""

    def __init__(
        self,
        n: int,
        seed: int,
        cfg: SwimConfig,
        link: LinkModel | None = None,
        watch: Callable[[EmitRecord], None] | None = None,
        slow: dict[str, float] | None = None,
        trace: bool = False,
    ) -> None:
        self.events: list[EmitRecord] = []
        self.watch = watch
        sim_cfg = SimConfig.scale(link or LinkModel.lan())
        if trace:  # every datagram kept (small runs only): the phases of a detection
            sim_cfg = SimConfig(link=sim_cfg.link, trace=True, record_emits=False)
        self.sim = Simulator(seed=seed, config=sim_cfg, on_emit=self._on_emit)
        all_names = names(n)

        slow = slow or {}

        def factory(ctx: NodeContext) -> list[ProtocolCore]:
            core = SwimCore(ctx.addr, cfg, ctx.rng, known=all_names)
            if ctx.addr in slow:
                return [SlowCore(core, slow[ctx.addr])]
            return [core]

        for a in all_names:
            self.sim.add_node(a, factory)

    def _on_emit(self, rec: EmitRecord) -> None:
        if isinstance(rec.event, MemberJoined):
            return  # not needed, and many at start-up
        self.events.append(rec)
        if self.watch is not None:
            self.watch(rec)

    def core(self, a: str) -> SwimCore:
        c = self.sim.core(a, "swim")
        inner: SwimCore = c.inner if isinstance(c, SlowCore) else c
        return inner


# -- 1. load -------------------------------------------------------------------------------------


def bench_load(bench: Bench, sizes: list[int], periods: int) -> dict[str, Any]:
    cfg = SwimConfig.lan()
    out: dict[str, Any] = {}
    for n in bench.progress(sizes, "load"):
        run = Run(n, seed=n, cfg=cfg)
        run.sim.run_for(5.0)  # let the staggered timers settle
        m0 = run.sim.metrics()
        s0 = sum(run.core(a).stats["packets_sent"] for a in names(n))
        run.sim.run_for(periods * T_PRIME)
        m1 = run.sim.metrics()
        s1 = sum(run.core(a).stats["packets_sent"] for a in names(n))
        per = n * periods
        sent = (m1.get("swim", "sent_msgs") - m0.get("swim", "sent_msgs")) / per
        recv = (m1.get("swim", "recv_msgs") - m0.get("swim", "recv_msgs")) / per
        packets = (s1 - s0) / per
        bytes_ = (m1.get("swim", "sent_bytes") - m0.get("swim", "sent_bytes")) / per
        false = sum(isinstance(r.event, MemberSuspected | MemberDead) for r in run.events)
        bench.row(
            part="1 load",
            case="no failures",
            n=n,
            runs=1,
            result=f"per member per period: sent {sent:.3f} recv {recv:.3f} msgs "
            f"({packets:.3f} datagrams, {bytes_:.0f} B) over {periods} periods; "
            f"{false} suspicions",
        )
        out[str(n)] = {"sent": sent, "recv": recv, "datagrams": packets, "bytes": bytes_}
    sents = [v["sent"] for v in out.values()]
    bench.goal(
        "load_flat_in_n_max_over_min",
        round(max(sents) / min(sents), 3),
        "<= 1.25",
        note="messages sent per member per period, largest over smallest across n",
    )
    bench.goal(
        "load_sent_per_member_period",
        round(max(sents), 3),
        "<= 2.5",
        note="the paper: about 2 (one ping, one ack) per member per period",
    )
    return out


# -- 2. time to first detection -----------------------------------------------------------------


def bench_first_detection(bench: Bench, sizes: list[int], seeds: int) -> dict[str, Any]:
    cfg = SwimConfig.lan()
    out: dict[str, Any] = {}
    for n in sizes:
        periods: list[float] = []
        for seed in bench.progress(range(seeds), f"detect n={n}"):
            first: list[float] = []

            def watch(rec: EmitRecord, first: list[float] = first) -> None:
                if isinstance(rec.event, MemberSuspected) and rec.event.addr == "n0" and not first:
                    first.append(rec.time)

            run = Run(n, seed=1000 * n + seed, cfg=cfg, watch=watch)
            # Crash at a random moment once the staggered probe timers are running.
            crash_at = 5.0 + random.Random(seed).uniform(0, T_PRIME)
            run.sim.run_until(crash_at)
            run.sim.crash("n0")

            def detected(first: list[float] = first) -> bool:
                return bool(first)

            run.sim.run_until_true(detected, 30.0 * T_PRIME)
            if first:
                # The suspicion comes at the end of the detecting probe's period, so the number of
                # whole periods from the crash is SWIM's K (geometric, mean 1 / (1 - 1/e)).
                periods.append(math.floor((first[0] - crash_at) / T_PRIME))
        mean = statistics.fmean(periods)
        bench.row(
            part="2 first detection",
            case="crash of 1",
            n=n,
            runs=len(periods),
            result=f"mean {mean:.3f} periods (paper {FIRST_DETECTION:.3f}), "
            f"p99 {percentile(periods, 99)}",
        )
        out[str(n)] = {"mean_periods": mean, "runs": len(periods), "samples": periods}
    worst = max(abs(v["mean_periods"] / FIRST_DETECTION - 1) for v in out.values())
    bench.goal(
        "first_detection_mean_within_10pct_of_paper",
        round(worst, 4),
        "<= 0.10",
        note="largest |mean / (1/(1-1/e)) - 1| over n; periods of T' = 1 s",
    )
    return out


# -- 3. dissemination ---------------------------------------------------------------------------


def _fit_log(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least squares ``y = a + b * x``: (a, b, R^2)."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    a = my - b * mx
    ss_res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - my) ** 2 for y in ys) or 1e-12
    return a, b, 1 - ss_res / ss_tot


def bench_dissemination(bench: Bench, sizes: list[int], seeds: int) -> dict[str, Any]:
    """Periods until every member has an update, with memberlist's dedicated gossip (every 0.2 s
    to 3 members) and with piggybacking on probes alone (the SWIM paper's dissemination)."""
    variants = {
        "gossip": SwimConfig.lan(),
        "piggyback_only": SwimConfig(gossip_interval=0.0, push_pull_interval=0.0),
    }
    out: dict[str, Any] = {}
    for variant, cfg in variants.items():
        out[variant] = {}
        for n in bench.progress(sizes, f"dissemination {variant}"):
            samples: list[float] = []
            missed = 0
            for seed in range(seeds):
                run = Run(n, seed=7 * n + seed, cfg=cfg)
                run.sim.run_for(5.0)
                start = run.sim.now
                run.sim.call("n0", "swim", partial(run.core("n0").update_meta, b"v2"))
                cores = [run.core(a) for a in names(n)]

                def everyone_knows(cores: list[SwimCore] = cores) -> bool:
                    return all(c.member("n0").incarnation >= 1 for c in cores)  # type: ignore[union-attr]

                # Infection-style spread can die out before reaching everyone (each member
                # sends an update only retransmit_limit times); then only push-pull repairs it.
                if run.sim.run_until_true(everyone_knows, 60.0):
                    samples.append((run.sim.now - start) / T_PRIME)
                else:
                    missed += 1
            med = median(samples)
            bench.row(
                part="3 dissemination",
                case=variant,
                n=n,
                runs=seeds,
                result=f"median {med:.2f} periods, max {max(samples):.2f}; "
                f"{missed} runs not everyone within 60 s",
            )
            out[variant][str(n)] = {"median_periods": med, "samples": samples, "missed": missed}
        xs = [math.log2(int(k)) for k in out[variant]]
        ys = [v["median_periods"] for v in out[variant].values()]
        a, b, r2 = _fit_log(xs, ys)
        out[variant]["fit"] = {"a": a, "b_per_log2n": b, "r2": r2}
        bench.goal(
            f"dissemination_{variant}_fits_log_n_r2",
            round(r2, 4),
            ">= 0.9",
            note=f"median periods = {a:.2f} + {b:.3f} * log2 n over n in {sizes}",
        )
    return out


# -- 4. false positives with slow members --------------------------------------------------------


def fp_run(
    cfg: SwimConfig, n: int, c: int, d: float, seed: int, duration: float, crashes: int
) -> dict[str, Any]:
    slow = [f"n{i}" for i in range(1, c + 1)]
    run = Run(n, seed=seed, cfg=cfg, slow=dict.fromkeys(slow, d))
    victims = [f"n{n - 1 - i}" for i in range(crashes)]  # healthy members that really crash
    crash_times: dict[str, float] = {}
    spacing = duration / (crashes + 1)
    for i, v in enumerate(victims):
        t = 10.0 + (i + 1) * spacing

        def do_crash(v: str = v, t: float = t) -> None:
            crash_times[v] = t
            run.sim.crash(v)

        run.sim.schedule(t, do_crash)
    run.sim.run_until(10.0 + duration + 60.0)
    slow_set, victim_set = set(slow), set(victims)
    counts = {
        "false_dead": 0,  # a healthy member (neither slow nor crashed) declared dead, anywhere
        "false_dead_by_healthy": 0,  # ... by a healthy member
        "false_suspicions": 0,  # a healthy member suspected, anywhere
        "slow_declared_dead": 0,  # a slow member declared dead (impaired, not counted as false)
    }
    first_dead: dict[str, float] = {}
    for r in run.events:
        ev = r.event
        if isinstance(ev, MemberDead):
            if ev.addr in crash_times:
                if r.node not in slow_set:
                    first_dead.setdefault(ev.addr, r.time - crash_times[ev.addr])
            elif ev.addr in slow_set:
                counts["slow_declared_dead"] += 1
            elif ev.addr not in victim_set:
                counts["false_dead"] += 1
                counts["false_dead_by_healthy"] += r.node not in slow_set
        elif isinstance(ev, MemberSuspected) and ev.addr not in slow_set | victim_set:
            counts["false_suspicions"] += 1
    return {**counts, "detection_latencies": sorted(first_dead.values())}


def bench_false_positives(
    bench: Bench, n: int, cs: list[int], ds: list[float], duration: float, crashes: int
) -> dict[str, Any]:
    modes = {"swim": SwimConfig.lan().without_lifeguard(), "lifeguard": SwimConfig.lan()}
    out: dict[str, Any] = {}
    cases = [(c, d) for c in cs for d in ds]
    fp_total = dict.fromkeys(modes, 0)
    susp_total = dict.fromkeys(modes, 0)
    lat_total: dict[str, list[float]] = {m: [] for m in modes}
    for c, d in bench.progress(cases, "false positives"):
        for mode, cfg in modes.items():
            r = fp_run(cfg, n, c, d, seed=int(100 * c + 10 * d), duration=duration, crashes=crashes)
            out[f"{mode} C={c} D={d}"] = r
            fp_total[mode] += r["false_dead"]
            susp_total[mode] += r["false_suspicions"]
            lat_total[mode] += r["detection_latencies"]
            lat = r["detection_latencies"]
            med = f"{median(lat):.2f} s" if lat else "-"
            bench.row(
                part="4 false positives",
                case=f"{mode} C={c} D={d}",
                n=n,
                runs=1,
                result=f"false dead {r['false_dead']} (by healthy {r['false_dead_by_healthy']}),"
                f" false suspicions {r['false_suspicions']}, slow declared dead "
                f"{r['slow_declared_dead']}; crashes detected {len(lat)}/{crashes}, median {med}",
            )
    swim_fp, lg_fp = fp_total["swim"], fp_total["lifeguard"]
    ratio = swim_fp / max(1, lg_fp)
    bench.goal(
        "lifeguard_false_positive_reduction",
        round(ratio, 2),
        ">= 50",
        note=f"false dead declarations, all 9 (C, D) cases: SWIM {swim_fp}, Lifeguard {lg_fp} "
        "(a Lifeguard count of 0 is divided as 1)",
    )
    ms, ml = median(lat_total["swim"]), median(lat_total["lifeguard"])
    bench.goal(
        "lifeguard_median_detection_latency_ratio",
        round(ml / ms, 3),
        "<= 1.2",
        note=f"median crash-to-first-dead at a healthy member: SWIM {ms:.2f} s, "
        f"Lifeguard {ml:.2f} s",
    )
    out["totals"] = {
        m: {
            "false_dead": fp_total[m],
            "false_suspicions": susp_total[m],
            "median_detection_s": median(lat_total[m]),
        }
        for m in modes
    }
    return out


# -- 5. joins under loss ------------------------------------------------------------------------


def bench_joins_under_loss(bench: Bench, seeds: int) -> dict[str, Any]:
    n, cfg = 17, SwimConfig.lan()
    ok = 0
    per_seed = []
    for seed in bench.progress(range(seeds), "joins under loss"):
        events: list[EmitRecord] = []
        sim = Simulator(
            seed=seed,
            config=SimConfig(
                link=LinkModel(latency=0.001, loss=0.1), trace=False, record_emits=False
            ),
            on_emit=events.append,
        )

        def factory(ctx: NodeContext) -> list[SwimCore]:
            return [SwimCore(ctx.addr, cfg, ctx.rng, seeds=["n0"])]

        for i, a in enumerate(names(n)):

            def add(a: str = a, sim: Simulator = sim) -> None:
                sim.add_node(a, factory)

            sim.schedule(2.0 * i, add)
        sim.run_until(2.0 * n + 60.0)
        want = set(names(n))
        views = [set(sim.core(a, SwimCore).alive()) for a in names(n)]
        all_in = all(v == want for v in views)
        deaths = sum(isinstance(r.event, MemberDead) for r in events)
        ok += all_in and deaths == 0
        per_seed.append({"seed": seed, "all_members": all_in, "dead_events": deaths})
    bench.row(
        part="5 joins under loss",
        case="10% loss, 2 s apart",
        n=n,
        runs=seeds,
        result=f"{ok}/{seeds} runs: all stay members",
    )
    bench.goal(
        "joins_under_loss_all_stay_members",
        ok / seeds,
        ">= 1.0",
        note=f"{ok}/{seeds} runs: 17 members joining 2 s apart at 10% loss, all alive in every "
        "view 60 s after the last join, no dead event",
    )
    return {"runs": per_seed}


# -- 6. real sockets (benchmarks/_swim_real.py) ----------------------------------------------


def sim_prediction(n: int, seeds: int) -> dict[str, float]:
    """The simulator's answer for the same scenario: crash one of n; at each survivor the time
    to its first suspicion and to dead; and the phases of a detection (medians over crashes):
    the first ping of the victim after the crash (chance: whose turn comes first), the probe
    (ping, probe timeout, ping-reqs, nacks) until the first member's own suspicion, the
    suspicion timeout until the first dead, and the spread of dead to the last survivor."""
    lats: list[float] = []
    sus: list[float] = []
    firsts: list[float] = []
    phases: dict[str, list[float]] = {"first_ping": [], "probe": [], "suspicion": [], "spread": []}
    for seed in range(seeds):
        t_crash = 20.0 + random.Random(seed).uniform(0, 1)
        run = Run(n, seed=50_000 + seed, cfg=SwimConfig.lan(), trace=True)
        run.sim.run_until(t_crash)
        run.sim.crash("n1")
        run.sim.run_until(t_crash + 90.0)
        dead: dict[str, float] = {}
        suspected: dict[str, float] = {}
        own: list[float] = []
        for r in run.events:
            if getattr(r.event, "addr", None) != "n1":
                continue
            if isinstance(r.event, MemberDead):
                dead.setdefault(r.node, r.time - t_crash)
            elif isinstance(r.event, MemberSuspected):
                suspected.setdefault(r.node, r.time - t_crash)
                if r.event.by == r.node:
                    own.append(r.time - t_crash)
        lats += dead.values()
        sus += suspected.values()
        if suspected:
            firsts.append(min(suspected.values()))
        ping = bytes([Tag.PING])
        pings = [
            ev.time - t_crash
            for ev in run.sim.trace
            if ev.kind == "send"
            and ev.time >= t_crash
            and ev.detail[:2] == ("packet", "n1")
            and isinstance(ev.detail[2], bytes)
            and ev.detail[2][:1] == ping
        ]
        if pings and own and dead:
            phases["first_ping"].append(min(pings))
            phases["probe"].append(min(own) - min(pings))
            phases["suspicion"].append(min(dead.values()) - min(own))
            phases["spread"].append(max(dead.values()) - min(dead.values()))
    return {
        **{f"phase_{k}_p50_s": median(v) for k, v in phases.items()},
        "dead_p50_s": median(lats),
        "dead_p99_s": percentile(lats, 99),
        "suspect_p50_s": median(sus),
        "suspect_p99_s": percentile(sus, 99),
        "first_suspect_p50_s": median(firsts),
        "samples": len(lats),
    }


# -- plots --------------------------------------------------------------------------------------


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(16, 8))
    load = results["load"]
    ns = [int(k) for k in load]
    ax = axes[0][0]
    ax.plot(ns, [load[str(k)]["sent"] for k in ns], "o-", label="sent")
    ax.plot(ns, [load[str(k)]["recv"] for k in ns], "s--", label="received")
    ax.axhline(2.0, color="grey", lw=0.8, label="paper (~2)")
    ax.set_xscale("log")
    ax.set_ylim(0, 4)
    ax.set_xlabel("members n")
    ax.set_ylabel("messages / member / period")
    ax.set_title("1. load, no failures")
    ax.legend()

    ax = axes[0][1]
    det = results["first_detection"]
    for k, v in det.items():
        samples = v["samples"]
        ks = range(1, max(samples) + 1)
        ax.plot(
            list(ks),
            [sum(1 for s in samples if s == x) / len(samples) for x in ks],
            "o-",
            label=f"n={k}",
        )
    p = 1 - math.exp(-1)
    ax.plot(
        list(range(1, 8)),
        [p * (1 - p) ** (k - 1) for k in range(1, 8)],
        "k--",
        label="geometric(1-1/e)",
    )
    ax.set_xlabel("protocol periods to first detection")
    ax.set_ylabel("fraction of runs")
    ax.set_title("2. time to first detection")
    ax.legend()

    ax = axes[1][0]
    for variant, dis in results["dissemination"].items():
        ns = [int(k) for k in dis if k != "fit"]
        ax.plot(
            [math.log2(k) for k in ns],
            [dis[str(k)]["median_periods"] for k in ns],
            "o-",
            label=variant.replace("_", " "),
        )
    ax.legend()
    ax.set_xlabel("log2 n")
    ax.set_ylabel("median periods until all know")
    ax.set_title("3. dissemination of an update")

    ax = axes[1][1]
    fp = {k: v for k, v in results["false_positives"].items() if k != "totals"}
    labels = sorted({k.split(" ", 1)[1] for k in fp})
    x = range(len(labels))
    ax.bar(
        [i - 0.2 for i in x],
        [fp[f"swim {lb}"]["false_dead"] + 0.1 for lb in labels],
        0.4,
        label="SWIM",
    )
    ax.bar(
        [i + 0.2 for i in x],
        [fp[f"lifeguard {lb}"]["false_dead"] + 0.1 for lb in labels],
        0.4,
        label="Lifeguard",
    )
    ax.set_yscale("log")
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
    ax.set_ylabel("false dead declarations (+0.1)")
    ax.set_title("4. false positives, n=100, slow members")
    ax.legend()

    ax = axes[0][2]
    real = results.get("real")
    if real:
        for impl, style in zip(real["impls"], ("-", "--", ":"), strict=False):
            for key, what in (("suspect_latency_s", "first suspicion"), ("dead_latency_s", "dead")):
                xs = sorted(real[impl][key])
                if xs:
                    ys = [(i + 1) / len(xs) for i in range(len(xs))]
                    ax.step(xs, ys, style, where="post", label=f"{impl}: {what}")
        ax.set_xlabel("s after kill -9, at each survivor")
        ax.set_ylabel("fraction of survivors")
        ax.set_title(f"6. real sockets, n={real['ours']['n']}, {real['ours']['kills']} kills each")
        ax.legend(fontsize=8)
    else:
        ax.axis("off")
    axes[1][2].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-real", action="store_true", help="skip part 6 (real sockets)")
    p.add_argument(
        "--real-only",
        action="store_true",
        help="run part 6 only and merge it into the recorded results file (parts 1-5, the "
        "simulator, are kept from the run that recorded them)",
    )
    p.add_argument("--real-nodes", type=int, default=12, help="processes in part 6")
    p.add_argument("--real-kills", type=int, default=3, help="kill -9 repetitions in part 6")
    p.add_argument("--real-idle", type=float, default=60.0, help="s of idle measurement, part 6")
    p.add_argument(
        "--real-impls",
        default="ours,kinship,memberlist",
        help="implementations in part 6, comma-separated (ours first)",
    )
    p.add_argument(
        "--real-rounds", type=int, default=1, help="fresh clusters per implementation, part 6"
    )


def main() -> None:
    bench = Bench(
        "swim",
        description="SWIM + Lifeguard against the papers (simulator) and kinship (sockets)",
        add_arguments=add_arguments,
    )
    q = bench.quick
    if bench.args.real_only:
        _real_only(bench)
        return
    results: dict[str, Any] = {}
    bench.log("1. load")
    results["load"] = bench_load(bench, [8, 32, 128] if q else [8, 32, 128, 1000], 10 if q else 30)
    bench.log("2. first detection")
    results["first_detection"] = bench_first_detection(
        bench, [16, 64] if q else [16, 64, 256], 20 if q else 200
    )
    bench.log("3. dissemination")
    results["dissemination"] = bench_dissemination(
        bench, [8, 32, 128] if q else [8, 32, 128, 512], 3 if q else 20
    )
    bench.log("4. false positives")
    results["false_positives"] = bench_false_positives(
        bench,
        n=40 if q else 100,
        cs=[1, 4] if q else [1, 4, 16],
        ds=[0.5, 2.0] if q else [0.5, 2.0, 8.0],
        duration=60.0 if q else 240.0,
        crashes=2 if q else 4,
    )
    bench.log("5. joins under loss")
    results["joins_under_loss"] = bench_joins_under_loss(bench, 2 if q else 10)
    if not bench.args.no_real:
        bench.log("6. real sockets vs kinship and memberlist")
        n = 8 if q else bench.args.real_nodes
        results["real"] = bench_real(bench, sim_prediction(n, 10 if q else 40))
    png = bench.out.with_suffix(".png")
    plot(results, png)
    bench.finish(extra={"results": results, "plot": png.name, "reduced": q})


def _real_only(bench: Bench) -> None:
    """Part 6 alone, merged into the recorded file: its rows, goals and results replace the
    recorded part 6; parts 1-5 (simulator runs that take most of an hour) stay as recorded,
    and ``merged_into`` names the run they came from."""
    try:
        recorded = json.loads(bench.out.read_text())
    except (OSError, ValueError):
        raise SystemExit(
            f"--real-only merges into {bench.out}: run the whole benchmark first"
        ) from None
    n = 8 if bench.quick else bench.args.real_nodes
    bench.log("6. real sockets vs kinship and memberlist")
    real = bench_real(bench, sim_prediction(n, 10 if bench.quick else 40))
    kept_rows = [r for r in recorded["rows"] if not str(r.get("part", "")).startswith("6")]
    bench.rows[:0] = kept_rows
    bench.goals = {
        **{k: v for k, v in recorded["goals"].items() if not k.startswith("real_")},
        **bench.goals,
    }
    results = dict(recorded["results"], real=real)
    png = bench.out.with_suffix(".png")
    plot(results, png)
    bench.finish(
        extra={
            "results": results,
            "plot": png.name,
            "reduced": recorded.get("reduced", False),
            "merged_into": {
                "command": recorded["command"],
                "wall_seconds": recorded["wall_seconds"],
                "parts_kept": "1-5",
            },
        }
    )


if __name__ == "__main__":
    main()
