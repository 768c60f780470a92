"""Storage: group-commit throughput and latency on SQLite, and startup of a data dir of 1M objects.

    python -m benchmarks.storage            # full run (1,000,000 objects)
    python -m benchmarks.storage --quick    # small run (CI)

1. **Group commit.** ``W`` concurrent writers (anyio tasks) each write, mark and ``await
   wait_durable()`` in a loop through one :class:`~sync.storage.GroupCommitter` over an
   :class:`~sync.storage.SQLiteStore` (WAL, ``synchronous=FULL``): acknowledged writes/s, commits/s,
   keys per commit, and the latency of ``wait_durable`` (p50/p99). ``encode_state`` returns prebuilt
   bytes, so the figures are storage's alone; one row re-encodes a small cart with ``crdts.encode``
   per key at commit time, as the Node does.
2. **Startup.** A data dir holding ``N`` small objects (a one-item cart, 53 bytes encoded) is
   reopened in a fresh process: ``open_data_dir`` + a full streaming ``scan`` (storage's part), and
   ``open_data_dir`` + ``load_objects(crdts.decode)`` (scan + decode into live objects, what a Node
   does at start): seconds and peak RSS of that process.
"""

from __future__ import annotations

import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

import crdts
from benchmarks._harness import RESULTS_DIR, Bench, median, percentile
from crdts import AWLWWMap, HLCTimestamp
from sync.storage import GroupCommitter, SQLiteStore, load_objects, open_data_dir

REPLICA = "bench-0123456789abcdef"


def small_cart(i: int) -> AWLWWMap:
    m = AWLWWMap()
    m.put(REPLICA, "apple", i % 10, HLCTimestamp(1_700_000_000_000 + i, 0, REPLICA))
    return m


async def group_commit(
    path: Path, writers: int, total: int, keyspace: int, real_encode: bool
) -> dict[str, Any]:
    store = SQLiteStore(path)
    carts: dict[str, AWLWWMap] = {}
    blob = crdts.encode(small_cart(0))

    def encode_state(key: str) -> bytes | None:
        if real_encode:
            return crdts.encode(carts[key])
        return blob

    lat: list[float] = []
    per_writer = max(1, total // writers)
    rng = random.Random(writers)
    async with GroupCommitter(store, encode_state) as gc:

        async def writer(w: int) -> None:
            clock = anyio.current_time
            for _ in range(per_writer):
                key = f"cart:{rng.randrange(keyspace):07d}"
                if real_encode:
                    cart = carts.get(key)
                    if cart is None:
                        cart = carts[key] = AWLWWMap()
                    cart.put(REPLICA, "apple", w, HLCTimestamp(w, 0, REPLICA))
                t0 = clock()
                gc.mark(key)
                await gc.wait_durable()
                lat.append(clock() - t0)

        t = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for w in range(writers):
                tg.start_soon(writer, w)
        elapsed = time.perf_counter() - t
    store.close()
    writes = per_writer * writers
    return {
        "writers": writers,
        "encode": "crdts.encode" if real_encode else "prebuilt",
        "writes": writes,
        "writes_per_s": round(writes / elapsed),
        "commits_per_s": round(gc.commits / elapsed),
        "keys_per_commit": round(gc.keys_committed / max(1, gc.commits), 1),
        "lat_p50_ms": round(median(lat) * 1000, 3),
        "lat_p99_ms": round(percentile(lat, 99) * 1000, 3),
    }


def populate(path: Path, n: int) -> float:
    """Write ``n`` small carts (distinct contents) into a new data dir; seconds taken."""
    store, _ = open_data_dir(path, "bench")
    t = time.perf_counter()
    step = 50_000
    for lo in range(0, n, step):
        store.commit(
            {f"cart:{i:07d}": crdts.encode(small_cart(i)) for i in range(lo, min(n, lo + step))}, {}
        )
    elapsed = time.perf_counter() - t
    store.close()
    return elapsed


def child_startup(path: str, mode: str) -> None:
    """Run in a fresh process: open the dir and scan (or load) everything; print JSON."""
    t = time.perf_counter()
    store, _info = open_data_dir(path, "bench")
    opened = time.perf_counter() - t
    if mode == "scan":
        n = sum(1 for _ in store.scan())
        corrupt = len(store.corrupt)
    else:
        loaded = load_objects(store, crdts.decode)
        n, corrupt = len(loaded.objects), len(loaded.corrupt)
    total = time.perf_counter() - t
    store.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB (Linux)
    print(
        json.dumps(
            {
                "mode": mode,
                "objects": n,
                "corrupt": corrupt,
                "open_s": opened,
                "total_s": total,
                "peak_rss_mib": rss,
            }
        )
    )


def startup(path: Path, mode: str) -> dict[str, Any]:
    code = f"from benchmarks.storage import child_startup; child_startup({str(path)!r}, {mode!r})"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def plot(rows: list[dict[str, Any]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pre = [r for r in rows if r.get("encode") == "prebuilt"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    ws = [r["writers"] for r in pre]
    a.plot(ws, [r["writes_per_s"] for r in pre], "o-", label="acknowledged writes/s")
    a.plot(ws, [r["commits_per_s"] for r in pre], "s--", label="transactions (fsyncs)/s")
    a.set_xscale("log")
    a.set_yscale("log")
    a.set_xlabel("concurrent writers")
    a.set_title("group commit on SQLite (WAL, synchronous=FULL)")
    a.legend()
    b.plot(ws, [r["lat_p50_ms"] for r in pre], "o-", label="p50")
    b.plot(ws, [r["lat_p99_ms"] for r in pre], "s--", label="p99")
    b.set_xscale("log")
    b.set_yscale("log")
    b.set_xlabel("concurrent writers")
    b.set_ylabel("write to durable (ms)")
    b.set_title("wait_durable latency")
    b.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    bench = Bench("storage", description=__doc__ or "", argv=argv)
    quick = bench.quick
    n_objects = 20_000 if quick else 1_000_000
    writers = [1, 16, 256] if quick else [1, 4, 16, 64, 256, 1024, 4096]
    total = 3_000 if quick else 60_000
    tmp = Path(tempfile.mkdtemp(prefix="deltamesh-bench-storage-"))
    extra: dict[str, Any] = {}
    try:
        gc_rows = []
        for w in bench.progress(writers, "group commit"):
            writes = min(total, max(200, 200 * w))  # one writer waits an fsync per write
            r = anyio.run(group_commit, tmp / f"gc{w}", w, writes, 100_000, False)
            shutil.rmtree(tmp / f"gc{w}")
            gc_rows.append(r)
            bench.row(case="group_commit", **r)
        wbig = writers[-2] if len(writers) > 2 else writers[-1]
        r = anyio.run(group_commit, tmp / "gcenc", wbig, total, 100_000, True)
        shutil.rmtree(tmp / "gcenc")
        gc_rows.append(r)
        bench.row(case="group_commit", **r)

        bench.log(f"populating {n_objects:,} objects")
        write_s = populate(tmp / "big", n_objects)
        size = sum(f.stat().st_size for f in (tmp / "big").iterdir())
        bench.row(
            case="populate",
            objects=n_objects,
            seconds=round(write_s, 2),
            rows_per_s=round(n_objects / write_s),
            dir_mib=round(size / 2**20, 1),
        )
        startups = {}
        for mode in bench.progress(["scan", "load"], "startup"):
            s = startup(tmp / "big", mode)
            startups[mode] = s
            bench.row(
                case=f"startup_{mode}",
                objects=s["objects"],
                seconds=round(s["total_s"], 2),
                open_s=round(s["open_s"], 3),
                peak_rss_mib=round(s["peak_rss_mib"]),
            )
        extra = {"group_commit": gc_rows, "startup": startups, "populate_s": write_s}

        best = max(r["writes_per_s"] for r in gc_rows if r["encode"] == "prebuilt")
        bench.goal(
            "group_commit_writes_per_s",
            best,
            ">= 20000",
            note="acknowledged durable writes/s, best over writer counts (storage alone)",
        )
        one = gc_rows[0]
        bench.goal(
            "single_writer_p99_ms",
            one["lat_p99_ms"],
            "<= 50",
            note="one writer: every write waits for its own fsync",
        )
        per_million = 1_000_000 / n_objects
        bench.goal(
            "startup_scan_1m_s",
            round(startups["scan"]["total_s"] * per_million, 2),
            "<= 5",
            note=f"open + streaming scan of {n_objects:,} objects, scaled to 1M",
        )
        bench.goal(
            "startup_load_1m_s",
            round(startups["load"]["total_s"] * per_million, 2),
            "<= 60",
            note=f"open + scan + crdts.decode of {n_objects:,}, scaled to 1M",
        )
        plot(
            gc_rows,
            (bench.out.parent if bench.args.out else RESULTS_DIR)
            / ("storage.quick.png" if quick else "storage.png"),
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    bench.finish(extra=extra)


if __name__ == "__main__":
    main()
