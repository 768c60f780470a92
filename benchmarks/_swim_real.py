"""Part 6 of ``benchmarks.swim``: SWIM members as OS processes on loopback, ours against kinship
(Rust, Python bindings) and HashiCorp's memberlist (Go) in the same run.

How it measures, and why this way
---------------------------------
Each member runs in its own process and **only runs the protocol**: membership events are
appended to a file as JSON lines, and nothing else wakes the process (no stats reader, no
printing loop, no ``events(timeout=...)`` poll). Everything else is read from outside, the same
way for every implementation:

- CPU: the sum over the process's threads of ``/proc/PID/task/TID/schedstat`` (run time in ns;
  ``/proc/PID/stat``'s 10 ms ticks are too coarse for a member at rest);
- wake-ups: the sum over its threads of voluntary + involuntary context switches
  (``/proc/PID/task/TID/status``);
- datagrams: an nftables counter per member port on the input hook (needs root and the Debian
  ``nftables`` package; without them datagrams are reported as unknown).

An earlier version of this benchmark had every worker wake once a second to read its stats and
print a line, and kinship's worker polled ``events(timeout=1.0)``: the polling was most of
kinship's measured idle CPU and made the ratio flatter us (recorded 1.86x; 5.5-6x measured
without the loops). docs/swim.md keeps the correction.

memberlist is the Debian package ``golang-github-hashicorp-memberlist-dev`` (0.2.2) built with
``golang-go`` in GOPATH mode from ``benchmarks/memberlist_member/main.go`` (``DefaultLANConfig``,
a 32-byte key as ours), into a temporary folder at the start of the run.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._harness import Bench, median, percentile

ROOT = Path(__file__).resolve().parent.parent
IMPLS = ("ours", "kinship", "memberlist")
BASE_PORT = {"ours": 27100, "kinship": 27300, "memberlist": 27500}
NFT_TABLE = "deltamesh_swim_bench"
MEMBERLIST_PACKAGE = "golang-github-hashicorp-memberlist-dev"
MEMBERLIST_HELP = (
    "memberlist needs Go and the Debian package of memberlist: "
    "apt-get install golang-go golang-github-hashicorp-memberlist-dev "
    "(or leave it out with --real-impls ours,kinship)"
)


# -- the members (one per process) ----------------------------------------------------------


def worker(argv: list[str]) -> None:
    """``_worker IMPL INDEX PORT SEED_PORT KEY EVENTS_FILE``: run one member until killed."""
    impl, index, port, seed_port, key, path = argv[0], *map(int, argv[1:4]), argv[4], argv[5]
    seeds = [] if port == seed_port else [f"127.0.0.1:{seed_port}"]
    out = open(path, "a", buffering=1)  # noqa: SIM115 (open for the process's lifetime)

    def say(ev: str, who: int) -> None:
        out.write(json.dumps({"ev": ev, "who": who, "t": time.time()}) + "\n")

    if impl == "kinship":
        _kinship_member(index, port, seeds, key, say)
    else:
        import anyio

        anyio.run(_our_member, port, seeds, bytes.fromhex(key), say)


async def _our_member(
    port: int, seeds: list[str], key: bytes, say: Callable[[str, int], None]
) -> None:
    import anyio

    from gossip.runtime import Host
    from gossip.swim import MemberDead, MemberJoined, MemberRecovered, MemberSuspected, SwimCore
    from gossip.swim import SwimConfig as Cfg
    from gossip.transport import Keyring, NetTransport, TransportConfig

    kinds = {
        MemberJoined: "join",
        MemberSuspected: "suspect",
        MemberDead: "dead",
        MemberRecovered: "alive",
    }

    def on_event(ev: object) -> None:
        kind = kinds.get(type(ev))
        if kind is not None:
            say(kind, int(ev.addr.rsplit(":", 1)[1]) - BASE_PORT["ours"])  # type: ignore[attr-defined]

    async with NetTransport(
        TransportConfig.lan(host="127.0.0.1", port=port),
        keyring=Keyring([key], cluster="swim-bench"),
        epoch=1,
    ) as transport:
        import dataclasses
        import random

        # A host running SWIM alone: each push-pull's link is closed once the reply came, as
        # memberlist closes its push-pull connection (the default keeps links open because a
        # Node's other cores share them).
        cfg = dataclasses.replace(Cfg.lan(), close_push_pull_links=True)
        core = SwimCore(transport.local_addr, cfg, random.Random(port), seeds=seeds)
        async with Host(transport, [core], on_event=on_event):
            await anyio.sleep_forever()


def _kinship_member(
    index: int, port: int, seeds: list[str], key: str, say: Callable[[str, int], None]
) -> None:
    import kinship
    from kinship.blocking import Cluster

    cfg = kinship.Config.lan(name=f"k{index}", bind=f"127.0.0.1:{port}", seeds=seeds, keys=[key])
    kinds = {
        kinship.MemberJoined: "join",
        kinship.MemberSuspect: "suspect",
        kinship.MemberDead: "dead",
        kinship.MemberRecovered: "alive",
    }
    with Cluster(cfg) as cluster:
        for ev in cluster.events():  # blocks in Rust with the GIL released: no poll
            kind = kinds.get(type(ev))
            if kind is not None:
                say(kind, int(ev.member.name[1:]))  # type: ignore[union-attr]


def _debian_gopath() -> str | None:
    """The GOPATH root under which Debian's memberlist package installed its sources."""
    if shutil.which("dpkg") is None:
        return None
    listing = subprocess.run(
        ["dpkg", "-L", MEMBERLIST_PACKAGE], capture_output=True, text=True, check=False
    )
    suffix = "/src/github.com/hashicorp/memberlist"
    for line in listing.stdout.splitlines():
        if line.endswith(suffix):
            return line[: -len(suffix)]
    return None


def build_memberlist(folder: Path) -> Path:
    """Build the Go member into ``folder`` (GOPATH mode over Debian's Go packages)."""
    gopath = _debian_gopath()
    if shutil.which("go") is None or gopath is None:
        raise SystemExit(MEMBERLIST_HELP)
    binary = folder / "memberlist_member"
    env = dict(
        os.environ,
        GO111MODULE="off",
        GOPATH=f"{gopath}:{folder / 'gopath'}",
        GOCACHE=str(folder / "gocache"),
    )
    subprocess.run(
        ["go", "build", "-o", str(binary), "main.go"],
        cwd=ROOT / "benchmarks" / "memberlist_member",
        env=env,
        check=True,
    )
    return binary


# -- reading a process from outside -----------------------------------------------------------


def _tasks(pid: int) -> list[Path]:
    try:
        return list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return []


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid`` so far, from the scheduler's ns counters."""
    total = 0
    for task in _tasks(pid):
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # the thread ended between listing and reading
    return total / 1e9


def context_switches(pid: int) -> int:
    """Voluntary + involuntary context switches of every thread of ``pid``: its wake-ups."""
    total = 0
    for task in _tasks(pid):
        try:
            for line in (task / "status").read_text().splitlines():
                if line.endswith("ctxt_switches:") or "ctxt_switches:" in line:
                    total += int(line.split(":")[1])
        except (OSError, ValueError):
            continue
    return total


class Datagrams:
    """Datagrams received per member port, counted by nftables on the input hook."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.ok = False
        if os.geteuid() != 0 or shutil.which("nft") is None:
            return
        rules = [
            f"add table inet {NFT_TABLE}",
            f"add chain inet {NFT_TABLE} input {{ type filter hook input priority -10 ; }}",
        ]
        rules += [f"add rule inet {NFT_TABLE} input udp dport {p} counter" for p in ports]
        self.close()
        proc = subprocess.run(
            ["nft", "-f", "-"], check=False, input="\n".join(rules), text=True, capture_output=True
        )
        self.ok = proc.returncode == 0

    def read(self) -> dict[int, int]:
        if not self.ok:
            return {}
        out = subprocess.run(
            ["nft", "-j", "list", "chain", "inet", NFT_TABLE, "input"],
            capture_output=True,
            text=True,
            check=False,
        )
        counts: dict[int, int] = {}
        for item in json.loads(out.stdout or "{}").get("nftables", []):
            rule = item.get("rule")
            if not rule:
                continue
            port = packets = None
            for expr in rule["expr"]:
                if "match" in expr:
                    port = expr["match"]["right"]
                elif "counter" in expr:
                    packets = expr["counter"]["packets"]
            if isinstance(port, int) and isinstance(packets, int):
                counts[port] = packets
        return counts

    def close(self) -> None:
        subprocess.run(
            ["nft", "delete", "table", "inet", NFT_TABLE], capture_output=True, check=False
        )


class Member:
    """One member process and its events file."""

    def __init__(self, impl: str, index: int, key: str, folder: Path, binary: Path | None):
        self.impl, self.index = impl, index
        self.port = BASE_PORT[impl] + index
        self.path = folder / f"{impl}-{index}.jsonl"
        self.path.touch()
        seed = str(BASE_PORT[impl])
        if impl == "memberlist":
            assert binary is not None
            cmd = [str(binary), str(index), str(self.port), seed, key, str(self.path)]
        else:
            cmd = [
                sys.executable,
                "-m",
                "benchmarks._swim_real",
                "_worker",
                impl,
                str(index),
                str(self.port),
                seed,
                key,
                str(self.path),
            ]
        self.p = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT
        )
        self.events: list[dict[str, Any]] = []
        self._offset = 0

    def poll(self) -> list[dict[str, Any]]:
        """Read the events written since the last call (the member appends whole lines)."""
        with self.path.open() as f:
            f.seek(self._offset)
            chunk = f.read()
        end = chunk.rfind("\n") + 1
        self._offset += len(chunk[:end].encode())
        for line in chunk[:end].splitlines():
            try:
                self.events.append(json.loads(line))
            except ValueError:
                continue
        return self.events

    def joined(self) -> set[int]:
        return {e["who"] for e in self.poll() if e["ev"] == "join"} - {self.index}

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


def scenario(
    bench: Bench, impl: str, n: int, kills: int, idle: float, binary: Path | None
) -> dict[str, Any]:
    """Start ``n`` members, measure ``idle`` seconds at rest, then ``kill -9`` them one by one."""
    if impl == "kinship":
        import kinship._kinship as kk

        key = kk.generate_key()
    else:
        key = secrets.token_hex(32)
    with tempfile.TemporaryDirectory(prefix="swim-bench-") as tmp:
        folder = Path(tmp)
        members = [Member(impl, 0, key, folder, binary)]
        time.sleep(1.0)
        members += [Member(impl, i, key, folder, binary) for i in range(1, n)]
        counter = Datagrams([m.port for m in members])
        try:
            ok = _wait(lambda: all(len(m.joined()) >= n - 1 for m in members), 60.0)
            bench.log(f"{impl}: {n} members converged: {ok}")
            time.sleep(5.0)  # let the join gossip drain
            ev0 = sum(len(m.poll()) for m in members)
            pids = [m.p.pid for m in members]
            cpu0, sw0, dg0 = (
                [cpu_seconds(p) for p in pids],
                [context_switches(p) for p in pids],
                counter.read(),
            )
            t0 = time.monotonic()
            time.sleep(idle)
            cpu1, sw1, dg1 = (
                [cpu_seconds(p) for p in pids],
                [context_switches(p) for p in pids],
                counter.read(),
            )
            t1 = time.monotonic()
            span = t1 - t0
            idle_events = sum(len(m.poll()) for m in members) - ev0
            cpu = [(b - a) / span for a, b in zip(cpu0, cpu1, strict=True)]
            wakes = [(b - a) / span for a, b in zip(sw0, sw1, strict=True)]
            dgrams = [(dg1[p] - dg0[p]) / span for p in counter.ports if p in dg0 and p in dg1]
            dead_lat, suspect_lat, first_suspect, all_marked = _kill_one_by_one(members, kills)
            alive_idx = {m.index for m in members if m.p.poll() is None}
            wrong = sum(
                1
                for m in members
                if m.index in alive_idx
                for e in m.poll()
                if e["ev"] == "dead" and e["who"] in alive_idx
            )
        finally:
            for m in members:
                m.kill()
            counter.close()
    return {
        "n": n,
        "converged": ok,
        "idle_s": idle,
        "idle_cpu_fraction_median": statistics.median(cpu),
        "idle_cpu_fraction_mean": statistics.fmean(cpu),
        "idle_wakeups_per_s_median": statistics.median(wakes),
        "idle_datagrams_received_per_s_median": statistics.median(dgrams) if dgrams else None,
        "idle_membership_events": idle_events,
        "kills": kills,
        "kills_marked_dead_by_all": all_marked,
        "healthy_declared_dead": wrong,
        "dead_latency_s": sorted(dead_lat),
        "suspect_latency_s": sorted(suspect_lat),
        "first_suspect_s": first_suspect,
    }


def _kill_one_by_one(
    members: list[Member], kills: int
) -> tuple[list[float], list[float], list[float], int]:
    alive = list(members)
    dead_lat: list[float] = []
    suspect_lat: list[float] = []
    first_suspect: list[float] = []
    all_marked = 0
    for k in range(kills):
        victim = alive[len(alive) // 2 + k % 3]
        alive.remove(victim)
        marks = [len(m.poll()) for m in alive]
        t_kill = time.time()
        victim.kill()

        def everyone(v: Member = victim, marks: list[int] = marks) -> bool:
            return all(
                any(e["ev"] == "dead" and e["who"] == v.index for e in m.poll()[mark:])
                for m, mark in zip(alive, marks, strict=True)
            )

        all_marked += _wait(everyone, 90.0)
        this_kill: list[float] = []
        for m, mark in zip(alive, marks, strict=True):
            evs = [e for e in m.events[mark:] if e["who"] == victim.index]
            if d := [e["t"] - t_kill for e in evs if e["ev"] == "dead"]:
                dead_lat.append(min(d))
            if s := [e["t"] - t_kill for e in evs if e["ev"] == "suspect"]:
                this_kill.append(min(s))
        suspect_lat += this_kill
        if this_kill:
            first_suspect.append(min(this_kill))
        time.sleep(3.0)
    return dead_lat, suspect_lat, first_suspect, all_marked


def merge_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """One implementation's rounds as one result: latencies pooled, counts summed, idle figures
    the median of the rounds' medians."""
    out = dict(rounds[0])
    for key in ("dead_latency_s", "suspect_latency_s"):
        out[key] = sorted(x for r in rounds for x in r[key])
    out["first_suspect_s"] = [x for r in rounds for x in r["first_suspect_s"]]
    for key in (
        "kills",
        "kills_marked_dead_by_all",
        "healthy_declared_dead",
        "idle_membership_events",
    ):
        out[key] = sum(r[key] for r in rounds)
    for key in (
        "idle_cpu_fraction_median",
        "idle_cpu_fraction_mean",
        "idle_wakeups_per_s_median",
        "idle_datagrams_received_per_s_median",
    ):
        values = [r[key] for r in rounds if r[key] is not None]
        out[key] = statistics.median(values) if values else None
    out["converged"] = all(r["converged"] for r in rounds)
    out["rounds"] = len(rounds)
    return out


def _p50_p99(xs: list[float]) -> str:
    return f"p50 {median(xs):.2f} s p99 {percentile(xs, 99):.2f} s" if xs else "none"


def _ratio(a: float | None, b: float | None) -> float:
    return round(a / b, 3) if a is not None and b else float("nan")


def bench_real(bench: Bench, prediction: dict[str, float]) -> dict[str, Any]:
    """Run every implementation ``--real-rounds`` times, rotating which goes first."""
    args = bench.args
    n, kills, idle = args.real_nodes, args.real_kills, args.real_idle
    impls = [i.strip() for i in args.real_impls.split(",") if i.strip()]
    if bench.quick:
        n, kills, idle = min(n, 8), 1, 5.0
    rounds = 1 if bench.quick else args.real_rounds
    out: dict[str, Any] = {"prediction": prediction, "impls": impls}
    with tempfile.TemporaryDirectory(prefix="memberlist-build-") as build:
        binary = build_memberlist(Path(build)) if "memberlist" in impls else None
        per: dict[str, list[dict[str, Any]]] = {i: [] for i in impls}
        for rnd in range(rounds):  # rotate the order so a drift in load falls on all alike
            order = impls[rnd % len(impls) :] + impls[: rnd % len(impls)]
            for impl in order:
                bench.log(f"round {rnd + 1}/{rounds}: {impl}")
                per[impl].append(scenario(bench, impl, n, kills, idle, binary))
    for impl in impls:
        out[impl] = r = merge_rounds(per[impl])
        dg = r["idle_datagrams_received_per_s_median"]
        bench.row(
            part="6 real sockets",
            case=impl,
            n=n,
            runs=r["kills"],
            result=f"dead at survivors {_p50_p99(r['dead_latency_s'])}; first suspicion "
            f"{_p50_p99(r['suspect_latency_s'])}; {r['kills_marked_dead_by_all']}/{r['kills']} "
            f"kills dead at all; idle CPU {100 * r['idle_cpu_fraction_median']:.4f}% of a core "
            f"(mean {100 * r['idle_cpu_fraction_mean']:.4f}%), "
            f"{r['idle_wakeups_per_s_median']:.1f} wake-ups/s, "
            f"{'?' if dg is None else f'{dg:.2f}'} datagrams/s in; "
            f"{r['idle_membership_events']} idle events",
        )
    bench.row(
        part="6 real sockets",
        case="simulator prediction",
        n=n,
        runs=prediction["samples"],
        result=f"dead at survivors p50 {prediction['dead_p50_s']:.2f} s p99 "
        f"{prediction['dead_p99_s']:.2f} s; first suspicion p50 "
        f"{prediction['suspect_p50_s']:.2f} s; phases (p50): first ping of the victim "
        f"{prediction['phase_first_ping_p50_s']:.2f} s, probe to own suspicion "
        f"{prediction['phase_probe_p50_s']:.2f} s, suspicion to first dead "
        f"{prediction['phase_suspicion_p50_s']:.2f} s, to the last survivor "
        f"{prediction['phase_spread_p50_s']:.3f} s",
    )
    _goals(bench, out, impls)
    return out


def _goals(bench: Bench, out: dict[str, Any], impls: list[str]) -> None:
    ours = out["ours"]
    bench.goal(
        "real_every_survivor_marks_dead",
        ours["kills_marked_dead_by_all"] / max(ours["kills"], 1),
        ">= 1.0",
        note=f"{ours['kills_marked_dead_by_all']}/{ours['kills']} kill -9 dead at every survivor",
    )
    bench.goal(
        "real_false_positives",
        ours["idle_membership_events"] + ours["healthy_declared_dead"],
        "<= 0",
        note="suspect/dead events while idle plus healthy members declared dead, ours",
    )
    if "kinship" not in impls:
        return
    kin = out["kinship"]
    if ours["dead_latency_s"] and kin["dead_latency_s"]:
        bench.goal(
            "real_detection_p50_vs_kinship",
            _ratio(median(ours["dead_latency_s"]), median(kin["dead_latency_s"])),
            "<= 1.0",
            note=f"dead at every survivor, p50: ours {median(ours['dead_latency_s']):.2f} s, "
            f"kinship {median(kin['dead_latency_s']):.2f} s ({ours['kills']} kills each)",
        )
    bench.goal(
        "real_idle_cpu_vs_kinship",
        _ratio(ours["idle_cpu_fraction_median"], kin["idle_cpu_fraction_median"]),
        "<= 1.5",
        note=f"CPU per member at rest, median: ours {100 * ours['idle_cpu_fraction_median']:.4f}%"
        f", kinship {100 * kin['idle_cpu_fraction_median']:.4f}% of a core (moonshot 1.0x)",
    )
    bench.goal(
        "real_idle_datagrams_vs_kinship",
        _ratio(
            ours["idle_datagrams_received_per_s_median"],
            kin["idle_datagrams_received_per_s_median"],
        ),
        "<= 1.0",
        note="datagrams received per member per s at rest",
    )
    if "memberlist" in impls:
        ml = out["memberlist"]
        if ours["dead_latency_s"] and ml["dead_latency_s"]:
            bench.goal(
                "real_detection_p50_vs_memberlist",
                _ratio(median(ours["dead_latency_s"]), median(ml["dead_latency_s"])),
                "<= 1.0",
                note=f"dead at every survivor, p50: ours {median(ours['dead_latency_s']):.2f} s, "
                f"memberlist {median(ml['dead_latency_s']):.2f} s",
            )
        bench.goal(
            "real_idle_cpu_vs_memberlist",
            _ratio(ours["idle_cpu_fraction_median"], ml["idle_cpu_fraction_median"]),
            "<= 1.0",
            note=f"CPU per member at rest: memberlist "
            f"{100 * ml['idle_cpu_fraction_median']:.4f}% of a core",
        )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        worker(sys.argv[2:])
