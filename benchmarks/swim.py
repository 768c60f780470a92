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
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks._harness import Bench, median, percentile
from gossip import Effect, Event, PacketReceived, ProtocolCore, SetTimer, StreamReceived, TimerFired
from gossip.sim import EmitRecord, LinkModel, NodeContext, SimConfig, Simulator
from gossip.swim import (
    MemberDead,
    MemberJoined,
    MemberSuspected,
    SwimConfig,
    SwimCore,
)

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
    ) -> None:
        self.events: list[EmitRecord] = []
        self.watch = watch
        self.sim = Simulator(
            seed=seed, config=SimConfig.scale(link or LinkModel.lan()), on_emit=self._on_emit
        )
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


# -- 6. real sockets: our members and kinship's, one OS process per member -------------------

BASE_PORT = {"ours": 27100, "kinship": 27300}
BENCH_KEY = bytes(range(100, 132))


def worker(argv: list[str]) -> None:
    """One member in its own process: ``_worker IMPL INDEX PORT SEED_PORT [KEY]``.

    Prints JSON lines on stdout: ``{"ev": "suspect"|"dead"|"alive", "who": i, "t": unix time}``
    for membership changes and ``{"stats": ..., "t": ...}`` once a second.
    """
    impl, index, port, seed_port = argv[0], int(argv[1]), int(argv[2]), int(argv[3])

    def say(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    if impl == "kinship":
        _kinship_worker(index, port, seed_port, argv[4], say)
    else:
        import anyio

        anyio.run(_our_worker, index, port, seed_port, say)


async def _our_worker(
    index: int, port: int, seed_port: int, say: Callable[[dict[str, Any]], None]
) -> None:
    import anyio

    from gossip.runtime import Host
    from gossip.swim import MemberRecovered
    from gossip.transport import Keyring, NetTransport, TransportConfig

    def who(addr: str) -> int:
        return int(addr.rsplit(":", 1)[1]) - BASE_PORT["ours"]

    async with NetTransport(
        TransportConfig.lan(host="127.0.0.1", port=port),
        keyring=Keyring([BENCH_KEY], cluster="swim-bench"),
        epoch=1,
    ) as transport:
        seeds = [] if port == seed_port else [f"127.0.0.1:{seed_port}"]
        core = SwimCore(transport.local_addr, SwimConfig.lan(), random.Random(index), seeds=seeds)

        def on_event(ev: object) -> None:
            kind = {MemberSuspected: "suspect", MemberDead: "dead", MemberRecovered: "alive"}
            name = kind.get(type(ev))
            if name is not None:
                obj: dict[str, Any] = {"ev": name, "who": who(ev.addr), "t": time.time()}  # type: ignore[attr-defined]
                if isinstance(ev, MemberSuspected):
                    obj["own"] = ev.by == core.addr  # our own probe, not gossip
                    obj["aw"] = core.awareness
                say(obj)

        async with Host(transport, [core], on_event=on_event):
            while True:
                await anyio.sleep(1.0)
                say(
                    {
                        "stats": {
                            "rx": core.stats["packets_received"],
                            "tx": core.stats["packets_sent"],
                            "members": len(core.alive()),
                            "aw": core.awareness,
                        },
                        "t": time.time(),
                    }
                )


def _kinship_worker(
    index: int, port: int, seed_port: int, key: str, say: Callable[[dict[str, Any]], None]
) -> None:
    import kinship
    from kinship.blocking import Cluster

    seeds = [] if port == seed_port else [f"127.0.0.1:{seed_port}"]
    cfg = kinship.Config.lan(name=f"k{index}", bind=f"127.0.0.1:{port}", seeds=seeds, keys=[key])
    kind = {kinship.MemberSuspect: "suspect", kinship.MemberDead: "dead"}
    kind[kinship.MemberRecovered] = "alive"
    with Cluster(cfg) as cluster:
        last = 0.0
        for ev in cluster.events(timeout=1.0):
            name = kind.get(type(ev)) if ev is not None else None
            if name is not None:
                say({"ev": name, "who": int(ev.member.name[1:]), "t": time.time()})  # type: ignore[union-attr]
            if time.time() - last >= 1.0:
                last = time.time()
                st = cluster.stats()
                members = sum(1 for m in cluster.members() if m.state.name.lower() == "alive")
                say(
                    {
                        "stats": {
                            "rx": st.packets_received,
                            "tx": st.probes_sent,
                            "members": members,
                        },
                        "t": last,
                    }
                )


class _Proc:
    def __init__(self, impl: str, index: int, key: str) -> None:
        port = BASE_PORT[impl] + index
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.swim",
            "_worker",
            impl,
            str(index),
            str(port),
            str(BASE_PORT[impl]),
            key,
        ]
        self.p = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=Path(__file__).resolve().parent.parent,
        )
        self.index = index
        self.events: list[dict[str, Any]] = []
        self.stats: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                (self.stats if "stats" in obj else self.events).append(obj)

    def last_stats(self) -> dict[str, Any] | None:
        with self.lock:
            return self.stats[-1] if self.stats else None

    def cpu(self) -> float:
        import psutil  # type: ignore[import-untyped]

        t = psutil.Process(self.p.pid).cpu_times()
        return float(t.user + t.system)

    def kill(self) -> None:
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGKILL)
        self.p.wait(timeout=10)


def _wait(pred: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return pred()


def real_scenario(bench: Bench, impl: str, n: int, kills: int, idle: float) -> dict[str, Any]:
    """Start ``n`` members, measure ``idle`` seconds, then ``kill -9`` members one at a time."""
    import kinship._kinship as kk

    key = kk.generate_key() if impl == "kinship" else "-"
    procs = [_Proc(impl, 0, key)]
    time.sleep(1.0)
    procs += [_Proc(impl, i, key) for i in range(1, n)]
    try:

        def converged() -> bool:
            return all(
                (s := p.last_stats()) is not None and s["stats"]["members"] == n for p in procs
            )

        ok = _wait(converged, 60.0)
        bench.log(f"{impl}: {n} members converged: {ok}")
        time.sleep(5.0)  # let join gossip drain
        # Idle cost: CPU fraction and datagrams per second per member; false positives.
        ev0 = sum(len(p.events) for p in procs)
        cpu0, rx0, t0 = [p.cpu() for p in procs], [p.last_stats() for p in procs], time.time()
        time.sleep(idle)
        cpu1, rx1, t1 = [p.cpu() for p in procs], [p.last_stats() for p in procs], time.time()
        idle_false = sum(len(p.events) for p in procs) - ev0
        fracs = [(b - a) / (t1 - t0) for a, b in zip(cpu0, cpu1, strict=True)]
        cpu_frac = statistics.median(fracs)
        # the mean is less coarse than the median: CPU times come in 10 ms ticks
        cpu_mean = statistics.fmean(fracs)
        rates = [
            (b["stats"]["rx"] - a["stats"]["rx"]) / (b["t"] - a["t"])
            for a, b in zip(rx0, rx1, strict=True)
            if a is not None and b is not None and b["t"] > a["t"]
        ]
        rx_rate = statistics.median(rates) if rates else float("nan")
        # Failures: kill -9 one member at a time; every survivor must mark it dead.
        alive = list(procs)
        dead_lat: list[float] = []
        suspect_lat: list[float] = []
        first_suspect: list[float] = []  # per kill: the earliest suspicion at any survivor
        all_marked = 0
        for k in range(kills):
            victim = alive[len(alive) // 2 + k % 3]
            alive.remove(victim)
            marks = [len(p.events) for p in alive]
            t_kill = time.time()
            victim.kill()

            def everyone(victim: _Proc = victim, marks: list[int] = marks) -> bool:
                return all(
                    any(e["ev"] == "dead" and e["who"] == victim.index for e in p.events[m:])
                    for p, m in zip(alive, marks, strict=True)
                )

            done = _wait(everyone, 90.0)
            all_marked += done
            this_kill: list[float] = []
            for p, m in zip(alive, marks, strict=True):
                evs = [e for e in p.events[m:] if e["who"] == victim.index]
                d = [e["t"] - t_kill for e in evs if e["ev"] == "dead"]
                s_ = [e["t"] - t_kill for e in evs if e["ev"] == "suspect"]
                if d:
                    dead_lat.append(min(d))
                if s_:
                    this_kill.append(min(s_))
            suspect_lat += this_kill
            if this_kill:
                first_suspect.append(min(this_kill))
            time.sleep(3.0)
        wrong = sum(
            1
            for p in alive
            for e in p.events
            if e["ev"] == "dead" and e["who"] in {q.index for q in alive}
        )
    finally:
        for p in procs:
            p.kill()
    return {
        "n": n,
        "converged": ok,
        "idle_s": idle,
        "idle_cpu_fraction_median": cpu_frac,
        "idle_cpu_fraction_mean": cpu_mean,
        "idle_datagrams_received_per_s_median": rx_rate,
        "idle_membership_events": idle_false,
        "kills": kills,
        "kills_marked_dead_by_all": all_marked,
        "healthy_declared_dead": wrong,
        "dead_latency_s": sorted(dead_lat),
        "suspect_latency_s": sorted(suspect_lat),
        "first_suspect_s": first_suspect,
    }


def _merge_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One impl's rounds as one result: latencies pooled, counts summed, idle figures the median
    of the rounds' medians."""
    out = dict(rounds[0])
    for key in ("dead_latency_s", "suspect_latency_s"):
        out[key] = sorted(x for r in rounds for x in r[key])
    out["first_suspect_s"] = [x for r in rounds for x in r["first_suspect_s"]]
    for key in ("kills", "kills_marked_dead_by_all", "healthy_declared_dead"):
        out[key] = sum(r[key] for r in rounds)
    out["idle_membership_events"] = sum(r["idle_membership_events"] for r in rounds)
    for key in (
        "idle_cpu_fraction_median",
        "idle_cpu_fraction_mean",
        "idle_datagrams_received_per_s_median",
    ):
        out[key] = statistics.median(r[key] for r in rounds)
    out["converged"] = all(r["converged"] for r in rounds)
    out["rounds"] = len(rounds)
    return out


def _p50_p99(xs: list[float]) -> str:
    return f"p50 {median(xs):.2f} s p99 {percentile(xs, 99):.2f} s" if xs else "none"


def sim_prediction(n: int, seeds: int) -> dict[str, float]:
    """The simulator's answer for the same scenario: crash one of n; at each survivor the time
    to its first suspicion and to dead."""
    lats: list[float] = []
    sus: list[float] = []
    firsts: list[float] = []
    for seed in range(seeds):
        t_crash = 20.0 + random.Random(seed).uniform(0, 1)
        run = Run(n, seed=50_000 + seed, cfg=SwimConfig.lan())
        run.sim.run_until(t_crash)
        run.sim.crash("n1")
        run.sim.run_until(t_crash + 90.0)
        dead: dict[str, float] = {}
        suspected: dict[str, float] = {}
        for r in run.events:
            if getattr(r.event, "addr", None) != "n1":
                continue
            if isinstance(r.event, MemberDead):
                dead.setdefault(r.node, r.time - t_crash)
            elif isinstance(r.event, MemberSuspected):
                suspected.setdefault(r.node, r.time - t_crash)
        lats += dead.values()
        sus += suspected.values()
        if suspected:
            firsts.append(min(suspected.values()))
    return {
        "dead_p50_s": median(lats),
        "dead_p99_s": percentile(lats, 99),
        "suspect_p50_s": median(sus),
        "suspect_p99_s": percentile(sus, 99),
        "first_suspect_p50_s": median(firsts),
        "samples": len(lats),
    }


def bench_real(bench: Bench) -> dict[str, Any]:
    n, kills, idle = bench.args.real_nodes, bench.args.real_kills, bench.args.real_idle
    if bench.quick:
        n, kills, idle = min(n, 8), 1, 5.0
    rounds = 1 if bench.quick else bench.args.real_rounds
    out: dict[str, Any] = {"prediction": sim_prediction(n, 10 if bench.quick else 40)}
    # Rounds alternate which implementation goes first, so a drift in the shared machine's load
    # falls on both alike.
    per: dict[str, list[dict[str, Any]]] = {"ours": [], "kinship": []}
    for rnd in range(rounds):
        for impl in ("ours", "kinship") if rnd % 2 == 0 else ("kinship", "ours"):
            bench.log(f"round {rnd + 1}/{rounds}: {impl}")
            per[impl].append(real_scenario(bench, impl, n, kills, idle))
    for impl in ("ours", "kinship"):
        out[impl] = r = _merge_rounds(per[impl])
        total = r["kills"]
        bench.row(
            part="6 real sockets",
            case=impl,
            n=n,
            runs=total,
            result=f"dead at survivors {_p50_p99(r['dead_latency_s'])}; first suspicion at "
            f"survivors {_p50_p99(r['suspect_latency_s'])}; earliest suspicion per kill p50 "
            f"{median(r['first_suspect_s']) if r['first_suspect_s'] else float('nan'):.2f} s"
            f"; {r['kills_marked_dead_by_all']}/{total} kills marked dead by all; idle CPU "
            f"{100 * r['idle_cpu_fraction_median']:.3f}% of a core "
            f"(mean {100 * r['idle_cpu_fraction_mean']:.3f}%), "
            f"{r['idle_datagrams_received_per_s_median']:.2f} datagrams/s received; "
            f"{r['idle_membership_events']} idle events",
        )
    pred = out["prediction"]
    bench.row(
        part="6 real sockets",
        case="simulator prediction",
        n=n,
        runs=pred["samples"],
        result=f"dead at survivors p50 {pred['dead_p50_s']:.2f} s p99 {pred['dead_p99_s']:.2f} s"
        f"; first suspicion at survivors p50 {pred['suspect_p50_s']:.2f} s p99 "
        f"{pred['suspect_p99_s']:.2f} s; earliest suspicion per crash p50 "
        f"{pred['first_suspect_p50_s']:.2f} s",
    )
    ours, kin = out["ours"], out["kinship"]
    if ours["dead_latency_s"] and kin["dead_latency_s"]:
        bench.goal(
            "real_detection_p50_vs_kinship",
            round(median(ours["dead_latency_s"]) / median(kin["dead_latency_s"]), 3),
            "<= 1.0",
            note=f"dead at every survivor, p50: ours {median(ours['dead_latency_s']):.2f} s, "
            f"kinship {median(kin['dead_latency_s']):.2f} s ({ours['kills']} kills each); first "
            f"suspicion p50: ours {median(ours['suspect_latency_s']):.2f} s, kinship "
            f"{median(kin['suspect_latency_s']):.2f} s",
        )
    bench.goal(
        "real_every_survivor_marks_dead",
        ours["kills_marked_dead_by_all"] / ours["kills"],
        ">= 1.0",
        note=f"{ours['kills_marked_dead_by_all']}/{ours['kills']} kill -9 detected by every "
        "survivor",
    )
    bench.goal(
        "real_idle_cpu_vs_kinship",
        round(ours["idle_cpu_fraction_median"] / max(kin["idle_cpu_fraction_median"], 1e-9), 3),
        "<= 2.0",
        note=f"median CPU fraction per member: ours {100 * ours['idle_cpu_fraction_median']:.3f}%"
        f", kinship {100 * kin['idle_cpu_fraction_median']:.3f}% of a core",
    )
    bench.goal(
        "real_idle_datagrams_vs_kinship",
        round(
            ours["idle_datagrams_received_per_s_median"]
            / max(kin["idle_datagrams_received_per_s_median"], 1e-9),
            3,
        ),
        "<= 2.0",
        note=f"datagrams received per member per s: ours "
        f"{ours['idle_datagrams_received_per_s_median']:.2f}, kinship "
        f"{kin['idle_datagrams_received_per_s_median']:.2f}",
    )
    bench.goal(
        "real_false_positives",
        ours["idle_membership_events"] + ours["healthy_declared_dead"],
        "<= 0",
        note="suspect/dead events while idle plus healthy members declared dead, ours",
    )
    return out


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
        for impl, style in (("ours", "-"), ("kinship", "--")):
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
    p.add_argument("--real-nodes", type=int, default=20, help="processes in part 6")
    p.add_argument("--real-kills", type=int, default=3, help="kill -9 repetitions in part 6")
    p.add_argument("--real-idle", type=float, default=30.0, help="s of idle measurement, part 6")
    p.add_argument(
        "--real-rounds", type=int, default=1, help="fresh clusters per implementation, part 6"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        worker(sys.argv[2:])
        return
    bench = Bench(
        "swim",
        description="SWIM + Lifeguard against the papers (simulator) and kinship (sockets)",
        add_arguments=add_arguments,
    )
    q = bench.quick
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
        bench.log("6. real sockets vs kinship")
        results["real"] = bench_real(bench)
    png = bench.out.with_suffix(".png")
    plot(results, png)
    bench.finish(extra={"results": results, "plot": png.name, "reduced": q})


if __name__ == "__main__":
    main()
