"""Fuzzing every decoder a peer can reach and every protocol core's ``handle``.

``python -m benchmarks.fuzz`` feeds mutated *valid* inputs to each target for a time budget and
checks three things (issue 12):

- a decoder raises only its package's typed error (``crdts.DecodeError``, ``sync.PeerError``,
  ``gossip.PeerError``), never anything else;
- nothing escapes a core's ``handle`` (SWIM, HyParView, Plumtree, the sync engine): bad input is
  counted and dropped inside;
- no input costs more than a bounded time per byte (the worst input's seconds per byte, and the
  process's peak RSS, are reported; the goal is the budget below).

The valid inputs (the corpus) are what the cores really send: a seeded simulator run of four nodes
running SWIM, HyParView, Plumtree over it and the sync engine (every message they put on the wire
is kept), plus every CRDT type's encodings and sealed transport packets and handshakes. Transport
inputs are sealed *after* mutation with the cluster key: a key holder's view, the parsers behind
the authentication. Mutations: bit flips, byte changes to interesting values, inserts, deletes,
truncation, duplication of a slice, and splicing two inputs.

Engines: with ``atheris`` installed (``pip install atheris``) and ``--atheris``, one target at a
time is run coverage-guided by libFuzzer in a subprocess; by default the seeded mutation loop
above runs (the test suite runs the same targets through Hypothesis: ``tests/test_fuzz.py``).
"""

from __future__ import annotations

import contextlib
import random
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import crdts
import gossip
import sync
from gossip._events import Effect, PacketReceived, StreamReceived, protocol_of
from gossip.hyparview import HyParView, HyParViewConfig
from gossip.hyparview import _messages as hv_messages
from gossip.plumtree import Plumtree, PlumtreeConfig
from gossip.plumtree import _messages as pt_messages
from gossip.swim import SwimConfig, SwimCore
from gossip.swim import _messages as swim_messages
from gossip.transport._frame import FrameDecoder, encode_frame
from gossip.transport._handshake import Hello, open_hello, seal_hello
from gossip.transport._keyring import Keyring
from gossip.transport._packet import open_packet
from gossip.transport._replay import ReplayGuard, stamp

__all__ = ["CORES", "DECODERS", "Target", "corpus", "mutate"]

# a fixed key: the fuzzer plays a member holding it
KEY = bytes(range(32))
# the cost bound checked per input (the machine is shared: generous, and reported)
BUDGET_BASE_S = 0.25  # s, any input
BUDGET_PER_BYTE_S = 20e-6  # s per input byte on top


@dataclass(frozen=True, slots=True)
class Target:
    """``run(data)`` feeds one input; ``allowed`` are the exceptions it may raise."""

    name: str
    run: Callable[[bytes], object]
    allowed: tuple[type[BaseException], ...]
    seeds: Callable[[], list[bytes]]


# -- the corpus ----------------------------------------------------------------------------------

_CORPUS: dict[str, list[bytes]] | None = None


def corpus() -> dict[str, list[bytes]]:
    """Valid inputs by protocol (``swim``, ``hyparview``, ``plumtree``, ``sync``, ``crdts``),
    from a seeded simulator run; computed once per process."""
    global _CORPUS  # noqa: PLW0603 (a per-process cache of a deterministic computation)
    if _CORPUS is None:
        _CORPUS = _build_corpus()
    return _CORPUS


def _add(replica: str, elem: int, x: Any) -> Any:
    return x.add(replica, elem)


def _join(hv: HyParView, now: float) -> list[Effect]:
    return hv.join(["n0"], now)


def _crdt_samples() -> list[Any]:
    s = crdts.ORSet()
    m = crdts.AWLWWMap()
    o = crdts.ORMap()
    for i in range(4):
        s.add("a", i)
        m.put("a", f"k{i}", i, crdts.HLCTimestamp(i, 0, "a"))
        o.update(f"f{i}", crdts.ORSet, partial(_add, "b", i))
    s.remove(1)
    m.remove("k1")
    g, c, pn, cc = crdts.GSet(), crdts.GCounter(), crdts.PNCounter(), crdts.CausalCounter()
    g.add("x")
    c.increment("a", 3)
    pn.decrement("b", 2)
    cc.increment("a", 5)
    mv, lww, vc = crdts.MVRegister(), crdts.LWWRegister(), crdts.VectorClock()
    mv.set("a", "v")
    lww.set("a", "v", 7)
    vc.increment("a")
    ctx = crdts.CausalContext.from_runs([("a", 1, 40), ("b", 50, 90)])
    samples: list[Any] = [s, m, o, g, c, pn, cc, mv, lww, vc, ctx, crdts.HLCTimestamp(1, 2, "a")]
    return samples + [z for x in (s, m) for z in x.decompose()[:3]]


def _build_corpus() -> dict[str, list[bytes]]:
    from gossip.sim import NodeContext, SimConfig, Simulator

    names = ["n0", "n1", "n2", "n3"]
    sim = Simulator(seed=7, config=SimConfig(trace=True))

    def factory(ctx: NodeContext) -> list[Any]:
        hv = HyParView(ctx.addr, rng=ctx.rng, epoch=ctx.epoch)
        pt = Plumtree(ctx.addr, rng=ctx.rng, neighbors=hv)
        swim = SwimCore(
            ctx.addr, SwimConfig.local(), ctx.rng, seeds=[] if ctx.addr == "n0" else ["n0"]
        )
        eng = sync.SyncEngine(ctx.addr, sync.SyncConfig(sync_interval=0.3), ctx.rng)
        return [swim, hv, pt, eng]

    for n in names:
        sim.add_node(n, factory)
    for n in names[1:]:
        hv: HyParView = sim.core(n, "hyparview")
        sim.call(n, "hyparview", partial(_join, hv))
    sim.run_for(2.0)
    for i, n in enumerate(names):
        eng: sync.SyncEngine = sim.core(n, "sync")
        sim.call(n, "sync", partial(eng.set_neighbors, [m for m in names if m != n]))
        for k in range(3):
            eng.update(f"k{k}", partial(_add, n, i), create=crdts.ORSet)
        pt: Plumtree = sim.core(n, "plumtree")
        sim.call(n, "plumtree", partial(pt.broadcast, b"hello %d" % i))
    sim.run_for(3.0)
    out: dict[str, list[bytes]] = {"swim": [], "hyparview": [], "plumtree": [], "sync": []}
    seen: set[bytes] = set()
    for ev in sim.trace:
        if ev.kind != "send":
            continue
        payload = ev.detail[2]
        assert isinstance(payload, bytes)
        proto = protocol_of(payload)
        if proto in out and payload not in seen:
            seen.add(payload)
            out[proto].append(payload)
    out["crdts"] = [crdts.encode(x) for x in _crdt_samples()]
    return out


# -- mutations -----------------------------------------------------------------------------------

_INTERESTING = [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xC0, 0xC1, 0xC2, 0xC3, 0xCC, 0xCF, 0xD3, 0xDC, 0xDD]
_INTERESTING += [0xDE, 0xDF, 0x90, 0x9F, 0xC4, 0xC6, 0xD9, 0xDB, 0xA0, 0xBF, 0x91]


def mutate(data: bytes, rng: random.Random, other: bytes = b"") -> bytes:
    """One to four random mutations of ``data`` (``other``: a second input to splice from)."""
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(8)
        n = len(b)
        if op == 0 and n:
            i = rng.randrange(n)
            b[i] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            b[rng.randrange(n)] = rng.choice(_INTERESTING)
        elif op == 2:
            i = rng.randrange(n + 1)
            b[i:i] = bytes(rng.choice(_INTERESTING) for _ in range(rng.randint(1, 8)))
        elif op == 3 and n:
            i = rng.randrange(n)
            del b[i : i + rng.randint(1, 8)]
        elif op == 4 and n:
            del b[rng.randrange(n) :]
        elif op == 5 and n:
            i = rng.randrange(n)
            j = min(n, i + rng.randint(1, 32))
            k = rng.randrange(n + 1)
            b[k:k] = b[i:j] * rng.randint(1, 64)
        elif op == 6 and other:
            i = rng.randrange(len(b) + 1)
            j = rng.randrange(len(other) + 1)
            b = b[:i] + other[j:]
        elif n:  # a big msgpack length header where a small one was
            i = rng.randrange(n)
            b[i : i + 1] = rng.choice(
                [b"\xdc\xff\xff", b"\xdd\x7f\xff\xff\xff", b"\xc6\xff\xff\xff"]
            )
    return bytes(b)


# -- decoders ------------------------------------------------------------------------------------


def _open_sealed_packet(data: bytes) -> object:
    ring = Keyring([KEY])
    now = 1_000.0
    sealed = ring.seal(b"packet", stamp(data, now), bind=b"me")
    return open_packet(ring, sealed, "me", ReplayGuard(), now)


def _packet_seeds() -> list[bytes]:
    src = b"n1"
    return [bytes((len(src),)) + src + p for p in corpus()["swim"][:20]]


def _open_sealed_hello(data: bytes) -> object:
    ring = Keyring([KEY])
    now = 1_000.0
    return open_hello(ring, ring.seal(b"hello", stamp(data, now)), ReplayGuard(), now)


def _hello_seeds() -> list[bytes]:
    ring = Keyring([KEY])
    sealed = seal_hello(
        ring, Hello(versions=(2, 2), epoch=3, addr="n1", nonce=bytes(16), dst="me"), 1_000.0
    )
    plain = ring.open(b"hello", sealed).plaintext
    return [plain[8:]] if len(plain) > 8 else [plain]  # the body after the stamp


def _frames(data: bytes) -> object:
    dec = FrameDecoder(1 << 16)
    for i in range(0, len(data), 7):  # fed in small pieces, as a socket may
        dec.feed(data[i : i + 7])
    return dec.buffered


def _frame_seeds() -> list[bytes]:
    return [b"".join(encode_frame(p) for p in corpus()["sync"][:5])]


def _crdts_decode(data: bytes) -> object:
    x = crdts.decode(data)
    if isinstance(x, crdts.CausalContext):
        return x.count()  # its value lists every dot it claims: not a receive-path call
    return getattr(x, "value", x)


DECODERS: list[Target] = [
    Target("crdts.decode", _crdts_decode, (crdts.DecodeError,), lambda: corpus()["crdts"]),
    Target("sync.decode_message", sync.decode_message, (sync.PeerError,), lambda: corpus()["sync"]),
    Target(
        "swim.decode_message",
        swim_messages.decode_message,
        (gossip.PeerError,),
        lambda: corpus()["swim"],
    ),
    Target(
        "hyparview.decode", hv_messages.decode, (gossip.PeerError,), lambda: corpus()["hyparview"]
    ),
    Target(
        "plumtree.decode", pt_messages.decode, (gossip.PeerError,), lambda: corpus()["plumtree"]
    ),
    Target("transport.frames", _frames, (gossip.PeerError,), _frame_seeds),
    Target("transport.packet", _open_sealed_packet, (gossip.PeerError,), _packet_seeds),
    Target("transport.handshake", _open_sealed_hello, (gossip.PeerError,), _hello_seeds),
]


# -- cores ---------------------------------------------------------------------------------------


def _swim() -> SwimCore:
    core = SwimCore("me", SwimConfig.local(), random.Random(1), known=["n1", "n2"])
    core.start(0.0)
    return core


def _hyparview() -> HyParView:
    core = HyParView("me", rng=random.Random(1), config=HyParViewConfig())
    core.start(0.0)
    core.join(["n1"], 0.0)
    return core


def _plumtree() -> Plumtree:
    core = Plumtree("me", rng=random.Random(1), config=PlumtreeConfig())
    core.start(0.0)
    return core


def _sync() -> sync.SyncEngine:
    eng = sync.SyncEngine("me", sync.SyncConfig(), random.Random(1))
    eng.start(0.0)
    eng.update("k0", lambda x: x.add("me", 1), create=crdts.ORSet)
    for n in ("n0", "n1", "n2", "n3"):
        eng.neighbor_up(n, 0.0)
    return eng


def _core_target(name: str, make: Callable[[], Any], proto: str) -> Target:
    state: dict[str, Any] = {}

    def run(data: bytes) -> list[Effect]:
        core = state.get("core")
        if core is None or state["fed"] >= 500:  # a fresh core now and then
            core = state["core"] = make()
            state["fed"] = 0
        state["fed"] += 1
        src = ("n0", "n1", "n2", "n3")[len(data) % 4]
        out: list[Effect] = core.handle(StreamReceived(src, data), 1.0)
        out += core.handle(PacketReceived(src, data), 1.0)
        return out

    return Target(f"{name}.handle", run, (), lambda: corpus()[proto])


CORES: list[Target] = [
    _core_target("swim", _swim, "swim"),
    _core_target("hyparview", _hyparview, "hyparview"),
    _core_target("plumtree", _plumtree, "plumtree"),
    _core_target("sync", _sync, "sync"),
]


# -- the long run --------------------------------------------------------------------------------


@dataclass(slots=True)
class Report:
    target: str
    inputs: int = 0
    typed_errors: int = 0
    escaped: int = 0
    worst_s: float = 0.0
    worst_s_per_byte: float = 0.0
    worst_len: int = 0
    over_budget: int = 0
    noisy: int = 0  # over budget once, within it on a rerun
    first_escape: str = ""
    first_slow: str = ""


def check_one(t: Target, data: bytes, rep: Report) -> None:
    """Feed one input, classify the outcome and its cost."""
    start = time.perf_counter()
    try:
        t.run(data)
    except t.allowed:
        rep.typed_errors += 1
    except Exception as exc:  # what must never happen: recorded, not raised
        rep.escaped += 1
        if not rep.first_escape:
            rep.first_escape = f"{type(exc).__name__}: {exc!s:.200} on {data[:64].hex()}"
    dt = time.perf_counter() - start
    rep.inputs += 1
    if dt > rep.worst_s:
        rep.worst_s, rep.worst_len = dt, len(data)
    rep.worst_s_per_byte = max(rep.worst_s_per_byte, dt / max(1, len(data)))
    budget = BUDGET_BASE_S + BUDGET_PER_BYTE_S * len(data)
    if dt > budget:
        # the machine is shared: an input is over budget only if it stays over on three reruns
        # (a scheduler pause or a garbage collection costs one run, not the input)
        best = dt
        for _ in range(3):
            t0 = time.perf_counter()
            with contextlib.suppress(Exception):
                t.run(data)
            best = min(best, time.perf_counter() - t0)
        rep.noisy += 1
        if best > budget:
            rep.over_budget += 1
            if not rep.first_slow:
                rep.first_slow = f"{best:.3f} s on {len(data)} bytes: {data[:64].hex()}"


def fuzz_target(t: Target, seconds: float, seed: int) -> Report:
    rng = random.Random(seed)
    seeds = t.seeds()
    rep = Report(t.name)
    for s in seeds:
        check_one(t, s, rep)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for _ in range(50):
            data = mutate(rng.choice(seeds), rng, rng.choice(seeds))
            check_one(t, data, rep)
    return rep


def _atheris_main(
    name: str, seconds: float, artifacts: str
) -> None:  # pragma: no cover (subprocess entry)
    import atheris  # type: ignore[import-not-found, import-untyped, unused-ignore]

    t = {x.name: x for x in DECODERS + CORES}[name]
    seeds = t.seeds()

    def one(data: bytes) -> None:
        with contextlib.suppress(*t.allowed):
            t.run(data)

    import os
    import tempfile

    d = tempfile.mkdtemp(prefix="fuzz-corpus-", dir=artifacts or None)
    for i, s in enumerate(seeds):
        with open(os.path.join(d, f"seed{i}"), "wb") as f:
            f.write(s)
    atheris.instrument_all()
    atheris.Setup(
        [
            sys.argv[0],
            f"-max_total_time={int(seconds)}",
            "-max_len=65536",
            "-rss_limit_mb=2048",
            "-timeout=10",  # s: one input slower than this is a finding
            *([f"-artifact_prefix={artifacts}"] if artifacts else []),
            d,
        ],
        one,
    )
    atheris.Fuzz()


def _run_atheris(bench: Any, t: Target, seconds: float) -> Report:
    """One coverage-guided run in a subprocess; libFuzzer's own summary is parsed."""
    import re
    import subprocess
    import tempfile

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fuzz-artifacts-") as art:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.fuzz",
                "--atheris-target",
                t.name,
                "--seconds",
                str(seconds),
                "--artifacts",
                art + "/",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    log = proc.stderr
    runs = re.findall(r"Done (\d+) runs", log)
    cov = re.findall(r"cov: (\d+) ft: (\d+)", log)
    crashed = proc.returncode != 0
    tail = " | ".join(log.strip().splitlines()[-4:]) if crashed else ""
    bench.row(
        target=t.name,
        engine="atheris",
        inputs=int(runs[-1]) if runs else 0,
        coverage_edges=int(cov[-1][0]) if cov else 0,
        features=int(cov[-1][1]) if cov else 0,
        escaped=int(crashed),
        wall_s=round(time.perf_counter() - t0, 1),
    )
    if crashed:
        bench.log(f"{t.name}: {tail[:400]}")
    return Report(
        t.name, inputs=int(runs[-1]) if runs else 0, escaped=int(crashed), first_escape=tail
    )


def main() -> None:
    import argparse

    from benchmarks._harness import Bench

    def add(p: argparse.ArgumentParser) -> None:
        p.add_argument("--seconds", type=float, default=None, help="budget per target (s)")
        p.add_argument("--seed", type=int, default=12)
        p.add_argument(
            "--atheris", action="store_true", help="coverage-guided, one subprocess per target"
        )
        p.add_argument("--atheris-target", default=None, help=argparse.SUPPRESS)
        p.add_argument("--artifacts", default="", help=argparse.SUPPRESS)

    bench = Bench(
        "fuzz", description="mutated valid inputs into every decoder and core", add_arguments=add
    )
    a = bench.args
    if a.atheris_target:
        _atheris_main(a.atheris_target, a.seconds or 60.0, a.artifacts)
        return
    seconds = a.seconds if a.seconds is not None else (2.0 if bench.quick else 60.0)
    bench.log("building the corpus (a simulator run)")
    sizes = {k: len(v) for k, v in corpus().items()}
    targets = DECODERS + CORES
    reports: list[Report] = []
    for i, t in enumerate(bench.progress(targets, "targets")):
        if a.atheris:
            reports.append(_run_atheris(bench, t, seconds))
            continue
        rep = fuzz_target(t, seconds, a.seed + i)
        reports.append(rep)
        bench.row(
            target=t.name,
            inputs=rep.inputs,
            typed_errors=rep.typed_errors,
            escaped=rep.escaped,
            worst_ms=round(rep.worst_s * 1e3, 2),
            worst_len=rep.worst_len,
            worst_us_per_byte=round(rep.worst_s_per_byte * 1e6, 2),
            over_budget=rep.over_budget,
            rerun_within=rep.noisy - rep.over_budget,
        )
        if rep.first_escape:
            bench.log(f"{t.name}: {rep.first_escape}")
        if rep.first_slow:
            bench.log(f"{t.name}: slow: {rep.first_slow}")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    bench.goal("inputs_escaping_typed_errors", sum(r.escaped for r in reports), "<= 0")
    bench.goal("inputs_over_cost_budget", sum(r.over_budget for r in reports), "<= 0")
    bench.goal("peak_rss_mib", round(rss / 2**20, 1), "<= 1024")
    bench.finish(
        extra={
            "corpus_sizes": sizes,
            "seconds_per_target": seconds,
            "budget": {"base_s": BUDGET_BASE_S, "per_byte_s": BUDGET_PER_BYTE_S},
            "escapes": {r.target: r.first_escape for r in reports if r.first_escape},
            "slow": {r.target: r.first_slow for r in reports if r.first_slow},
        }
    )


if __name__ == "__main__":
    main()
