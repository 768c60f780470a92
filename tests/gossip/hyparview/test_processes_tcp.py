"""HyParView across ten OS processes on 127.0.0.1, three of them killed with SIGKILL.

Each node is its own process (``_proc_node.py``): its own encrypted TCP transport on a port the
OS picks, the anyio Host, and HyParView (active view 4, passive view 12). Half run on asyncio,
half on trio, so both backends are exercised, talking to each other. The nodes join through the
first one (the seed) all at once; once the overlay is settled, three nodes die with ``kill -9``
(no DISCONNECT, no FIN from the application: the kernel closes their sockets) and the survivors
must notice through the reliable link and repair their views.

What the protocol guarantees once a repair has run its course, and what is asserted (for the ten
nodes before the kill, and for the seven survivors after it):

- no active view names a dead (or unknown) node, and no survivor is isolated: a node without
  neighbours asks with high priority, which is always accepted;
- active views are symmetric (a link is added on both ends or on neither);
- the survivors form one connected component;
- the views are refilled as far as free slots allow. A low-priority NEIGHBOR is accepted only by
  a node with a free slot, so HyParView does *not* promise every survivor min(active_size,
  survivors - 1) = 4 neighbours: a survivor whose known peers are all full keeps a free slot
  (with seven survivors, one node at 2 and six at 4 is a legal rest state). What it does promise
  is that no two survivors that both have a free slot, and where one knows the other (passive
  view), stay apart: the one with the free slot keeps asking its passive peers every round.
  That is the refill assertion ("saturated"), checked together with the sizes it implies;
- and the state holds: no active view changes for a while (``HOLD_*`` seconds, one round is 1 s).

Every wait polls against a deadline; every process is killed in a ``finally``; each child also
exits when its stdin closes or after ``CHILD_LIFETIME``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.gossip.hyparview._proc_node import CONFIG

ROOT = Path(__file__).resolve().parents[3]
NODES = 10
KILLED = 3
ACTIVE_SIZE = CONFIG.active_size
SPAWN_TIMEOUT = 60.0  # s: ten interpreters importing anyio, trio and cryptography on 2 busy cores
SETTLE_TIMEOUT = 60.0  # s: overlay formation, or repair after the kill (rounds are 1 s)
HOLD_BEFORE = 1.0  # s without any active-view change before the kill
HOLD_AFTER = 2.0  # s without any active-view change after the repair (two rounds)
CHILD_LIFETIME = 360.0  # s: a child outliving the test's deadlines exits by itself


@dataclass
class Proc:
    """A child node process and the latest report read from its stdout (by a reader thread)."""

    index: int
    backend: str
    popen: subprocess.Popen[str]
    stderr_path: Path
    lock: threading.Lock = field(default_factory=threading.Lock)
    ready: dict[str, Any] | None = None
    latest: dict[str, Any] | None = None
    received_at: float = 0.0  # time.monotonic() of the latest report
    thread: threading.Thread | None = None

    @property
    def addr(self) -> str:
        assert self.ready is not None
        return str(self.ready["addr"])

    def read(self) -> None:
        stdout = self.popen.stdout
        assert stdout is not None
        for line in stdout:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                if record.get("kind") == "ready":
                    self.ready = record
                elif record.get("kind") == "view":
                    self.latest = record
                    self.received_at = time.monotonic()

    def report(self, since: float) -> dict[str, Any] | None:
        """The latest view report, if it was read after ``since`` (monotonic seconds)."""
        with self.lock:
            return self.latest if self.latest is not None and self.received_at >= since else None

    def stderr_tail(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")[-1500:]
        except OSError:
            return ""


def spawn(index: int, backend: str, seed: str | None, tmp: Path) -> Proc:
    args = [sys.executable, "-m", "tests.gossip.hyparview._proc_node", "--backend", backend]
    args += ["--lifetime", str(CHILD_LIFETIME)]
    if seed is not None:
        args += ["--seed", seed]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    err_path = tmp / f"node{index}.stderr"
    with err_path.open("w") as err:  # the child keeps its own descriptor
        popen = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
    proc = Proc(index, backend, popen, err_path)
    proc.thread = threading.Thread(target=proc.read, daemon=True)
    proc.thread.start()
    return proc


def wait_ready(procs: list[Proc], deadline: float) -> None:
    while time.monotonic() < deadline:
        if all(p.ready is not None for p in procs):
            return
        dead = [p for p in procs if p.popen.poll() is not None]
        assert not dead, [(p.index, p.popen.returncode, p.stderr_tail()) for p in dead]
        time.sleep(0.05)
    raise AssertionError(
        f"not ready: {[(p.index, p.stderr_tail()) for p in procs if p.ready is None]}"
    )


def problems(views: dict[str, dict[str, Any]], members: set[str]) -> list[str]:
    """What is wrong with the members' reported views (empty: everything the protocol promises)."""
    out = []
    missing = members - views.keys()
    if missing:
        return [f"no fresh report from {sorted(missing)}"]
    active = {a: set(views[a]["active"]) for a in members}
    passive = {a: set(views[a]["passive"]) for a in members}
    for a in sorted(members):
        if not active[a]:
            out.append(f"{a} has no neighbour")
        if active[a] - members:
            out.append(f"{a} lists dead/unknown {sorted(active[a] - members)}")
        for b in sorted(active[a] & members):
            if a not in active[b]:
                out.append(f"asymmetric {a} -> {b}")
    start = min(members)
    seen = {start}
    stack = [start]
    while stack:
        for b in active[stack.pop()] & members:
            if b not in seen:
                seen.add(b)
                stack.append(b)
    if seen != members:
        out.append(f"not connected: {len(seen)} of {len(members)} reachable from {start}")
    free = sorted(a for a in members if len(active[a]) < ACTIVE_SIZE)
    for i, a in enumerate(free):
        for b in free[i + 1 :]:
            if b not in active[a] and (b in passive[a] or a in passive[b]):
                out.append(f"not refilled: {a} and {b} both have a free slot and know each other")
    return out


def settle(procs: list[Proc], members: set[str], since: float, hold: float) -> dict[str, Any]:
    """Poll until the members' views have no problem and no active view changed for ``hold`` s."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    by_addr = {p.addr: p for p in procs}
    good_since: float | None = None
    versions: dict[str, int] = {}
    found: list[str] = ["nothing read yet"]
    while time.monotonic() < deadline:
        views: dict[str, dict[str, Any]] = {}
        for a in members:
            report = by_addr[a].report(since)
            if report is not None:
                views[a] = report
        found = problems(views, members)
        now = time.monotonic()
        current = {a: int(v["version"]) for a, v in views.items()}
        if found or current != versions:
            good_since = None if found else now
            versions = {} if found else current
        elif good_since is not None and now - good_since >= hold:
            return views
        time.sleep(0.1)
    raise AssertionError(
        f"not settled in {SETTLE_TIMEOUT}s: {found}; "
        + "; ".join(f"node{p.index}: {p.stderr_tail()}" for p in procs if p.stderr_tail())
    )


def pick_victims(views: dict[str, dict[str, Any]], seed: str) -> tuple[str, list[str]]:
    """Kill neighbours of one node (so it must refill most of its view), never the seed."""
    candidates = sorted(a for a in views if a != seed)
    target = max(candidates, key=lambda a: (len(set(views[a]["active"]) - {seed}), a))
    victims = sorted(set(views[target]["active"]) - {seed})[:KILLED]
    victims += [a for a in candidates if a != target and a not in victims][: KILLED - len(victims)]
    return target, victims


def stop_all(procs: list[Proc]) -> None:
    for p in procs:
        if p.popen.poll() is None:
            p.popen.send_signal(signal.SIGKILL)
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILL cannot be ignored
            p.popen.wait(timeout=10)
        for stream in (p.popen.stdin, p.popen.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if p.thread is not None:
            p.thread.join(timeout=5)


@pytest.mark.timeout(400)  # above the sum of the deadlines below, so they report first
def test_ten_processes_survive_three_killed(tmp_path: Path) -> None:
    procs: list[Proc] = []
    started = time.monotonic()
    try:
        backends = ["asyncio" if i % 2 == 0 else "trio" for i in range(NODES)]
        procs.append(spawn(0, backends[0], None, tmp_path))
        wait_ready(procs, time.monotonic() + SPAWN_TIMEOUT)
        seed = procs[0].addr
        procs += [spawn(i, backends[i], seed, tmp_path) for i in range(1, NODES)]
        wait_ready(procs, time.monotonic() + SPAWN_TIMEOUT)
        addrs = {p.addr for p in procs}
        assert len(addrs) == NODES  # every node has its own OS-assigned port
        assert {p.ready["backend"] for p in procs if p.ready} == {"asyncio", "trio"}

        before = settle(procs, addrs, 0.0, HOLD_BEFORE)

        target, victims = pick_victims(before, seed)
        dead = set(victims)
        survivors = addrs - dead
        by_addr = {p.addr: p for p in procs}
        failures_before = sum(int(before[a]["failures"]) for a in survivors)
        lost = {a: set(before[a]["active"]) & dead for a in survivors}
        assert any(lost.values())  # a connected overlay: some survivor loses a link
        killed_at = time.monotonic()
        print(f"settled in {killed_at - started:.1f}s; killing {victims} (neighbours of {target})")
        print("before:", {a: before[a]["active"] for a in sorted(addrs)})
        for a in victims:
            by_addr[a].popen.send_signal(signal.SIGKILL)
        for a in victims:
            assert by_addr[a].popen.wait(timeout=10) == -signal.SIGKILL

        after = settle(procs, survivors, killed_at, HOLD_AFTER)
        print(f"repaired and held {HOLD_AFTER}s after {time.monotonic() - killed_at:.1f}s")
        print("after:", {a: after[a]["active"] for a in sorted(survivors)})

        # The survivors heard of the deaths from the reliable link (no one said goodbye).
        assert sum(int(after[a]["failures"]) for a in survivors) > failures_before
        for a in survivors:
            view = set(after[a]["active"])
            assert not view & dead and view <= survivors and view, (a, sorted(view))
        assert by_addr[target].popen.poll() is None
        for p in procs:
            if p.addr in survivors:
                assert p.popen.poll() is None, (p.index, p.stderr_tail())
    finally:
        stop_all(procs)
