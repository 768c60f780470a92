"""HyParView and Plumtree in the deterministic simulator, against the papers' experiments.

1. Resilience (Leitão et al., DSN 2007, section 5): stabilise an overlay of n nodes, crash a
   fraction f of them at once, then broadcast one message per membership round by flooding the
   active views; reliability is the fraction of live nodes a message reaches. Baseline in the same
   run: random fanout-4 gossip over a full, static view (it cannot learn of the failures).
2. Overlay health: degree distribution, clustering coefficient, average shortest path and
   connectivity, once stable and again after churn.
3. Plumtree (Leitão et al., SRDS 2007): 100 and 1,000 peers, one-way latency 10-100 ms; per
   broadcast the last-delivery hop, the relative message redundancy (payloads received / (n - 1)
   - 1) and the missed deliveries, also with 1% of Plumtree frames lost.

``python -m benchmarks.hyparview`` (add ``--quick`` for a small run, ``--big`` for n = 10,000).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks._harness import Bench, median
from gossip._events import (
    Effect,
    Event,
    PeerUnreachable,
    SendStream,
    SetTimer,
    StreamReceived,
    TimerFired,
)
from gossip.hyparview import HyParView, HyParViewConfig
from gossip.plumtree import Delivered, Plumtree, PlumtreeConfig
from gossip.sim import LinkModel, NodeContext, SimConfig, Simulator, Uniform

ROUND = 1.0  # s: one membership round (shuffle_interval) in these runs
HV = HyParViewConfig(
    shuffle_interval=ROUND, neighbor_timeout=ROUND / 2, join_timeout=ROUND, reconnect_window=30.0
)
FLOOD_TAG = 0x70  # an app-range tag: the flooding broadcast of experiment 1


class Flood:
    """Flooding over the HyParView active view (the broadcast of the paper's experiment 1).

    Every send is a stream frame, so a send to a crashed neighbour fails and HyParView hears
    ``PeerUnreachable``: the broadcast itself is the failure detector, as in the paper. After a
    failed send, the messages of the last round are also sent to the neighbours that replace the
    failed one (checked every ``CHECK`` s for ``WATCH`` s; duplicates are filtered by id). This
    resend is our broadcast's choice, not part of HyParView; ``resend=False`` measures without it.
    """

    protocol = "app"
    CHECK = 0.01  # s between checks for replacement neighbours
    WATCH = 0.3  # s of checking after a failed send (a replacement takes a few round trips)

    def __init__(self, hv: HyParView, reached: Counter[int], resend: bool = True) -> None:
        self.hv = hv
        self.resend = resend
        self.reached = reached
        self.seen: set[int] = set()
        self.recent: dict[int, tuple[float, bytes]] = {}
        self.known: frozenset[str] = frozenset()
        self.watch_until = 0.0

    def start(self, now: float) -> list[Effect]:
        return []

    def originate(self, mid: int, now: float) -> list[Effect]:
        self.seen.add(mid)
        self.reached[mid] += 1
        data = bytes((FLOOD_TAG,)) + mid.to_bytes(8, "big")
        self.recent[mid] = (now, data)
        self.known = self.hv.active_view
        return [SendStream(p, data) for p in self.known]

    def handle(self, event: Event, now: float) -> list[Effect]:
        if isinstance(event, StreamReceived):
            mid = int.from_bytes(event.data[1:9], "big")
            if mid in self.seen:
                return []
            self.seen.add(mid)
            self.reached[mid] += 1
            self.recent[mid] = (now, event.data)
            src = event.src
            self.known = self.hv.active_view
            return [SendStream(p, event.data) for p in self.known if p != src]
        if isinstance(event, PeerUnreachable):
            if not self.recent or not self.resend:
                return []
            self.watch_until = now + self.WATCH
            return [SetTimer("check", now + self.CHECK)]
        if isinstance(event, TimerFired):
            current = self.hv.active_view
            new = current - self.known
            self.known = current
            for mid in [m for m, (t, _) in self.recent.items() if now - t > ROUND]:
                del self.recent[mid]
            out: list[Effect] = [
                SendStream(p, data) for p in new for _, data in self.recent.values()
            ]
            if now < self.watch_until and self.recent:
                out.append(SetTimer("check", now + self.CHECK))
            return out
        return []


class LossyPlumtree(Plumtree):
    """Plumtree whose incoming frames are lost with probability ``loss`` (the simulator's streams
    are reliable like TCP; this models a lossy path under the protocol)."""

    def __init__(self, *args: Any, loss: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.loss = loss
        self.loss_rng = random.Random(f"loss/{self.addr}")

    def handle(self, event: Event, now: float) -> list[Effect]:
        if self.loss and isinstance(event, StreamReceived) and self.loss_rng.random() < self.loss:
            return []
        return super().handle(event, now)


# ---------------------------------------------------------------------------------------------
# building overlays
# ---------------------------------------------------------------------------------------------


def build_overlay(
    n: int,
    seed: int,
    make: Callable[[NodeContext], list[Any]],
    link: LinkModel,
    stabilise_rounds: int,
    spacing: float = 0.002,
) -> Simulator:
    """n nodes joining one by one, each through a random earlier node (3 seeds kept for rejoins)."""
    sim = Simulator(
        seed=seed,
        config=SimConfig(link=link, trace=False, record_emits=False, unreachable_delay=0.05),
    )
    rng = random.Random(seed)
    names = [f"n{i}" for i in range(n)]
    for a in names:
        sim.add_node(a, make)
    for i in range(1, n):
        seeds = [names[rng.randrange(i)] for _ in range(3)]
        core = sim.core(names[i], HyParView)
        sim.call(names[i], core, _joiner(core, seeds))
        sim.run_for(spacing)
    sim.run_for(stabilise_rounds * ROUND)
    return sim


def _joiner(core: HyParView, seeds: list[str]) -> Callable[[float], list[Effect]]:
    return lambda now: core.join(seeds, now)


def graph(sim: Simulator) -> dict[str, set[str]]:
    """The live nodes' active-view graph (undirected: an edge if either end lists the other)."""
    live = [a for a in sim.nodes if sim.is_alive(a)]
    alive = set(live)
    adj: dict[str, set[str]] = {a: set() for a in live}
    for a in live:
        for b in sim.core(a, HyParView).active_view:
            if b in alive:
                adj[a].add(b)
                adj[b].add(a)
    return adj


def asymmetric_links(sim: Simulator) -> int:
    live = {a for a in sim.nodes if sim.is_alive(a)}
    views = {a: sim.core(a, HyParView).active_view for a in live}
    return sum(1 for a in live for b in views[a] if b in live and a not in views[b])


def components(adj: dict[str, set[str]]) -> list[int]:
    seen: set[str] = set()
    sizes = []
    for a in adj:
        if a in seen:
            continue
        seen.add(a)
        stack = [a]
        size = 0
        while stack:
            x = stack.pop()
            size += 1
            for y in adj[x]:
                if y not in seen:
                    seen.add(y)
                    stack.append(y)
        sizes.append(size)
    return sorted(sizes, reverse=True)


def health(adj: dict[str, set[str]], rng: random.Random, sources: int) -> dict[str, Any]:
    """Degree distribution, average local clustering coefficient, average shortest path (BFS
    from ``sources`` random nodes, over reachable pairs) and component sizes."""
    degrees = Counter(len(v) for v in adj.values())
    cc = []
    for nb in adj.values():
        k = len(nb)
        if k < 2:
            cc.append(0.0)
            continue
        links = sum(1 for b in nb for c in adj[b] if c in nb) / 2
        cc.append(links / (k * (k - 1) / 2))
    nodes = list(adj)
    total = 0
    pairs = 0
    diameter = 0
    for s in rng.sample(nodes, min(sources, len(nodes))):
        dist = {s: 0}
        frontier = [s]
        d = 0
        while frontier:
            d += 1
            nxt = []
            for x in frontier:
                for y in adj[x]:
                    if y not in dist:
                        dist[y] = d
                        nxt.append(y)
            frontier = nxt
        total += sum(dist.values())
        pairs += len(dist) - 1
        diameter = max(diameter, *dist.values())
    comps = components(adj)
    return {
        "degree_histogram": {str(k): v for k, v in sorted(degrees.items())},
        "clustering_coefficient": round(statistics.fmean(cc), 5),
        "avg_shortest_path": round(total / max(1, pairs), 4),
        "diameter_sampled": diameter,
        "components": len(comps),
        "largest_component_fraction": round(comps[0] / len(adj), 6) if comps else 0.0,
    }


# ---------------------------------------------------------------------------------------------
# experiment 1: resilience to mass failure
# ---------------------------------------------------------------------------------------------


def resilience_overlay(n: int, seed: int, rounds: int) -> tuple[Simulator, Counter[int]]:
    reached: Counter[int] = Counter()

    def make(ctx: NodeContext) -> list[Any]:
        hv = HyParView(ctx.addr, rng=ctx.rng, config=HV, epoch=ctx.epoch)
        return [hv, Flood(hv, reached)]

    sim = build_overlay(n, seed, make, LinkModel(latency=Uniform(0.001, 0.005)), rounds)
    return sim, reached


def fail_and_flood(
    base: Simulator, reached: Counter[int], f: float, messages: int, seed: int, resend: bool
) -> list[float]:
    """Crash a fraction ``f`` at once, then flood one message per round; reliability per message."""
    sim = copy.deepcopy((base, reached))
    s, cnt = sim
    for a in s.nodes:
        s.core(a, Flood).resend = resend
    rng = random.Random(seed)
    nodes = s.nodes
    for a in rng.sample(nodes, round(f * len(nodes))):
        s.crash(a)
    live = [a for a in nodes if s.is_alive(a)]
    out = []
    for k in range(messages):
        src = rng.choice(live)
        mid = 1_000_000 + k
        flood = s.core(src, Flood)
        s.call(src, flood, partial(flood.originate, mid))
        s.run_for(ROUND)
        out.append(cnt[mid] / len(live))
    return out


def baseline_gossip(n: int, f: float, messages: int, seed: int, fanout: int = 4) -> list[float]:
    """Random fanout-4 gossip over a full view that still lists the crashed nodes."""
    rng = random.Random(seed)
    dead = set(rng.sample(range(n), round(f * n)))
    live = [i for i in range(n) if i not in dead]
    out = []
    for _ in range(messages):
        src = rng.choice(live)
        got = {src}
        frontier = [src]
        while frontier:
            nxt = []
            for x in frontier:
                for _ in range(fanout):
                    y = rng.randrange(n - 1)
                    y = y + 1 if y >= x else y  # never itself
                    if y in dead or y in got:
                        continue
                    got.add(y)
                    nxt.append(y)
            frontier = nxt
        out.append(len(got) / len(live))
    return out


def _rec(r: int | None, messages: int) -> str:
    return str(r) if r is not None else f">{messages - 1}"


def recovery_rounds(rel: list[float], threshold: float = 0.999) -> int | None:
    """Index of the first message at or above ``threshold`` (None: not within the run)."""
    for k, r in enumerate(rel):
        if r >= threshold:
            return k
    return None


# ---------------------------------------------------------------------------------------------
# experiment 2: overlay health after churn
# ---------------------------------------------------------------------------------------------


def churn(sim: Simulator, rounds: int, rate: float, seed: int) -> None:
    """Each round crash ``rate`` of the live nodes and restart as many crashed ones (new epoch,
    rejoining through a random live node)."""
    rng = random.Random(seed)
    for _ in range(rounds):
        live = [a for a in sim.nodes if sim.is_alive(a)]
        down = [a for a in sim.nodes if not sim.is_alive(a)]
        k = max(1, round(rate * len(live)))
        for a in rng.sample(live, k):
            sim.crash(a)
        for a in rng.sample(down, min(k, len(down))):
            sim.restart(a)
            contact = rng.choice([x for x in live if sim.is_alive(x)])
            core = sim.core(a, HyParView)
            sim.call(a, core, _joiner(core, [contact]))
        sim.run_for(ROUND)


# ---------------------------------------------------------------------------------------------
# experiment 3: Plumtree
# ---------------------------------------------------------------------------------------------


def plumtree_run(n: int, seed: int, loss: float, messages: int) -> dict[str, Any]:
    deliveries: dict[int, list[int]] = {}

    def on_emit(rec: Any) -> None:
        ev = rec.event
        if isinstance(ev, Delivered):
            deliveries.setdefault(ev.mid, []).append(ev.hops)

    link = LinkModel(latency=Uniform(0.010, 0.100))
    pcfg = PlumtreeConfig.wan()

    def make(ctx: NodeContext) -> list[Any]:
        hv = HyParView(ctx.addr, rng=ctx.rng, config=HV, epoch=ctx.epoch)
        return [hv, LossyPlumtree(ctx.addr, rng=ctx.rng, config=pcfg, neighbors=hv, loss=loss)]

    sim = build_overlay(n, seed, make, link, 20)
    sim._on_emit = on_emit  # observe only the broadcast phase
    rng = random.Random(seed)
    cores = [sim.core(a, Plumtree) for a in sim.nodes]
    per_msg = []
    mids = []
    for k in range(messages):
        before = sum(c.stats.gossip_received for c in cores)
        src = sim.nodes[rng.randrange(n)]
        pt = sim.core(src, Plumtree)
        sim.call(src, pt, partial(pt.broadcast, b"msg-%d" % k))
        sim.run_for(2.0)  # the next broadcast starts 2 s later
        assert pt.last_mid is not None
        mids.append(pt.last_mid)
        received = sum(c.stats.gossip_received for c in cores) - before
        per_msg.append({"index": k, "rmr": received / (n - 1) - 1})
    sim.run_for(10.0)  # late GRAFT repairs still count as delivered; missing after this: missed
    for m, mid in zip(per_msg, mids, strict=True):
        hops = deliveries.get(mid, [])
        m["last_delivery_hop"] = max(hops, default=0)
        m["missed"] = (n - 1) - len(hops)
    settled = per_msg[messages // 2 :]
    return {
        "n": n,
        "loss": loss,
        "messages": per_msg,
        "rmr_settled_median": median([m["rmr"] for m in settled]),
        "rmr_settled_max": max(m["rmr"] for m in settled),
        "rmr_first": per_msg[0]["rmr"],
        "last_hop_median": median([m["last_delivery_hop"] for m in per_msg]),
        "missed_total": sum(m["missed"] for m in per_msg),
        "grafts": sum(c.stats.grafts_sent for c in cores),
        "asymmetric_links": asymmetric_links(sim),
    }


# ---------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sizes", default="1000", help="overlay sizes for experiments 1-2 (comma-separated)"
    )
    p.add_argument(
        "--big-fractions",
        default="0.1,0.5,0.8,0.9,0.95",
        help="failure fractions run at n > 1,000 (comma-separated; pure Python is slow there)",
    )
    p.add_argument("--skip-plumtree", action="store_true", help="only experiments 1-2")
    p.add_argument("--messages", type=int, default=12, help="messages (rounds) after a failure")
    p.add_argument(
        "--variants",
        default="resend,plain",
        help="'plain' also measures flooding without resends to replacement neighbours",
    )
    p.add_argument("--churn-rounds", type=int, default=30, help="rounds of 1% churn (health)")
    p.add_argument(
        "--stabilise-rounds", type=int, default=30, help="membership rounds before failing nodes"
    )
    p.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        default=None,
        metavar="JSON",
        help="combine results of runs that split --big-fractions between them (same sizes, "
        "rounds, messages and PYTHONHASHSEED) into --out, with goals and plot",
    )
    p.add_argument(
        "--checkpoint",
        action="store_true",
        help="after each failure fraction, write the rows so far to OUT.partial.json (long runs)",
    )


def main() -> None:
    bench = Bench("hyparview", description=__doc__ or "", add_arguments=_args)
    if bench.args.merge:
        _merge(bench, bench.args.merge)
        return
    quick = bench.quick
    fractions = [0.2, 0.5, 0.8, 0.95] if quick else [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    fractions += [] if quick else [0.95]
    messages = 6 if quick else int(bench.args.messages)
    variants = set(bench.args.variants.split(","))
    sizes = [100] if quick else [int(x) for x in bench.args.sizes.split(",")]
    big_fracs = [float(x) for x in bench.args.big_fractions.split(",")]
    extra: dict[str, Any] = {"resilience": {}, "health": {}, "plumtree": []}
    seed = 7

    # 1 and 2: resilience and health -------------------------------------------------------
    for n in sizes:
        t0 = time.perf_counter()
        bench.log(f"n={n}: building and stabilising the overlay")
        base, reached = resilience_overlay(n, seed, 10 if quick else bench.args.stabilise_rounds)
        bench.log(f"n={n}: stable after {time.perf_counter() - t0:.1f}s")
        adj = graph(base)
        extra["health"][f"n={n} stable"] = health(adj, random.Random(1), 50 if quick else 200)
        extra["health"][f"n={n} stable"]["asymmetric_links"] = asymmetric_links(base)
        fr = fractions if n <= 1000 else big_fracs
        res: dict[str, Any] = {}
        for f in bench.progress(fr, f"n={n} failures"):
            rel = fail_and_flood(base, reached, f, messages, seed + int(f * 100), True)
            bl = baseline_gossip(n, f, messages, seed + int(f * 100))
            rec = recovery_rounds(rel)
            res[str(f)] = {"hyparview": rel, "baseline_fanout4": bl, "recovery_rounds": rec}
            if "plain" in variants:
                plain = fail_and_flood(base, reached, f, messages, seed + int(f * 100), False)
                res[str(f)]["hyparview_no_resend"] = plain
                res[str(f)]["recovery_rounds_no_resend"] = recovery_rounds(plain)
            bench.row(
                n=n,
                f=f,
                first_msg=round(rel[0], 4),
                min_rel=round(min(rel), 4),
                last_msg=round(rel[-1], 4),
                recovery_rounds=rec if rec is not None else f">{messages - 1}",
                plain_first=round(res[str(f)]["hyparview_no_resend"][0], 4)
                if "plain" in variants
                else "",
                plain_recovery=_rec(res[str(f)].get("recovery_rounds_no_resend"), messages)
                if "plain" in variants
                else "",
                baseline_mean=round(statistics.fmean(bl), 4),
            )
            if bench.args.checkpoint:
                _checkpoint(bench, {**extra["resilience"], f"n={n}": res})
        extra["resilience"][f"n={n}"] = res
        # churn on a copy of the stable overlay
        churned = copy.deepcopy(base)
        churn(churned, 10 if quick else bench.args.churn_rounds, 0.01, seed)
        churned.run_for(5 * ROUND)
        extra["health"][f"n={n} after churn"] = health(
            graph(churned), random.Random(2), 50 if quick else 200
        )
        extra["health"][f"n={n} after churn"]["asymmetric_links"] = asymmetric_links(churned)
        bench.log(f"n={n}: done in {time.perf_counter() - t0:.1f}s")

    _overlay_goals(bench, extra, sizes)

    # 3: Plumtree ---------------------------------------------------------------------------
    pt_sizes = [] if bench.args.skip_plumtree else [50] if quick else [100, 1000]
    pt_msgs = 8 if quick else 40
    for n in pt_sizes:
        for loss in (0.0, 0.01):
            bench.log(f"plumtree n={n} loss={loss}")
            r = plumtree_run(n, seed, loss, pt_msgs)
            extra["plumtree"].append(r)
            bench.row(
                n=n,
                f=f"plumtree loss={loss}",
                first_msg=round(r["rmr_first"], 3),
                min_rel=round(r["rmr_settled_median"], 4),
                last_msg=r["last_hop_median"],
                recovery_rounds=r["missed_total"],
                baseline_mean=r["grafts"],
            )
    if extra["plumtree"]:
        _plumtree_goals(bench, extra)
    _finish(bench, extra, sizes, big_fracs)


def _overlay_goals(bench: Bench, extra: dict[str, Any], sizes: list[int]) -> None:
    """Goals of experiments 1-2 (resilience and health), from the results so far."""
    n0 = sizes[0]
    h_churn = extra["health"][f"n={n0} after churn"]
    upto80 = [v for n in sizes for k, v in extra["resilience"][f"n={n}"].items() if float(k) <= 0.8]
    if upto80:  # a run of fractions above 80% only has no such goal
        bench.goal(
            "reliability_after_2_rounds_min_up_to_80pct_failure",
            value=min(min(v["hyparview"][2:]) for v in upto80),
            target=">= 0.999",
            note="HyParView flooding, messages from the third round after the failure on",
        )
        bench.goal(
            "recovery_rounds_max_up_to_80pct_failure",
            value=max(
                v["recovery_rounds"] if v["recovery_rounds"] is not None else 99 for v in upto80
            ),
            target="<= 2",
            note="rounds until a message reaches >= 99.9% of live nodes (99: never in the run)",
        )
    rel90 = [extra["resilience"][f"n={n}"].get("0.9") for n in sizes]
    if any(r is not None for r in rel90):
        bench.goal(
            "reliability_at_90pct_failure_after_recovery",
            value=min(r["hyparview"][-1] for r in rel90 if r is not None),
            target=">= 0.99",
            note="last message of the run",
        )
    margins = [
        statistics.fmean(v["hyparview"]) - statistics.fmean(v["baseline_fanout4"])
        for n in sizes
        for v in extra["resilience"][f"n={n}"].values()
    ]
    bench.goal(
        "better_than_fanout4_baseline_at_every_f",
        value=min(margins),
        target="> 0",
        note="min over f of mean reliability(HyParView) - mean reliability(baseline)",
    )
    bench.goal("connected_after_churn", value=h_churn["components"], target="== 1")


def _merge(bench: Bench, paths: list[Path]) -> None:
    """One result from runs that each measured some failure fractions on the same overlay.

    Every part builds the overlay from the same seed, and each fraction is measured on its own
    copy of it, so a fraction's figures do not depend on which run measured it; the parts'
    identical health figures (stable and after churn) check that they built the same overlay.
    """
    parts = [json.loads(p.read_text()) for p in paths]
    first = parts[0]

    def same(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d["config"].items() if k != "big_fractions"}

    for d, path in zip(parts, paths, strict=True):
        if d.get("partial") or d["quick"]:
            raise SystemExit(f"{path}: not a complete full run")
        if same(d) != same(first) or d["health"] != first["health"]:
            raise SystemExit(
                f"{path}: another overlay or setting than {paths[0]} (PYTHONHASHSEED?)"
            )
    extra: dict[str, Any] = {"resilience": {}, "health": first["health"], "plumtree": []}
    for d in parts:
        for key, per_f in d["resilience"].items():
            extra["resilience"].setdefault(key, {}).update(per_f)
    for key, per_f in extra["resilience"].items():
        extra["resilience"][key] = {f: per_f[f] for f in sorted(per_f, key=float)}
    bench.rows = sorted((r for d in parts for r in d["rows"]), key=lambda r: (r["n"], r["f"]))
    sizes = [int(n) for n in first["config"]["sizes"]]
    _overlay_goals(bench, extra, sizes)
    extra["parts"] = [{"command": d["command"], "wall_seconds": d["wall_seconds"]} for d in parts]
    extra["wall_seconds"] = max(d["wall_seconds"] for d in parts)  # the parts ran side by side
    fracs = sorted({float(f) for per_f in extra["resilience"].values() for f in per_f})
    _finish(bench, extra, sizes, fracs)


def _checkpoint(bench: Bench, resilience: dict[str, Any]) -> None:
    """The rows and reliability series so far, so a long run cut short still leaves its data."""
    path = bench.out.with_suffix(".partial.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "command": bench.command,
        "partial": True,
        "wall_seconds": round(time.perf_counter() - bench.started, 3),
        "rows": bench.rows,
        "resilience": resilience,
    }
    path.write_text(json.dumps(data, indent=1) + "\n")


def _plumtree_goals(bench: Bench, extra: dict[str, Any]) -> None:
    bench.goal(
        "plumtree_rmr_settled_max",
        value=max(r["rmr_settled_max"] for r in extra["plumtree"] if r["loss"] == 0.0),
        target="< 0.2",
        note="max RMR over the second half of the broadcasts, no loss",
    )
    bench.goal(
        "plumtree_missed_messages",
        value=sum(r["missed_total"] for r in extra["plumtree"]),
        target="== 0",
        note="all sizes, with and without 1% frame loss",
    )


def _finish(bench: Bench, extra: dict[str, Any], sizes: list[int], big_fracs: list[float]) -> None:
    extra["note"] = (
        "Rows: for Plumtree, columns are reused: first_msg = RMR of the first broadcast, "
        "min_rel = median settled RMR, last_msg = median last-delivery hop, recovery_rounds = "
        "missed deliveries, baseline_mean = GRAFTs sent."
    )
    extra["config"] = {
        "round_seconds": ROUND,
        "hyparview": {k: getattr(HV, k) for k in HV.__dataclass_fields__},
        "flood_latency_s": [0.001, 0.005],
        "plumtree_latency_s": [0.010, 0.100],
        "sizes": sizes,
        "big_fractions": big_fracs if max(sizes) > 1000 else [],
    }
    result = bench.finish(extra=extra)
    plot(result, bench)


def plot(result: dict[str, Any], bench: Bench) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover
        bench.log("matplotlib missing: no plot")
        return
    res = result["resilience"]
    panels = 3 if result["plumtree"] else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.7 * panels, 4.8))
    ax = axes[0]
    for key, per_f in res.items():
        fs = sorted(per_f, key=float)
        ax.plot(
            [float(f) * 100 for f in fs],
            [per_f[f]["hyparview"][0] * 100 for f in fs],
            "o-",
            label=f"HyParView {key}, 1st msg",
        )
        ax.plot(
            [float(f) * 100 for f in fs],
            [per_f[f]["hyparview"][-1] * 100 for f in fs],
            "s-",
            label=f"HyParView {key}, last msg",
        )
        if all("hyparview_no_resend" in per_f[f] for f in fs):
            ax.plot(
                [float(f) * 100 for f in fs],
                [per_f[f]["hyparview_no_resend"][0] * 100 for f in fs],
                "^:",
                label=f"HyParView {key}, 1st msg, no resend",
            )
        ax.plot(
            [float(f) * 100 for f in fs],
            [statistics.fmean(per_f[f]["baseline_fanout4"]) * 100 for f in fs],
            "x--",
            label=f"fanout-4 gossip {key}",
        )
    ax.set_xlabel("nodes failed at once (%)")
    ax.set_ylabel("reliability (% of live nodes reached)")
    ax.set_title("Reliability after mass failure")
    ax.legend(fontsize=7)
    ax = axes[1]
    first = next(iter(res.values()))
    for f in sorted(first, key=float):
        if float(f) >= 0.5:
            rel = first[f]["hyparview"]
            (line,) = ax.plot(
                range(len(rel)), [r * 100 for r in rel], "o-", label=f"f={float(f):.0%}"
            )
            plain = first[f].get("hyparview_no_resend")
            if plain is not None:
                ax.plot(
                    range(len(plain)),
                    [r * 100 for r in plain],
                    ":",
                    color=line.get_color(),
                    label=f"f={float(f):.0%}, no resend",
                )
    ax.set_xlabel("message index (one per membership round)")
    ax.set_ylabel("reliability (%)")
    ax.set_title(f"Recovery, {next(iter(res))}")
    ax.legend(fontsize=7)
    if panels == 3:
        _plot_plumtree(axes[2], result)
    fig.tight_layout()
    png = bench.out.with_suffix(".png")
    fig.savefig(png, dpi=110)
    bench.log(f"wrote {png}")


def _plot_plumtree(ax: Any, result: dict[str, Any]) -> None:
    for r in result["plumtree"]:
        ax.plot(
            [m["rmr"] for m in r["messages"]],
            label=f"n={r['n']} loss={r['loss']:.0%}",
        )
    ax.axhline(0.2, color="grey", ls=":", lw=1)
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_xlabel("broadcast index")
    ax.set_ylabel("relative message redundancy")
    ax.set_title("Plumtree: the tree settles")
    ax.legend(fontsize=7)


if __name__ == "__main__":
    main()
