"""Separate hosts (issue 10): three network namespaces joined by veth pairs and a bridge, loss from
nftables (``numgen random mod 20 == 0 drop``: 5 % of what each host receives), latency and
datagram duplication from :class:`~gossip.transport.FaultyTransport` (the kernel has no ``netem``),
a partition as a link set down. Writes on both sides of the partition, heal, convergence, no lost
write.

The test creates and deletes its namespaces (the bridge lives in a fourth, so the machine's own
network is never touched). It needs root (CI runs as root) and installs the Debian ``nftables``
package when ``nft`` is missing; if either fails it fails loudly, never skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sync.node._runner import NodeProcess, converged, wait_for, write_key_file

SUBNET = "10.213.{}.{}"  # a private /24 of our own, inside the namespaces only
PORT = 7946
LOSS_MOD = 20  # nftables drops one received packet in LOSS_MOD at random on every host
FAULTS = ["--latency-ms", "1", "8", "--duplicate", "0.05"]
WRITES = 40  # per node and phase


def run(*argv: str, stdin: str | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def ensure_nft() -> str:
    """The ``nft`` binary, installing the Debian package if it is missing."""
    found = shutil.which("nft")
    if found is None and shutil.which("apt-get") is not None:
        install = ["apt-get", "install", "-y", "-q", "nftables"]
        if subprocess.run(install, capture_output=True, check=False).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False)
            subprocess.run(install, capture_output=True, check=False)
        found = shutil.which("nft")
    if found is None:
        pytest.fail("nft is missing and 'apt-get install -y nftables' did not provide it")
    return found


class Hosts:
    """Namespaces ``<tag>a``, ``<tag>b``, ``<tag>c`` on one bridge (in namespace ``<tag>hub``)."""

    def __init__(self, tag: str, names: list[str]) -> None:
        self.tag = tag
        self.hub = f"{tag}hub"
        self.ns = {n: f"{tag}{n}" for n in names}
        self.addr = {n: SUBNET.format(0, i + 1) for i, n in enumerate(names)}
        self.made: list[str] = []

    def create(self, nft: str) -> None:
        run("ip", "netns", "add", self.hub)
        self.made.append(self.hub)
        run("ip", "-n", self.hub, "link", "add", "br0", "type", "bridge")
        run("ip", "-n", self.hub, "link", "set", "br0", "up")
        for n, ns in self.ns.items():
            run("ip", "netns", "add", ns)
            self.made.append(ns)
            run("ip", "link", "add", "eth0", "netns", ns, "type", "veth",
                "peer", "name", f"to-{n}", "netns", self.hub)  # fmt: skip
            run("ip", "-n", self.hub, "link", "set", f"to-{n}", "master", "br0")
            run("ip", "-n", self.hub, "link", "set", f"to-{n}", "up")
            run("ip", "-n", ns, "link", "set", "lo", "up")
            run("ip", "-n", ns, "addr", "add", f"{self.addr[n]}/24", "dev", "eth0")
            run("ip", "-n", ns, "link", "set", "eth0", "up")
            rules = (
                "table inet dmloss {\n  chain input {\n"
                "    type filter hook input priority 0; policy accept;\n"
                f"    numgen random mod {LOSS_MOD} == 0 counter drop\n  }}\n}}\n"
            )
            run("ip", "netns", "exec", ns, nft, "-f", "-", stdin=rules)

    def cut(self, name: str) -> None:
        """Pull the cable of ``name`` at the switch."""
        run("ip", "-n", self.hub, "link", "set", f"to-{name}", "down")

    def mend(self, name: str) -> None:
        run("ip", "-n", self.hub, "link", "set", f"to-{name}", "up")

    def dropped(self, nft: str, name: str) -> int:
        out = run("ip", "netns", "exec", self.ns[name], nft, "list", "table", "inet", "dmloss")
        return int(out.split("counter packets ")[1].split()[0])

    def delete(self) -> None:
        for ns in reversed(self.made):  # deleting a namespace deletes its links and rules
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


@pytest.fixture
def hosts() -> Iterator[tuple[Hosts, str]]:
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (CI runs the suite as root)")
    nft = ensure_nft()
    h = Hosts(f"dm{os.getpid() % 100000}", ["a", "b", "c"])
    try:
        h.create(nft)
        yield h, nft
    finally:
        h.delete()


def test_partition_heal_converge_across_namespaces(
    hosts: tuple[Hosts, str], tmp_path: Path
) -> None:
    h, nft = hosts
    key = write_key_file(tmp_path / "cluster.key")
    procs: dict[str, NodeProcess] = {}

    def start(name: str, seeds: list[str]) -> None:
        procs[name] = p = NodeProcess(
            name,
            bind=f"{h.addr[name]}:{PORT}",
            seeds=seeds,
            data_dir=tmp_path / name,
            key_file=key,
            log_dir=tmp_path / "logs",
            prefix=["ip", "netns", "exec", h.ns[name]],
            extra=[*FAULTS, "--fault-seed", str(len(procs))],
        )
        p.wait_started()

    def alive_at(name: str) -> int:
        return procs[name].members()

    try:
        start("a", [])
        start("b", [procs["a"].addr])
        start("c", [procs["a"].addr])
        wait_for(lambda: all(alive_at(n) == 3 for n in procs), 40, "3 members seen by all")
        for n, p in procs.items():
            p.send(f"write {n}-1 {WRITES} 0.005")
        wait_for(lambda: all(f"{n}-1" in p.done for n, p in procs.items()), 40, "writes 1")

        h.cut("c")  # a and b on one side, c alone on the other
        for n, p in procs.items():
            p.send(f"write {n}-2 {WRITES} 0.005")
        wait_for(lambda: all(f"{n}-2" in p.done for n, p in procs.items()), 40, "writes 2")
        # Held until each side has noticed (SWIM), so healing exercises the rejoin.
        wait_for(lambda: alive_at("a") == 2 and alive_at("c") == 1, 40, "the partition seen")
        _, c_keys = procs["c"].state()
        assert not any(k.startswith(("a-2", "b-2")) for k in c_keys)  # nothing crossed the cut

        h.mend("c")
        acked = {k for p in procs.values() for k in p.acks}
        assert len(acked) == 2 * 3 * WRITES
        wait_for(lambda: converged(list(procs.values()), acked), 50, "convergence", step=0.5)
        assert sum(h.dropped(nft, n) for n in procs) > 0  # nftables really dropped packets
    finally:
        for p in procs.values():
            p.stop()
