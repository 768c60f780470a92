"""The chaos checker over many seeded schedules in the deterministic simulator (virtual time).

``python -m benchmarks.chaos_sim [--schedules 300] [--nodes 5,10,20] [--big 1000] [--quick]``

Each schedule is one seed: ``n`` nodes, each running the Node's three cores (SWIM, HyParView and
the SyncEngine, wired by the Node's own :class:`~sync._bridge.OverlayBridge` with its overlay
safety net), a link model drawn from the seed (latency 1-50 ms, 0-30 % packet loss, 0-10 %
duplication, reordering; streams stay reliable and FIFO, as TCP is), writes at random live nodes
(map puts and removes with HLC timestamps, counter increments and decrements, set adds and
removes, each acknowledged when applied: the simulator's replica state stands for the data dir,
so a crash keeps it), and a nemesis: crashes and restarts (state kept, same replica id), crashes
with data loss (state gone, a fresh replica id), symmetric and one-way partitions, clock shifts of
up to +-1.5 s on one node's HLC. After ``--virtual`` seconds everything heals, every node restarts,
and once all hold equal states the checker reads them. Bounded: a schedule that does not converge
within ``--settle`` virtual seconds is reported as diverged.

What the simulator does not have: the Node's durability boundary and group commit (its state is
in memory, so "acknowledged" means "applied"), consistency levels, real sockets. Those are the
real chaos run's (:mod:`benchmarks.chaos`).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks._chaos_checker import NOT_SEEN, History, check
from benchmarks._harness import Bench
from crdts import HLC, AWLWWMap, ORSet, PNCounter
from gossip._events import Effect
from gossip.hyparview import HyParView, HyParViewConfig
from gossip.sim import EmitRecord, LinkModel, NodeContext, SimConfig, Simulator, Uniform
from gossip.swim import SwimConfig, SwimCore
from sync import NodeConfig, SyncEngine
from sync._bridge import OverlayBridge

EPOCH_MS = 1_700_000_000_000  # the simulated wall clock's origin (ms), so HLC walls look real
SKEW = 1.5  # s, the largest clock shift the nemesis applies
KINDS: dict[str, type[Any]] = {"m": AWLWWMap, "c": PNCounter, "s": ORSet}
CHECK_EVERY = 0.05  # virtual s between two convergence checks (the settle time's resolution)


def _const(effects: list[Effect]) -> Callable[[float], list[Effect]]:
    return lambda _now: effects


class SimChaos:
    """One schedule."""

    def __init__(
        self,
        seed: int,
        n: int,
        *,
        virtual: float,
        settle: float,
        rate: float,
        faults: bool = True,
        reuse_replica_id: bool = False,  # the bug of issue 10, for the tests: a wiped node keeps it
        sync_overrides: dict[str, Any] | None = None,  # SyncConfig fields over the Node's preset
    ) -> None:
        self.reuse_replica_id = reuse_replica_id
        self.seed, self.n, self.virtual, self.settle, self.rate = seed, n, virtual, settle, rate
        self.rng = random.Random(f"chaos-sim/{seed}/{n}")
        rng = self.rng
        self.names = [f"n{i}" for i in range(n)]
        self.big = n > 50
        self.states: dict[str, dict[str, Any]] = {x: {} for x in self.names}  # the "data dirs"
        self.rids: dict[str, str] = {x: f"{x}#0" for x in self.names}
        self.lost: dict[str, int] = dict.fromkeys(self.names, 0)
        self.hlc_last: dict[str, Any] = {}
        self.hlcs: dict[str, HLC] = {}
        self.skew: dict[str, float] = dict.fromkeys(self.names, 0.0)
        self.bridges: dict[str, OverlayBridge] = {}
        self.history = History()
        self.faults: dict[str, int] = {}
        self.elements: list[str] = []
        self.counter = 0
        self.restarted: set[str] = set()
        self._next_check = 0.0
        link = LinkModel(
            latency=Uniform(0.001, rng.uniform(0.002, 0.05)),
            loss=rng.uniform(0.0, 0.3) if faults else 0.0,
            duplicate=rng.uniform(0.0, 0.1) if faults else 0.0,
            reorder=rng.uniform(0.0, 0.2) if faults else 0.0,
        )
        self.link = link
        self.sim = Simulator(
            seed=seed,
            config=SimConfig(link=link, trace=False, record_emits=False),
            on_emit=self._on_emit,
        )
        # the Node's sync settings (its resend_timeout and relay_hold included); the large
        # schedules sync every 0.5 s instead of the LAN preset's 0.2 s, to bound their cost
        node_sync = NodeConfig.local(name="sim").sync
        if self.big:
            self.swim_cfg, self.hv_cfg = SwimConfig.lan(), HyParViewConfig()
            lan = NodeConfig.lan(name="sim").sync
            self.sync_cfg = replace(lan, sync_interval=0.5, catchup_timeout=2.0)
        else:
            self.swim_cfg, self.hv_cfg = SwimConfig.local(), HyParViewConfig.local()
            self.sync_cfg = node_sync
        if sync_overrides:  # e.g. a tight flow-control window, to run the backlog path
            self.sync_cfg = replace(self.sync_cfg, **sync_overrides)
        self.sync_overrides = dict(sync_overrides or {})
        self.check_every = self.hv_cfg.shuffle_interval
        for x in self.names:
            self.sim.add_node(x, self._factory)
            self.sim.schedule(rng.uniform(0.0, 2.0), partial(self._join_overlay, x))
            self.sim.schedule(self.check_every * rng.uniform(0.5, 1.5), partial(self._check, x))

    # -- wiring (as the Node does) --------------------------------------------------------------

    def _on_emit(self, rec: EmitRecord) -> None:
        node, event = rec.node, rec.event
        sim = self.sim

        def deliver() -> None:
            if sim.is_alive(node):
                for core, effects in self.bridges[node].on_event(event, sim.now):
                    sim.call(node, core, _const(effects))

        sim.schedule(sim.now, deliver)

    def _factory(self, ctx: NodeContext) -> list[Any]:
        x = ctx.addr
        if ctx.epoch == 0:  # the first start: the member list a push-pull join settles in
            swim = SwimCore(x, self.swim_cfg, ctx.rng, known=self.names)
        else:  # a restart joins through live members, as a Node does through its seeds
            live = [y for y in self.names if y != x and self.sim.is_alive(y)]
            seeds = self.rng.sample(live, min(3, len(live)))
            swim = SwimCore(x, self.swim_cfg, ctx.rng, seeds=seeds)
        hv = HyParView(x, rng=ctx.rng, config=self.hv_cfg, epoch=ctx.epoch)
        engine = SyncEngine(self.rids[x], self.sync_cfg, ctx.rng, state=self.states[x])
        self.bridges[x] = OverlayBridge(swim, hv, engine, rng=random.Random(f"{x}/{ctx.epoch}"))
        self.hlcs[x] = HLC(self.rids[x], last=self.hlc_last.get(x))
        return [swim, hv, engine]

    def _join_overlay(self, x: str) -> None:
        sim = self.sim
        if not sim.is_alive(x):
            return
        live = [y for y in self.names if y != x and sim.is_alive(y)]
        if live:
            hv: HyParView = sim.core(x, "hyparview")
            contact = self.rng.choice(live)
            sim.call(x, hv, partial(hv.join, [contact]))

    def _check(self, x: str) -> None:
        sim = self.sim
        if sim.is_alive(x):
            for core, effects in self.bridges[x].check_overlay(sim.now):
                sim.call(x, core, _const(effects))
        sim.schedule(sim.now + self.check_every, partial(self._check, x))

    # -- the workload ----------------------------------------------------------------------------

    def _write(self) -> None:
        sim, rng = self.sim, self.rng
        live = [x for x in self.names if sim.is_alive(x)]
        if live:
            self._write_at(rng.choice(live))
        if sim.now < self.virtual:
            sim.schedule(sim.now + rng.expovariate(self.rate), self._write)

    def _write_at(self, x: str) -> None:
        sim, rng, h = self.sim, self.rng, self.history
        engine: SyncEngine = sim.core(x, "sync")
        rid = self.rids[x]
        self.counter += 1
        r = rng.random()
        now = sim.now
        if r < 0.45:
            key = f"k{rng.randrange(16)}"
            cur = engine.value("m") or {}
            seen = cur.get(key, NOT_SEEN)
            if rng.random() < 0.2:
                op = h.invoke(x, "remove", "m", key, at=now, seen=seen)
                engine.update("m", lambda m: m.remove(key), create=AWLWWMap)
            else:
                value = f"{x}.{self.counter}"
                wall = EPOCH_MS + int((now + self.skew[x]) * 1000)
                ts = self.hlcs[x].now(wall)
                self.hlc_last[x] = self.hlcs[x].last
                op = h.invoke(x, "put", "m", key, value, at=now, seen=seen)
                engine.update("m", lambda m: m.put(rid, key, value, ts), create=AWLWWMap)
        elif r < 0.7:
            v = rng.choice([1, 1, 2, 3, 5, -1, -2])
            op = h.invoke(x, "incr", "c", value=v, at=now)
            if v >= 0:
                engine.update("c", lambda c: c.increment(rid, v), create=PNCounter)
            else:
                engine.update("c", lambda c: c.decrement(rid, -v), create=PNCounter)
        else:
            present = engine.value("s") or frozenset()
            if self.elements and rng.random() < 0.3:
                elem = rng.choice(self.elements)
                op = h.invoke(x, "discard", "s", elem, at=now, seen=elem in present)
                engine.update("s", lambda s: s.remove(elem), create=ORSet)
            else:
                elem = f"{x}.{self.counter}"
                self.elements.append(elem)
                op = h.invoke(x, "add", "s", elem, at=now)
                engine.update("s", lambda s: s.add(rid, elem), create=ORSet)
        h.ok(op, at=now)  # applied to the replica's state: the simulator's "durable"

    # -- the nemesis -----------------------------------------------------------------------------

    def _count(self, what: str) -> None:
        self.faults[what] = self.faults.get(what, 0) + 1

    def _nemesis(self) -> None:
        sim, rng = self.sim, self.rng
        if sim.now >= self.virtual - 2.0:
            return
        action = rng.choice(["crash", "crash", "wipe", "partition", "oneway", "clock"])
        hold = rng.uniform(1.0, 8.0)
        live = [x for x in self.names if sim.is_alive(x)]
        if action in ("crash", "wipe") and len(live) > 1:
            k = 1 if action == "wipe" else rng.randint(1, max(1, self.n // 10))
            for x in rng.sample(live, min(k, len(live) - 1)):
                self._count(action)
                sim.crash(x)
                self.history.crashed(x, at=sim.now, by_nemesis=True)
                if action == "wipe":
                    self.history.data_lost(x, at=sim.now)
                    self.lost[x] += 1
                    self.states[x] = {}
                    if not self.reuse_replica_id:
                        self.rids[x] = f"{x}#{self.lost[x]}"
                    self.hlc_last.pop(x, None)
                sim.schedule(sim.now + hold, partial(self._restart, x))
        elif action == "partition":
            self._count(action)
            names = list(self.names)
            rng.shuffle(names)
            k = rng.randint(1, self.n // 2)
            sim.partition(names[:k], names[k:])
            sim.schedule(sim.now + hold, sim.heal)
        elif action == "oneway":
            self._count(action)
            names = list(self.names)
            rng.shuffle(names)
            k = rng.randint(1, max(1, self.n // 3))
            sim.partition_one_way(names[:k], names[k : k + rng.randint(1, self.n - k)])
            sim.schedule(sim.now + hold, sim.heal)
        elif action == "clock":
            self._count(action)
            x = rng.choice(self.names)
            self.skew[x] = rng.uniform(-SKEW, SKEW)
            sim.schedule(sim.now + hold, partial(self.skew.__setitem__, x, 0.0))
        gap = rng.uniform(0.5, 4.0) if self.n <= 50 else rng.uniform(2.0, 6.0)
        sim.schedule(sim.now + gap, self._nemesis)

    def _restart(self, x: str) -> None:
        sim = self.sim
        if not sim.is_alive(x):
            sim.restart(x)
            sim.schedule(sim.now + 0.1, partial(self._join_overlay, x))

    # -- the whole schedule ------------------------------------------------------------------

    def finals(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for x in self.names:
            engine: SyncEngine = self.sim.core(x, "sync")
            out[x] = {
                "m": dict(engine.value("m") or {}),
                "c": engine.value("c") or 0,
                "s": set(engine.value("s") or ()),
            }
        return out

    def converged(self) -> bool:
        # the simulator asks after every event; reading every replica's values each time cost
        # most of a 1,000-node schedule's settle phase: ask at most every CHECK_EVERY virtual s
        sim = self.sim
        if sim.now < self._next_check:
            return False
        self._next_check = sim.now + CHECK_EVERY
        if not all(sim.is_alive(x) for x in self.names):
            return False
        engines: list[SyncEngine] = [sim.core(x, "sync") for x in self.names]
        want = [engines[0].value(k) for k in KINDS]
        return all([e.value(k) for k in KINDS] == want for e in engines[1:])

    def go(self, faults: bool = True) -> dict[str, Any]:
        sim, rng = self.sim, self.rng
        sim.schedule(2.0, self._write)
        if faults:
            sim.schedule(2.0 + rng.uniform(0.0, 2.0), self._nemesis)
        sim.run_until(self.virtual)
        sim.heal()
        for x in self.names:
            self.skew[x] = 0.0
            if not sim.is_alive(x):
                self._restart(x)
        start = sim.now
        ok = sim.run_until_true(self.converged, timeout=self.settle)
        settle = sim.now - start
        report = check(self.history, self.finals(), tolerance=2 * SKEW + 0.1)
        return {
            "seed": self.seed,
            "nodes": self.n,
            "converged": ok,
            "settle_s": round(settle, 2),
            "ops": report.ops,
            "must_survive": report.must_survive,
            "violations": len(report.violations),
            "by_kind": report.by_kind,
            "faults": self.faults,
            "first": [f"{v.kind} {v.obj}/{v.key}: {v.detail}" for v in report.violations[:5]],
            "rate": self.rate,
            "virtual_s": self.virtual,
            "loss": round(self.link.loss, 3),
            "dup": round(self.link.duplicate, 3),
            **({"sync": self.sync_overrides} if self.sync_overrides else {}),
        }


def run_one(
    seed: int,
    n: int,
    virtual: float,
    settle: float,
    rate: float,
    faults: bool = True,
    sync_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    t = time.perf_counter()
    sim = SimChaos(
        seed, n, virtual=virtual, settle=settle, rate=rate, faults=faults,
        sync_overrides=sync_overrides,
    )  # fmt: skip
    res = sim.go(faults)
    res["wall_s"] = round(time.perf_counter() - t, 2)
    return res


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    def add(p: Any) -> None:
        p.add_argument("--schedules", type=int, default=300, help="small-cluster schedules")
        p.add_argument("--nodes", default="5,10,20", help="cluster sizes cycled through")
        p.add_argument("--virtual", type=float, default=30.0, help="virtual s of faults+writes")
        p.add_argument("--settle", type=float, default=120.0, help="virtual s to converge")
        p.add_argument("--rate", type=float, default=40.0, help="writes per virtual s")
        p.add_argument("--big", type=int, default=1000, help="nodes of the large schedules")
        p.add_argument("--big-schedules", type=int, default=2)
        p.add_argument("--big-virtual", type=float, default=60.0)
        p.add_argument(
            "--big-rate", type=float, default=None, help="writes per virtual s (default --rate)"
        )
        p.add_argument("--first-seed", type=int, default=1)
        p.add_argument(
            "--max-inflight-bytes",
            type=int,
            default=None,
            help="flow-control window per neighbour (default: the Node preset's)",
        )
        p.add_argument(
            "--max-message-bytes", type=int, default=None, help="default: the Node preset's"
        )
        p.add_argument(
            "--merge", type=Path, nargs="+", default=None, help="report these .runs.jsonl files"
        )

    bench = Bench("chaos_sim", description=__doc__, argv=argv, add_arguments=add)
    a = bench.args
    sizes = [int(s) for s in a.nodes.split(",")]
    if bench.quick:
        plan = [(a.first_seed + i, sizes[i % len(sizes)], 15.0) for i in range(6)]
        plan += [(a.first_seed + 1000, 50, 10.0)]
    else:
        plan = [(a.first_seed + i, sizes[i % len(sizes)], a.virtual) for i in range(a.schedules)]
        plan += [(a.first_seed + 1000 + i, a.big, a.big_virtual) for i in range(a.big_schedules)]
    big_rate = a.rate if a.big_rate is None else a.big_rate
    overrides = {
        k: v
        for k, v in (
            ("max_inflight_bytes", a.max_inflight_bytes),
            ("max_message_bytes", a.max_message_bytes),
        )
        if v is not None
    }
    results: list[dict[str, Any]] = []
    journal = bench.out.with_suffix(".runs.jsonl")  # a line per finished schedule
    if a.merge:
        for f in a.merge:
            results += [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
        plan = []
    else:
        journal.unlink(missing_ok=True)
    for seed, n, virtual in bench.progress(plan, "schedules"):
        rate = big_rate if n > 50 else a.rate
        res = run_one(seed, n, virtual, a.settle, rate, sync_overrides=overrides)
        results.append(res)
        with journal.open("a") as f:
            f.write(json.dumps(res) + "\n")
        if res["violations"] or not res["converged"]:
            bench.log(f"seed {seed} n={n}: {res['violations']} violations {res['first']}")
        if n > 50:
            bench.log(f"seed {seed} n={n}: {res['ops']} ops, settle {res['settle_s']} s, "
                      f"{res['wall_s']} s wall")  # fmt: skip
    for n in sorted({r["nodes"] for r in results}):
        rs = [r for r in results if r["nodes"] == n]
        faults: dict[str, int] = {}
        for r in rs:
            for k, v in r["faults"].items():
                faults[k] = faults.get(k, 0) + v
        bench.row(
            nodes=n,
            schedules=len(rs),
            ops=sum(r["ops"] for r in rs),
            faults=" ".join(f"{k}:{v}" for k, v in sorted(faults.items())),
            converged=sum(r["converged"] for r in rs),
            violations=sum(r["violations"] for r in rs),
            settle_max_s=max(r["settle_s"] for r in rs),
            wall_s=round(sum(r["wall_s"] for r in rs), 1),
        )
    total = sum(r["violations"] for r in results)
    bench.goal("violations", total, "<= 0", note=f"over {len(results)} schedules")
    bench.goal("schedules", len(results), f">= {len(plan) or len(results)}")
    bench.goal("max_nodes", max(r["nodes"] for r in results), ">= 1000")
    bench.goal("unconverged", sum(not r["converged"] for r in results), "<= 0")
    return bench.finish(extra={"schedules": results})


if __name__ == "__main__":
    main()
