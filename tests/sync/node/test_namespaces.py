"""Separate hosts (issue 10): three network namespaces joined by veth pairs and a bridge, loss from
nftables (``numgen random mod 1000 < 50 drop``: 5 % of what each host receives), latency and
datagram duplication from :class:`~gossip.transport.FaultyTransport` (the kernel has no ``netem``),
a partition as a link set down. Writes on both sides of the partition, heal, convergence, no lost
write.

The test creates and deletes its namespaces (the bridge lives in a fourth, so the machine's own
network is never touched) with the chaos run's builder, :class:`benchmarks._chaos_netns.Hosts`:
one builder of namespaces, veth pairs and bridges for the benchmarks and the tests. It lives with
the benchmarks because tests may import benchmark code (they test it) but benchmarks never import
test code, and the library imports neither. It needs root (CI runs as root) and installs the
Debian ``nftables`` package when ``nft`` is missing; if either fails it fails loudly, never skips.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks._chaos_netns import Hosts, NetnsError
from tests.sync.node._runner import NodeProcess, converged, wait_for, write_key_file

LOSS = 0.05  # nftables drops this share of the packets every host receives, at random
FAULTS = ["--latency-ms", "1", "8", "--duplicate", "0.05"]
WRITES = 40  # per node and phase


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


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    if os.geteuid() != 0:
        pytest.fail("network namespaces need root (CI runs the suite as root)")
    ensure_nft()
    try:
        h = Hosts(f"dm{os.getpid() % 100000}", ["a", "b", "c"])
        h.create()  # deletes what it made if a step fails
    except NetnsError as exc:
        pytest.fail(str(exc))
    try:
        h.set_loss(LOSS)
        yield h
    finally:
        h.delete()


def test_partition_heal_converge_across_namespaces(hosts: Hosts, tmp_path: Path) -> None:
    h = hosts
    key = write_key_file(tmp_path / "cluster.key")
    procs: dict[str, NodeProcess] = {}

    def start(name: str, seeds: list[str]) -> None:
        procs[name] = p = NodeProcess(
            name,
            bind=h.bind(name),
            seeds=seeds,
            data_dir=tmp_path / name,
            key_file=key,
            log_dir=tmp_path / "logs",
            prefix=h.prefix(name),
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

        h.heal()  # c's cable back in
        acked = {k for p in procs.values() for k in p.acks}
        assert len(acked) == 2 * 3 * WRITES
        wait_for(lambda: converged(list(procs.values()), acked), 50, "convergence", step=0.5)
        assert h.dropped() > 0  # nftables really dropped packets
    finally:
        for p in procs.values():
            p.stop()
