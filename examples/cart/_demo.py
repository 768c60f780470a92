"""``python -m examples.cart demo``: three cart nodes on localhost, ready to click on.

Each node is its own process (``python -m examples.cart node ...``), as it would be on three
machines: killing one (even with kill -9) leaves the others serving. The demo makes a cluster key
(once, in the demo folder), starts the nodes, waits until each answers over HTTP, prints the URLs
and what to try, and on Ctrl-C (or SIGTERM) stops them all and exits 0. The data stays in the
folder, so the next run starts with the carts of the last.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

__all__ = ["DemoNode", "add_demo_arguments", "demo_nodes", "run_demo", "write_key_file"]

NAMES = ("a", "b", "c")
START_TIMEOUT = 30.0  # s for every node to answer /health


@dataclass(frozen=True, kw_only=True, slots=True)
class DemoNode:
    name: str
    http: str
    gossip: str
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://{self.http}/"


def add_demo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--dir",
        type=Path,
        default=Path("cart-demo"),
        help="folder for the key and the nodes' data (default: ./cart-demo)",
    )
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    p.add_argument("--http-port", type=int, default=8001, help="first HTTP port (default 8001)")
    p.add_argument(
        "--gossip-port", type=int, default=7001, help="first cluster port (default 7001)"
    )


def write_key_file(path: Path) -> bool:
    """Create a cluster key file at ``path`` unless one is there; True if it made one."""
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(32)  # what gossip.Keyring.generate_key() returns
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.hex() + "\n")
    return True


def demo_nodes(folder: Path, host: str, http_port: int, gossip_port: int) -> list[DemoNode]:
    return [
        DemoNode(
            name=n,
            http=f"{host}:{http_port + i}",
            gossip=f"{host}:{gossip_port + i}",
            data_dir=folder / f"node-{n}",
        )
        for i, n in enumerate(NAMES)
    ]


def node_command(node: DemoNode, seeds: list[str], key_file: Path | None) -> list[str]:
    cmd = [
        sys.executable,
        "-m",
        "examples.cart",
        "node",
        "--name",
        node.name,
        "--http",
        node.http,
        "--gossip",
        node.gossip,
        "--data-dir",
        str(node.data_dir),
    ]
    for s in seeds:
        cmd += ["--seed", s]
    if key_file is not None:
        cmd += ["--key-file", str(key_file)]
    return cmd


def wait_healthy(url: str, proc: subprocess.Popen[bytes], deadline: float) -> bool:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(url + "health", timeout=1.0) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.1)
    return False


class _StopError(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _StopError


def run_demo(ns: argparse.Namespace) -> int:
    folder: Path = ns.dir
    key_file = folder / "cluster.key"
    made = write_key_file(key_file)
    nodes = demo_nodes(folder, ns.host, ns.http_port, ns.gossip_port)
    print(f"cluster key: {key_file} ({'new' if made else 'kept from the last run'})")
    print(f"data: {folder}/node-{{a,b,c}} (SQLite; delete the folder to start empty)")
    procs: list[subprocess.Popen[bytes]] = []
    # Ctrl-C reaches the whole process group; the nodes stop on their own SIGINT, and the demo
    # waits for them instead of dying first
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    try:
        for node in nodes:
            seeds = [n.gossip for n in nodes if n is not node]
            cmd = node_command(node, seeds, key_file)
            procs.append(subprocess.Popen(cmd))
        deadline = time.monotonic() + START_TIMEOUT
        for node, proc in zip(nodes, procs, strict=True):
            if not wait_healthy(node.url, proc, deadline):
                print(f"node {node.name} did not start (see its output above)", file=sys.stderr)
                return 1
        a, b, c = nodes
        print(
            f"""
The cart cluster is up: three nodes, each its own process with its own SQLite data.

  node a: {a.url}   (pid {procs[0].pid})
  node b: {b.url}   (pid {procs[1].pid})
  node c: {c.url}   (pid {procs[2].pid})

Try:
  1. Open {a.url} and {b.url} side by side. Add an item on a: it appears on b by itself.
  2. On b, press "Go offline". Remove the item on a and change the cart on b.
     Press "Go online": both sides merge; an item re-added on b survives a's removal (add wins).
  3. From a shell:
       curl -X PUT {a.url}carts/alice/items/apple -d '{{"qty": 3}}'
       curl {c.url}carts/alice
       curl {c.url}cluster
       curl {a.url}metrics
  4. kill -9 a node's pid: the other pages show it suspect, then dead (the demo keeps
     the other two running).

Ctrl-C stops the cluster.""",
            flush=True,
        )
        reported: set[str] = set()
        while len(reported) < len(procs):
            time.sleep(0.5)
            for n, p in zip(nodes, procs, strict=True):
                if p.poll() is not None and n.name not in reported:
                    reported.add(n.name)
                    print(f"node {n.name} exited (status {p.returncode})", flush=True)
        print("every node exited; the demo ends", file=sys.stderr)
        return 1
    except _StopError:
        print("\nstopping the cluster ...", flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        print("stopped.", flush=True)
