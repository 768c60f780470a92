"""Load on the cart service: simulated shoppers (aiohttp or httpx, async) against a 3-node cluster.

Three real node processes (``python -m examples.cart node``, SQLite data, the cluster key) on
loopback. Each shopper owns one user and loops: add an item (a fresh item name per add, a random
quantity), now and then read its cart, now and then remove an item it added. Requests go to a
random node; a remove goes to the node that acknowledged the add (read-your-writes: a remove only
removes what that node has seen, so one sent elsewhere may legitimately find nothing yet).

Phases:

1. **max**: closed loop, every shopper as fast as it can: requests/s across the cluster.
2. **paced**: the shoppers together held to half the rate measured in phase 1; node ``c`` is
   killed with SIGKILL a third of the way in and restarted (same data dir) at two thirds.
   Latency p50/p99 of the successful requests (measured from send to answer; requests to the dead
   node fail fast and are counted as errors, not acknowledged).

Then the cluster must converge, and every acknowledged request must be reflected on every node:
an acknowledged add is there (unless its remove was acknowledged), an acknowledged remove is not.
``lost`` counts the violations. Items whose request failed (e.g. sent to the node being killed)
are left out of the check, since the client cannot know whether they were applied.

The load generator runs on the same machine as the three nodes (2 cores here), so it competes
with them for CPU: the figures are a floor for the service, not its ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from benchmarks._harness import Bench, percentile
from examples.cart._demo import write_key_file
from examples.cart._procs import NodeProcess, start_cluster

GOAL_RPS = 2000.0  # requests/s across the cluster
GOAL_P99 = 0.100  # s at half the max rate
REQUEST_TIMEOUT = 5.0  # s, one request
MAX_CART_ITEMS = 20  # a shopper's cart holds at most this many items (then it removes)
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass
class Shopper:
    user: str
    rng: random.Random
    next_item: int = 0
    # item -> index of the node that acknowledged its add (a remove goes there)
    live: dict[str, int] = field(default_factory=dict)
    acked_add: dict[str, int] = field(default_factory=dict)  # item -> qty
    acked_remove: set[str] = field(default_factory=set)
    uncertain: set[str] = field(default_factory=set)  # a request that failed in flight


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)  # s, successful requests
    sent_at: list[float] = field(default_factory=list)  # s since the phase began, same order
    methods: list[str] = field(default_factory=list)  # same order
    ok: int = 0
    errors: int = 0
    started: float = 0.0
    ended: float = 0.0
    client_cpu_s: float = 0.0  # CPU the load generator itself used

    @property
    def seconds(self) -> float:
        return max(1e-9, self.ended - self.started)


class Pacer:
    """Hands out send slots at ``rate`` per second across all shoppers (none when rate is 0)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.next = time.perf_counter()

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.perf_counter()
        slot = max(self.next, now)
        self.next = slot + self.interval
        if slot > now:
            await asyncio.sleep(slot - now)


class RequestFailedError(Exception):
    """A request got no answer (refused, reset, timed out): the node may or may not have
    applied it. A refused connection proves nothing either: aiohttp sends an idempotent request
    (PUT and DELETE are) once more on a new connection when a kept-alive one breaks, so the
    refusal may follow a first attempt that the node applied and died before answering."""


class Client:
    """What a shopper sends requests through: ``request`` returns the HTTP status, or raises
    :class:`RequestFailedError`. One per load-generator process."""

    def __init__(self, shoppers: int) -> None:
        self.shoppers = shoppers

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def request(self, shopper: int, method: str, url: str, body: bytes | None) -> int:
        raise NotImplementedError


class AiohttpClient(Client):
    """aiohttp: one ``ClientSession`` (one keep-alive connection pool, HTTP/1.1, no TLS) shared
    by every shopper of the process. The default: it costs the generator about a fifth of the CPU
    per request httpx does (docs/cart.md), so the figures measure the nodes, not the client."""

    def __init__(self, shoppers: int) -> None:
        super().__init__(shoppers)
        # a connection per shopper and node at most: the pool never makes a shopper wait
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=max(1, shoppers)),
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        )

    async def __aexit__(self, *exc: object) -> None:
        await self._session.close()

    async def request(self, shopper: int, method: str, url: str, body: bytes | None) -> int:
        headers = JSON_HEADERS if body is not None else None
        try:
            async with self._session.request(method, url, data=body, headers=headers) as res:
                await res.read()
                return res.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RequestFailedError from exc


class HttpxClient(Client):
    """httpx (``--client httpx``): one ``AsyncClient`` per shopper, made before the clock starts
    (each costs an SSL context). Not one shared client: httpx's pool gets slower per request as
    more tasks share it (measured here: about 4x the CPU per request of a client per shopper;
    encode/httpx#3215)."""

    def __init__(self, shoppers: int) -> None:
        super().__init__(shoppers)
        self._clients = [httpx.AsyncClient(timeout=REQUEST_TIMEOUT) for _ in range(shoppers)]

    async def __aexit__(self, *exc: object) -> None:
        for c in self._clients:
            await c.aclose()

    async def request(self, shopper: int, method: str, url: str, body: bytes | None) -> int:
        headers = JSON_HEADERS if body is not None else None
        try:
            res = await self._clients[shopper].request(method, url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise RequestFailedError from exc
        return res.status_code


CLIENTS: dict[str, type[Client]] = {"aiohttp": AiohttpClient, "httpx": HttpxClient}


async def one_request(
    client: Client, slot: int, shopper: Shopper, urls: Sequence[str], phase: Phase
) -> None:
    rng = shopper.rng
    r = rng.random()
    item: str | None = None
    qty = 0
    if shopper.live and (r < 0.15 or (r >= 0.35 and len(shopper.live) >= MAX_CART_ITEMS)):
        # remove (and, once the cart holds MAX_CART_ITEMS, every add becomes a remove: a
        # shopper's cart stays the size of a real one instead of growing for the whole run)
        item = rng.choice(list(shopper.live))
        node = shopper.live[item]
        method, body = "DELETE", None
    elif r < 0.35:
        node = rng.randrange(len(urls))
        method, body = "GET", None
    else:
        node = rng.randrange(len(urls))
        item = f"i{shopper.next_item}"
        shopper.next_item += 1
        qty = rng.randint(1, 9)
        method, body = "PUT", b'{"qty":%d}' % qty
    url = f"{urls[node]}/carts/{shopper.user}" + ("" if item is None else f"/items/{item}")
    t0 = time.perf_counter()
    try:
        status = await client.request(slot, method, url, body)
    except RequestFailedError:
        phase.errors += 1
        if item is not None:  # left out of the final check: it may or may not have happened
            shopper.uncertain.add(item)
        return
    dt = time.perf_counter() - t0
    if status != 200:
        phase.errors += 1
        if item is not None:
            shopper.uncertain.add(item)
        return
    phase.ok += 1
    phase.latencies.append(dt)
    phase.sent_at.append(t0 - phase.started)
    phase.methods.append(method)
    if method == "PUT" and item is not None:
        shopper.acked_add[item] = qty
        shopper.live[item] = node
    elif method == "DELETE" and item is not None:
        shopper.acked_remove.add(item)
        shopper.live.pop(item, None)


async def run_phase(
    phase: Phase,
    shoppers: list[Shopper],
    urls: Sequence[str],
    seconds: float,
    rate: float,
    events: Sequence[tuple[float, Any]] = (),
    start_at: float | None = None,
    client: str = "aiohttp",
) -> None:
    """Run ``shoppers`` for ``seconds`` (``rate`` req/s in all, 0 = as fast as they can), from
    wall-clock time ``start_at`` if given; ``events`` (offset s, blocking action) meanwhile.
    The client is made before the clock starts."""
    async with CLIENTS[client](len(shoppers)) as http:
        # open the keep-alive connections before the clock starts (a shopper per node at once),
        # so the first requests of a phase do not pay for hundreds of TCP handshakes
        await asyncio.gather(
            *(
                http.request(i, "GET", f"{url}/health", None)
                for i in range(len(shoppers))
                for url in urls
            ),
            return_exceptions=True,
        )
        if start_at is not None and start_at > time.time():
            await asyncio.sleep(start_at - time.time())
        pacer = Pacer(rate)
        phase.started = time.perf_counter()
        stop_at = phase.started + seconds

        async def loop(slot: int, s: Shopper) -> None:
            while time.perf_counter() < stop_at:
                await pacer.wait()
                await one_request(http, slot, s, urls, phase)

        async def timeline() -> None:
            for at, action in events:
                delay = phase.started + at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                await asyncio.to_thread(action)

        await asyncio.gather(timeline(), *(loop(i, s) for i, s in enumerate(shoppers)))
        phase.ended = time.perf_counter()


def expected_violations(shoppers: list[Shopper], carts: dict[str, dict[str, int]]) -> list[str]:
    bad: list[str] = []
    for s in shoppers:
        cart = carts.get(s.user, {})
        for item, qty in s.acked_add.items():
            if item in s.uncertain:
                continue
            if item in s.acked_remove:
                if item in cart:
                    bad.append(f"{s.user}/{item}: removed (acknowledged) but present")
            elif cart.get(item) != qty:
                bad.append(
                    f"{s.user}/{item}: added qty {qty} (acknowledged), found {cart.get(item)}"
                )
    return bad


async def read_carts(urls: Sequence[str], users: list[str]) -> list[dict[str, dict[str, int]]]:
    async with httpx.AsyncClient(timeout=10.0) as client:
        out: list[dict[str, dict[str, int]]] = []
        for url in urls:
            carts: dict[str, dict[str, int]] = {}
            for u in users:
                res = await client.get(f"{url}/carts/{u}")
                res.raise_for_status()
                carts[u] = res.json()["items"]
            out.append(carts)
        return out


async def converge(
    urls: Sequence[str], users: list[str], timeout: float
) -> tuple[float, list[dict[str, dict[str, int]]]]:
    t0 = time.perf_counter()
    while True:
        views = await read_carts(urls, users)
        if all(v == views[0] for v in views) or time.perf_counter() - t0 > timeout:
            return time.perf_counter() - t0, views
        await asyncio.sleep(0.25)


def nodes_cpu(nodes: Sequence[NodeProcess]) -> float:
    """CPU seconds (user + system) the node processes have used so far."""
    import psutil  # type: ignore[import-untyped]

    total = 0.0
    for n in nodes:
        assert n.proc is not None
        t = psutil.Process(n.proc.pid).cpu_times()
        total += t.user + t.system
    return total


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shoppers", type=int, default=None, help="concurrent shoppers")
    p.add_argument("--seconds", type=float, default=None, help="length of each phase (s)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=None, help="load-generator processes")
    p.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default="aiohttp",
        help="HTTP client of the shoppers (aiohttp: one shared pool per process; httpx: a "
        "client per shopper, the costlier one)",
    )
    p.add_argument(
        "--memory",
        action="store_true",
        help="nodes without data dirs (in memory), to see what SQLite durability costs",
    )


def per_second(ph: Phase) -> tuple[list[int], list[float], list[float]]:
    """The phase's latency second by second (by send time): seconds, p50 and p99 in ms."""
    buckets: dict[int, list[float]] = {}
    for lat, at in zip(ph.latencies, ph.sent_at, strict=True):
        buckets.setdefault(int(at), []).append(lat)
    secs = sorted(buckets)
    return (
        secs,
        [round(percentile(buckets[t], 50) * 1000, 2) for t in secs],
        [round(percentile(buckets[t], 99) * 1000, 2) for t in secs],
    )


def plot(
    path: Path, phases: list[Phase], kill_at: float, restart_at: float, cpu_bound: float
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 4))
    for ph in phases:
        lat_ms = sorted(x * 1000 for x in ph.latencies)
        if lat_ms:
            ys = [i / len(lat_ms) for i in range(len(lat_ms))]
            axes[0].plot(lat_ms, ys, label=f"{ph.name} ({ph.ok / ph.seconds:,.0f} req/s)")
    axes[0].set_xscale("log")
    axes[0].set_xlabel("latency (ms, log)")
    axes[0].set_ylabel("fraction of requests")
    axes[0].axvline(GOAL_P99 * 1000, color="grey", ls=":", label="p99 goal")
    axes[0].legend()
    axes[0].set_title("latency CDF")
    names = [ph.name for ph in phases]
    axes[1].bar(names, [ph.ok / ph.seconds for ph in phases], color=["#4c72b0", "#dd8452"])
    # what the measured CPU per request would allow if the machine's cores were free
    axes[1].bar(
        ["max if the CPUs\nwere free"], [cpu_bound], color="white", edgecolor="#4c72b0", hatch="//"
    )
    axes[1].axhline(GOAL_RPS, color="grey", ls=":", label="goal (max phase)")
    axes[1].set_ylabel("successful requests/s (3 nodes)")
    axes[1].set_title(f"throughput (c killed at {kill_at:.0f} s, back at {restart_at:.0f} s)")
    axes[1].legend()
    paced = phases[-1]
    secs, p50s, p99s = per_second(paced)
    axes[2].plot(secs, p99s, marker=".", label="p99")
    axes[2].plot(secs, p50s, marker=".", label="p50")
    axes[2].set_yscale("log")
    axes[2].axhline(GOAL_P99 * 1000, color="grey", ls=":", label="p99 goal")
    axes[2].axvline(kill_at, color="red", ls="--", label="c killed")
    axes[2].axvline(restart_at, color="green", ls="--", label="c restarted")
    axes[2].set_xlabel(f"s into phase {paced.name}")
    axes[2].set_ylabel("latency (ms, log)")
    axes[2].set_title("paced phase, second by second")
    axes[2].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _worker(
    name: str,
    shoppers: list[Shopper],
    urls: list[str],
    seconds: float,
    rate: float,
    start_at: float,
    client: str,
) -> tuple[Phase, list[Shopper]]:
    """One load-generator process: its share of the shoppers for one phase."""
    phase = Phase(name)
    cpu0 = time.process_time()
    asyncio.run(run_phase(phase, shoppers, urls, seconds, rate, start_at=start_at, client=client))
    phase.client_cpu_s = time.process_time() - cpu0
    return phase, shoppers


def run_distributed(
    name: str,
    shoppers: list[Shopper],
    urls: list[str],
    seconds: float,
    rate: float,
    workers: int,
    client: str,
    events: Sequence[tuple[float, Any]] = (),
) -> tuple[Phase, list[Shopper]]:
    """Run a phase in ``workers`` processes (shoppers dealt round-robin, the rate split evenly);
    ``events`` (offset s, action) run in this process meanwhile. Returns the merged phase and
    the shoppers as the workers left them."""
    chunks = [shoppers[i::workers] for i in range(workers)]
    # every worker starts together, once its interpreter is up and its clients are made
    start_at = time.time() + 3.0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [
            pool.submit(_worker, name, chunk, urls, seconds, rate / workers, start_at, client)
            for chunk in chunks
        ]
        for at, action in events:
            delay = start_at + at - time.time()
            if delay > 0:
                time.sleep(delay)
            action()
        results = [f.result() for f in futures]
    merged = Phase(name)
    out: list[Shopper] = []
    for ph, ss in results:
        merged.ok += ph.ok
        merged.errors += ph.errors
        merged.latencies += ph.latencies
        merged.sent_at += ph.sent_at
        merged.methods += ph.methods
        merged.client_cpu_s += ph.client_cpu_s
        out += ss
    # the workers' clocks are perf_counter of different processes: use the longest phase
    merged.started = 0.0
    merged.ended = max(ph.seconds for ph, _ in results)
    return merged, sorted(out, key=lambda s: int(s.user.removeprefix("shopper")))


def main(argv: Sequence[str] | None = None) -> None:
    bench = Bench(
        "cart_load",
        description="shoppers against a 3-node cart cluster",
        argv=argv,
        add_arguments=add_arguments,
    )
    quick = bench.quick
    # 256: at 96 the three nodes and the generator used one core of two at a load average of 4
    # (each shopper waits for its answer, so 96 were latency-bound: a PUT waits for its group
    # commit); 256 fill both cores, and the larger commit batches are what saturation means here
    n_shoppers = bench.args.shoppers or (8 if quick else 256)
    seconds = bench.args.seconds or (3.0 if quick else 20.0)
    workers = bench.args.workers or 1  # one aiohttp process uses ~0.2 ms of CPU per request
    client = bench.args.client
    rng = random.Random(bench.args.seed)
    shoppers = [
        Shopper(user=f"shopper{i}", rng=random.Random(rng.getrandbits(64)))
        for i in range(n_shoppers)
    ]
    users = [s.user for s in shoppers]
    load_start = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="cart_load-") as tmp:
        folder = Path(tmp)
        key = folder / "cluster.key"
        write_key_file(key)
        bench.log(f"starting 3 nodes in {folder}")
        nodes: list[NodeProcess] = start_cluster(
            folder, key_file=key, persist=not bench.args.memory
        )
        try:
            urls = [n.url for n in nodes]
            bench.log(f"phase max: {n_shoppers} shoppers in {workers} processes, {seconds} s")
            cpu0 = nodes_cpu(nodes)
            ph_max, shoppers = run_distributed("max", shoppers, urls, seconds, 0.0, workers, client)
            node_cpu_s = nodes_cpu(nodes) - cpu0
            max_rps = ph_max.ok / ph_max.seconds
            # the paced phase starts from a settled cluster: what the max phase left to
            # replicate is shipped first, so its latencies are those of the paced rate
            settle_s, _ = asyncio.run(converge(urls, users, timeout=60.0))
            bench.log(f"settled in {settle_s:.1f} s after phase max")
            half = max_rps / 2
            victim = nodes[2]
            kill_at, restart_at = seconds / 3, 2 * seconds / 3

            def kill() -> None:
                bench.log(f"kill -9 node {victim.name}")
                victim.kill9()

            def restart() -> None:
                bench.log(f"restart node {victim.name}")
                victim.start()
                victim.wait_healthy()

            bench.log(f"phase paced: {half:,.0f} req/s, {seconds} s, kill/restart of c")
            ph_paced, shoppers = run_distributed(
                "paced",
                shoppers,
                urls,
                seconds,
                half,
                workers,
                client,
                events=[(kill_at, kill), (restart_at, restart)],
            )
            if victim.proc is None or victim.proc.poll() is not None:
                victim.start()
                victim.wait_healthy()
            bench.log("waiting for convergence")
            conv_s, views = asyncio.run(converge(urls, users, timeout=60.0))
            converged = all(v == views[0] for v in views)
            if not converged:
                for n, v in zip(nodes, views, strict=True):
                    differ = sum(1 for u in users if v.get(u) != views[0].get(u))
                    items = sum(len(c) for c in v.values())
                    bench.log(f"NOT converged: {n.name} holds {items} items, {differ} carts != a's")
            violations = [x for v in views for x in expected_violations(shoppers, v)]
            lost = len(violations)
            for line in violations[:10]:
                bench.log("LOST " + line)
            acked = sum(len(s.acked_add) + len(s.acked_remove) for s in shoppers)
            uncertain = sum(len(s.uncertain) for s in shoppers)
        finally:
            for n in nodes:
                n.stop()
    for ph in (ph_max, ph_paced):
        bench.row(
            phase=ph.name,
            shoppers=n_shoppers,
            seconds=round(ph.seconds, 2),
            ok=ph.ok,
            errors=ph.errors,
            req_per_s=round(ph.ok / ph.seconds, 1),
            p50_ms=round(percentile(ph.latencies, 50) * 1000, 2),
            p99_ms=round(percentile(ph.latencies, 99) * 1000, 2),
        )
    # the paced phase by window: before the kill, while c is down or rejoining (until 5 s after
    # its restart), and after
    windows = [
        ("before kill", 0.0, kill_at),
        ("c down + 5 s", kill_at, restart_at + 5.0),
        ("after", restart_at + 5.0, float("inf")),
    ]
    for label, lo, hi in windows:
        lat = [x for x, t in zip(ph_paced.latencies, ph_paced.sent_at, strict=True) if lo <= t < hi]
        if lat:
            bench.row(
                phase=f"paced: {label}",
                ok=len(lat),
                p50_ms=round(percentile(lat, 50) * 1000, 2),
                p99_ms=round(percentile(lat, 99) * 1000, 2),
            )
    # and by method: a read answers from memory, a write waits for its commit to disk
    for ph in (ph_max, ph_paced):
        for method in ("GET", "PUT", "DELETE"):
            lat = [x for x, m in zip(ph.latencies, ph.methods, strict=True) if m == method]
            if lat:
                bench.row(
                    phase=f"{ph.name}: {method}",
                    ok=len(lat),
                    p50_ms=round(percentile(lat, 50) * 1000, 2),
                    p99_ms=round(percentile(lat, 99) * 1000, 2),
                )
    p99_paced = percentile(ph_paced.latencies, 99)
    bench.goal("requests_per_s", round(max_rps, 1), f">= {GOAL_RPS:.0f}")
    bench.goal(
        "p99_ms_at_half_rate",
        round(p99_paced * 1000, 2),
        f"< {GOAL_P99 * 1000:.0f}",
        note="paced phase, includes the kill -9 and restart of node c",
    )
    bench.goal("lost_acknowledged_writes", lost, "== 0", note=f"{acked} acknowledged writes")
    bench.goal("converged", 1 if converged else 0, "== 1")
    # what the CPU per request of phase max (nodes + load generator) would allow if every core
    # of the machine were theirs: the service's rate on this machine alone, CPU being the limit
    cpu_bound = (os.cpu_count() or 1) * ph_max.ok / max(1e-9, node_cpu_s + ph_max.client_cpu_s)
    png = bench.out.with_suffix(".png")
    plot(png, [ph_max, ph_paced], kill_at, restart_at, cpu_bound)
    bench.finish(
        extra={
            "cpus_shared_with_load_generator": os.cpu_count(),
            "load_generator_processes": workers,
            "client": client,
            # other work on the machine at the time (1-minute load average, start and end)
            "loadavg_1m": [load_start, round(os.getloadavg()[0], 2)],
            "acknowledged_writes": acked,
            "uncertain_writes": uncertain,
            "converge_seconds": round(conv_s, 2),
            "settle_seconds_after_max": round(settle_s, 2),
            # CPU the three nodes spent per request in the max phase: what the service costs,
            # whatever else the machine was doing (wall-clock figures depend on that)
            "max_phase_node_cpu_s": round(node_cpu_s, 2),
            "node_cpu_ms_per_request": round(1000 * node_cpu_s / max(1, ph_max.ok), 3),
            "requests_per_node_cpu_s": round(ph_max.ok / max(1e-9, node_cpu_s), 1),
            "load_generator_cpu_ms_per_request": round(
                1000 * ph_max.client_cpu_s / max(1, ph_max.ok), 3
            ),
            # the cores the nodes and the load generator got in the max phase (of the machine's
            # cpus; the rest went to other work), and the rate those CPU costs per request would
            # allow if every core were theirs: what the service would do on this machine alone
            "max_phase_cores_obtained": round(
                (node_cpu_s + ph_max.client_cpu_s) / ph_max.seconds, 2
            ),
            "req_per_s_if_cpus_were_free": round(cpu_bound),
            "paced_by_second": dict(
                zip(("second", "p50_ms", "p99_ms"), per_second(ph_paced), strict=True)
            ),
            "kill_at_s": kill_at,
            "restart_at_s": restart_at,
            "plot": png.name,
        }
    )


if __name__ == "__main__":
    main()
