"""CRDT operations side by side with pycrdt (Yrs bindings): ``python -m benchmarks.crdt_ops``.

The map is the shopping cart's type, :class:`crdts.AWLWWMap`, against a pycrdt ``Map`` in a
``Doc``; both get the same keys (``key0`` .. ``key99999``), the same values (small ints, a cart's
quantities) and the same workloads, in one run:

- **puts**: 100,000 puts of fresh keys, one operation each (ours returns its delta; pycrdt
  commits an implicit transaction per set, which produces its update). Rounds alternate between
  the two libraries; the goal is the ratio of the medians. pycrdt with all sets in one
  transaction is shown too (a batch, which our per-op put has no counterpart of);
- **memory** for 100,000 keys: the growth of the resident set (RSS) of a fresh interpreter
  while it builds the map, keys created in the loop (pycrdt keeps them in Rust memory, where
  tracemalloc cannot see; RSS sees both), ours with HLC timestamps (the goal: what a cart
  holds) and with int ones. tracemalloc's figure for ours is shown as well;
- **full-state encode and decode**: ``crdts.encode(map)`` against ``doc.get_update()``, and
  ``crdts.decode(wire)`` against ``Doc().apply_update(wire)`` (a fresh doc that holds the map
  afterwards: what a replica catching up from nothing does). Each is the median of 5 rounds,
  alternating between the libraries;
- **the smallest update after 100 keys change** in the 100,000-key map: ours is
  ``encode(map.diff(before))`` (the same bytes as the join of the 100 put deltas), pycrdt's is
  ``doc.get_update(state_vector_before)``; then again after 50,000 scattered overwrites
  (pycrdt's update carries its whole delete set, which overwrites grow). The update pycrdt's
  transaction observer sees is shown too;
- **merge** of two replicas of the 100,000-key map that diverged by 10,000 writes each (half
  overwrites, half new keys). pycrdt has no in-memory merge of two docs: its only way is
  ``a.apply_update(b.get_update(a.get_state()))``, which encodes the difference and decodes it.
  Ours three ways: a full-state ``a.merge(b)`` (in memory), ``a.merge(b.diff(a))`` (in memory)
  and, doing the same work as pycrdt, ``a.merge(decode(encode(b.diff(a))))``;
- 100,000 counter increments (``GCounter``; pycrdt has no counter type) and 100,000 set adds
  (``ORSet`` against a pycrdt ``Map`` used as a set, ``m[elem] = True``).

Timestamps are HLC timestamps wherever a size is measured (they are what goes on the wire), and
ints in the throughput loop (the clock is the caller's cost, shown in a row of its own). Times
are CPU time of the process (``time.process_time``; see ``_timeit``).
"""

from __future__ import annotations

import gc
import json
import random
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks._harness import Bench, median

ROOT = Path(__file__).resolve().parent.parent


def _timeit(fn: Callable[[], Any]) -> float:
    """CPU seconds of ``fn()``: the machine is shared (benchmarks of other work may run at the
    same time), and CPU time is what a busy scheduler does not distort. Both libraries run on
    one thread, so for them CPU time is wall time on an idle machine."""
    gc.collect()
    t = time.process_time()
    fn()
    return time.process_time() - t


# ---------------------------------------------------------------------------------------------
# puts
# ---------------------------------------------------------------------------------------------


def ours_puts(keys: list[str]) -> float:
    from crdts import AWLWWMap

    m = AWLWWMap()
    put = m.put

    def run() -> None:
        for i, k in enumerate(keys):
            put("r", k, 1 + i % 5, i)

    return _timeit(run)


def ours_puts_hlc(keys: list[str]) -> float:
    from crdts import HLC, AWLWWMap

    m = AWLWWMap()
    put = m.put
    now = HLC("r").now

    def run() -> None:
        for i, k in enumerate(keys):
            put("r", k, 1 + i % 5, now(i))

    return _timeit(run)


def pycrdt_sets(keys: list[str], one_transaction: bool = False) -> float:
    from pycrdt import Doc, Map

    doc: Any = Doc()
    m: Any = doc.get("m", type=Map)

    def run() -> None:
        for i, k in enumerate(keys):
            m[k] = 1 + i % 5

    def run_tx() -> None:
        with doc.transaction():
            run()

    return _timeit(run_tx if one_transaction else run)


# ---------------------------------------------------------------------------------------------
# memory (each in a fresh interpreter)
# ---------------------------------------------------------------------------------------------


def memory_child(which: str, n: int) -> None:
    """Run in a subprocess: print the growth of RSS (and tracemalloc for ours) building ``n``
    keys."""
    import psutil  # type: ignore[import-untyped]

    proc = psutil.Process()
    trace = which.endswith("+tracemalloc")
    if trace:
        import tracemalloc

        tracemalloc.start()
    if which.startswith("pycrdt"):
        from pycrdt import Doc, Map

        doc: Any = Doc()
        m: Any = doc.get("m", type=Map)
        gc.collect()
        base = proc.memory_info().rss
        for i in range(n):
            m[f"key{i}"] = 1 + i % 5
    else:
        from crdts import HLC, AWLWWMap

        a = AWLWWMap()
        now = HLC("r").now
        gc.collect()
        base = proc.memory_info().rss
        t0 = tracemalloc.get_traced_memory()[0] if trace else 0
        if which.startswith("ours-hlc"):  # the cart's real timestamps (ms walls)
            for i in range(n):
                a.put("r", f"key{i}", 1 + i % 5, now(1_700_000_000_000 + i))
        else:
            for i in range(n):
                a.put("r", f"key{i}", 1 + i % 5, i)
    gc.collect()
    out = {"rss": proc.memory_info().rss - base}
    if trace:
        out["tracemalloc"] = tracemalloc.get_traced_memory()[0] - t0
    print(json.dumps(out))


def measure_memory(which: str, n: int) -> dict[str, int]:
    code = f"from benchmarks.crdt_ops import memory_child; memory_child({which!r}, {n})"
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return dict(json.loads(res.stdout.strip().splitlines()[-1]))


# ---------------------------------------------------------------------------------------------
# sizes: full state, and the smallest update after 100 changes (before/after overwrites)
# ---------------------------------------------------------------------------------------------


def sizes(bench: Bench, n: int, overwrites: int, changed: int) -> dict[str, Any]:
    from pycrdt import Doc, Map

    from crdts import HLC, AWLWWMap, decode, encode

    rng = random.Random(42)
    keys = [f"key{i}" for i in range(n)]
    clock = HLC("r")
    wall = 1_700_000_000_000  # ms
    ours = AWLWWMap()
    doc: Any = Doc()
    pm: Any = doc.get("m", type=Map)
    for i, k in enumerate(keys):
        wall += 1
        ours.put("r", k, 1 + i % 5, clock.now(wall))
    with doc.transaction():
        for i, k in enumerate(keys):
            pm[k] = 1 + i % 5
    out: dict[str, Any] = {}

    # full state (gc.collect() before each timing: a collection of the heap built so far must
    # not land inside one library's timing and not the other's)
    enc_t, dec_t, pen_t, pdec_t = [], [], [], []
    wire, pwire, back = b"", b"", None
    for _ in range(5):
        gc.collect()
        t = time.process_time()
        wire = encode(ours)
        enc_t.append(time.process_time() - t)
        gc.collect()
        t = time.process_time()
        pwire = doc.get_update()
        pen_t.append(time.process_time() - t)
        back = None
        gc.collect()
        t = time.process_time()
        back = decode(wire)
        dec_t.append(time.process_time() - t)
        gc.collect()
        t = time.process_time()
        pdoc: Any = Doc()
        pdoc.apply_update(pwire)
        pback: Any = pdoc.get("m", type=Map)
        pdec_t.append(time.process_time() - t)
        assert len(pback) == n
        del pdoc, pback
    assert back == ours
    out["full_bytes"] = (len(wire), len(pwire))
    out["full_encode_s"] = (median(enc_t), median(pen_t))
    out["full_decode_s"] = (median(dec_t), median(pdec_t))
    out["full_rounds_s"] = {"encode": enc_t, "pycrdt_encode": pen_t}
    out["full_rounds_s"] |= {"decode": dec_t, "pycrdt_decode": pdec_t}

    def change(tag: str) -> None:
        nonlocal wall
        sample = rng.sample(range(n), changed)
        before = ours.copy()
        group = AWLWWMap()
        for i in sample:
            wall += 1
            group.merge(ours.put("r", keys[i], 9, clock.now(wall)))
        delta = ours.diff(before)
        assert delta == group and before.join(decode(encode(delta))) == ours
        sv = doc.get_state()
        seen: list[bytes] = []
        sub = doc.observe(lambda e: seen.append(e.update))
        with doc.transaction():
            for i in sample:
                pm[keys[i]] = 9
        doc.unobserve(sub)
        out[f"update_{tag}"] = (len(encode(delta)), len(doc.get_update(sv)), len(seen[0]))

    change("fresh")
    bench.log(f"{overwrites} scattered overwrites")
    for j in range(overwrites):
        k = keys[rng.randrange(n)]
        wall += 1
        ours.put("r", k, 1 + j % 5, clock.now(wall))
        pm[k] = 1 + j % 5
    change("overwritten")
    return out


# ---------------------------------------------------------------------------------------------
# merge of two diverged replicas
# ---------------------------------------------------------------------------------------------


def _merge_diff(x: Any, y: Any) -> None:
    x.merge(y.diff(x))


def _merge_wire(x: Any, y: Any) -> None:
    from crdts import decode, encode

    x.merge(decode(encode(y.diff(x))))


def _pycrdt_sync(x: Any, y: Any) -> None:
    x.apply_update(y.get_update(x.get_state()))


def merges(n: int, writes: int, rounds: int) -> dict[str, list[float]]:
    from pycrdt import Doc, Map

    from crdts import HLC, AWLWWMap, decode, encode

    rng = random.Random(9)
    keys = [f"key{i}" for i in range(n)]
    base = AWLWWMap()
    clock = {r: HLC(r) for r in "ab"}
    for i, k in enumerate(keys):
        base.put("a", k, 1 + i % 5, clock["a"].now(i))
    pbase: Any = Doc()
    pm: Any = pbase.get("m", type=Map)
    with pbase.transaction():
        for i, k in enumerate(keys):
            pm[k] = 1 + i % 5
    base_wire, pbase_wire = encode(base), pbase.get_update()

    def diverge(r: str) -> list[tuple[str, int]]:
        return [(keys[rng.randrange(n)] if j % 2 else f"{r}-new-{j}", j % 5) for j in range(writes)]

    out: dict[str, list[float]] = {"state": [], "diff": [], "wire": [], "pycrdt": []}
    for _ in range(rounds):
        wa, wb = diverge("a"), diverge("b")
        a, b = decode(base_wire), decode(base_wire)
        for j, (k, v) in enumerate(wa):
            a.put("a", k, v, clock["a"].now(n + j))
        for j, (k, v) in enumerate(wb):
            b.put("b", k, v, clock["b"].now(n + j))
        a2, a3 = a.copy(), a.copy()
        out["state"].append(_timeit(partial(a.merge, b)))
        out["diff"].append(_timeit(partial(_merge_diff, a2, b)))
        out["wire"].append(_timeit(partial(_merge_wire, a3, b)))
        assert a == a2 == a3 == b.join(a)
        pa: Any = Doc()
        pb: Any = Doc()
        pa.apply_update(pbase_wire)
        pb.apply_update(pbase_wire)
        ma: Any = pa.get("m", type=Map)
        mb: Any = pb.get("m", type=Map)
        for k, v in wa:
            ma[k] = v
        for k, v in wb:
            mb[k] = v
        out["pycrdt"].append(_timeit(partial(_pycrdt_sync, pa, pb)))
        assert len(a) == len(ma)
    return out


# ---------------------------------------------------------------------------------------------
# counters and sets
# ---------------------------------------------------------------------------------------------


def counter_and_set(n: int) -> dict[str, float]:
    from pycrdt import Doc, Map

    from crdts import GCounter, ORSet

    g = GCounter()
    s = ORSet()
    elems = [f"elem{i}" for i in range(n)]

    # the deltas are dropped, as in the map's loop (kept alive, 100,000 of them would mostly
    # measure the garbage collector)
    def incs() -> None:
        inc = g.increment
        for _ in range(n):
            inc("r")

    def adds() -> None:
        add = s.add
        for e in elems:
            add("r", e)

    t_inc = _timeit(incs)
    assert g.value == n
    t_add = _timeit(adds)
    assert len(s.value) == n
    doc: Any = Doc()
    m: Any = doc.get("s", type=Map)

    def padd() -> None:
        for e in elems:
            m[e] = True

    t_padd = _timeit(padd)
    return {"gcounter_inc": t_inc, "orset_add": t_add, "pycrdt_map_as_set_add": t_padd}


# ---------------------------------------------------------------------------------------------


def _plot(path: Path, rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ratio_rows = [r for r in rows if isinstance(r.get("ratio"), float)]
    fig, ax = plt.subplots(figsize=(9, 0.45 * len(ratio_rows) + 1.5))
    labels = [r["metric"] for r in ratio_rows]
    vals = [r["ratio"] for r in ratio_rows]
    colors = ["tab:green" if r.get("better") == "ours" else "tab:red" for r in ratio_rows]
    ax.barh(labels, vals, color=colors)
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("advantage of crdts over pycrdt (x, log scale; > 1: crdts better)")
    ax.set_xlim(min(vals) / 2, max(vals) * 4)
    ax.invert_yaxis()
    for i, v in enumerate(vals):
        ax.text(v, i, f" {v:.2f}x", va="center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    bench = Bench(
        "crdt_ops",
        description="AWLWWMap, GCounter and ORSet side by side with pycrdt",
        argv=argv,
    )
    quick = bench.quick
    n = 5_000 if quick else 100_000
    rounds = 1 if quick else 9  # the machine is shared: medians of many short rounds
    overwrites = n // 2
    writes = n // 10
    keys = [f"key{i}" for i in range(n)]
    rows = bench.rows
    raw: dict[str, Any] = {"n": n, "rounds": rounds}

    def row(metric: str, ours: Any, theirs: Any, unit: str, better: str, ratio: Any) -> None:
        rows.append(
            {
                "metric": metric,
                "crdts": ours,
                "pycrdt": theirs,
                "unit": unit,
                "ratio": ratio,
                "better": better,
            }
        )

    steps = ["puts", "memory", "sizes", "merge", "counter+set"]
    for step in bench.progress(steps, "crdt_ops"):
        if step == "puts":
            t_ours, t_py, t_pytx, t_hlc = [], [], [], []
            for _ in range(rounds):
                t_ours.append(ours_puts(keys))
                t_py.append(pycrdt_sets(keys))
                t_pytx.append(pycrdt_sets(keys, one_transaction=True))
                t_hlc.append(ours_puts_hlc(keys))
            ops_ours, ops_py = n / median(t_ours), n / median(t_py)
            ops_pytx, ops_hlc = n / median(t_pytx), n / median(t_hlc)
            speedup = ops_ours / ops_py
            raw["puts_s"] = {"ours": t_ours, "pycrdt": t_py, "pycrdt_1tx": t_pytx, "hlc": t_hlc}
            row(f"map puts, {n:,} (1 op each)", ops_ours, ops_py, "ops/s", "ours", speedup)
            row(
                "map puts vs pycrdt in ONE transaction",
                ops_ours,
                ops_pytx,
                "ops/s",
                "ours" if ops_ours >= ops_pytx else "pycrdt",
                ops_ours / ops_pytx,
            )
            row("map puts incl. HLC.now() per put", ops_hlc, "", "ops/s", "", "")
            bench.goal("awlwwmap_put_speedup_vs_pycrdt", round(speedup, 3), ">= 2.0")
        elif step == "memory":
            mo = measure_memory("ours", n)
            mh = measure_memory("ours-hlc", n)
            mp = measure_memory("pycrdt", n)
            mt = measure_memory("ours-hlc+tracemalloc", n)
            raw["memory"] = {"ours_int_ts": mo, "ours_hlc": mh, "pycrdt": mp, "ours_hlc_tm": mt}
            ratio = mh["rss"] / mp["rss"]
            row(f"memory, {n:,} keys, HLC ts (RSS)", mh["rss"], mp["rss"], "bytes", "", 1 / ratio)
            row("memory, int ts (RSS)", mo["rss"], mp["rss"], "bytes", "", mp["rss"] / mo["rss"])
            row("memory, HLC ts (tracemalloc, ours)", mt["tracemalloc"], "", "bytes", "", "")
            bench.goal(
                "awlwwmap_memory_vs_pycrdt",
                round(ratio, 3),
                "<= 1.0",
                note="ours / pycrdt, RSS, with HLC timestamps (int timestamps need less)",
            )
        elif step == "sizes":
            sz = sizes(bench, n, overwrites, 100)
            raw["sizes"] = sz
            fo, fp = sz["full_bytes"]
            row("full-state encode size", fo, fp, "bytes", "ours", fp / fo)
            eo, ep = sz["full_encode_s"]
            row("full-state encode time", eo, ep, "s", "", ep / eo)
            do, dp = sz["full_decode_s"]
            row("full-state decode time", do, dp, "s", "", dp / do)
            bench.goal(
                "full_state_encode_vs_pycrdt", round(eo / ep, 2), "<= 2.0", note="ours/pycrdt"
            )
            bench.goal(
                "full_state_decode_vs_pycrdt", round(do / dp, 2), "<= 2.0", note="ours/pycrdt"
            )
            uo, up, ut = sz["update_fresh"]
            row("update after 100 keys change", uo, up, "bytes", "ours", up / uo)
            row("  pycrdt: its transaction's own update", "", ut, "bytes", "", "")
            vo, vp, vt = sz["update_overwritten"]
            row(f"same after {overwrites:,} overwrites", vo, vp, "bytes", "ours", vp / vo)
            row("  pycrdt: its transaction's own update", "", vt, "bytes", "", "")
            bench.goal("update_100_keys_bytes", uo, f"<= {up}", note="target: pycrdt's, this run")
            bench.goal(
                "update_100_keys_after_overwrites_bytes",
                vo,
                f"<= {up}",
                note=f"target: pycrdt's before the overwrites (after them: {vp})",
            )
        elif step == "merge":
            # as many rounds as every other row: with 3, one slow round decided the median
            mg = merges(n, writes, rounds)
            raw["merge_s"] = mg
            so, sd, sp = median(mg["state"]), median(mg["diff"]), median(mg["pycrdt"])
            sw = median(mg["wire"])
            row(f"merge, diverged by {writes:,} writes each", so, sp, "s", "", sp / so)
            row("  ours via diff + merge", sd, sp, "s", "", sp / sd)
            row("  ours via encode(diff) -> decode -> merge", sw, sp, "s", "", sp / sw)
            bench.goal(
                "merge_10k_vs_pycrdt",
                round(so / sp, 2),
                "<= 1.0",
                note="ours (full-state merge, in memory) / pycrdt (apply_update(get_update(sv)))",
            )
        else:
            cs = counter_and_set(n)
            raw["counter_set_s"] = cs
            row(f"GCounter increments, {n:,}", n / cs["gcounter_inc"], "", "ops/s", "", "")
            row(
                f"ORSet adds vs Map-as-set, {n:,}",
                n / cs["orset_add"],
                n / cs["pycrdt_map_as_set_add"],
                "ops/s",
                "",
                cs["pycrdt_map_as_set_add"] / cs["orset_add"],
            )
    for r in rows:  # "better" says who wins; ratio is always ours' advantage (> 1: ours)
        if isinstance(r["ratio"], float) and not r["better"]:
            r["better"] = "ours" if r["ratio"] >= 1 else "pycrdt"
    if not quick:
        png = bench.out.with_suffix(".png")
        _plot(png, rows)
        raw["plot"] = png.name
    bench.finish(extra={"raw": raw})


if __name__ == "__main__":
    main()
