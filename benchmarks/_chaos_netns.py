"""Hosts in network namespaces: one namespace per node, joined by veth pairs to a bridge, so that
the chaos run's network faults are the kernel's, not the transport wrapper's.

- packet loss: nftables in each node's namespace drops that share of what it receives
  (``numgen random mod 1000 < P drop``: UDP and TCP alike, so streams see retransmissions);
- a node cut off: its veth port at the bridge set down (a pulled cable);
- a symmetric split of several nodes: their ports moved to a second bridge (each side still
  talks within itself), moved back to heal;
- a one-way partition: nftables drops what the source namespace sends to the others' addresses;
- delay and duplication stay with :class:`~gossip.transport.FaultyTransport` (this kernel has no
  ``netem``).

The bridges live in a namespace of their own (``<tag>hub``), so the machine's own network is
never touched, and every namespace (with its links and rules) is deleted by :meth:`Hosts.delete`.
Needs root and the ``ip`` and ``nft`` commands (Debian: ``iproute2``, ``nftables``).

This is the one builder of namespaces, veth pairs and bridges: the namespace test
(``tests/sync/node/test_namespaces.py``) uses it too. It lives with the benchmarks, which import
only the library, so that the tests (which may import benchmark code) and the benchmarks share it
without a benchmark importing test code; the library imports neither.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence

__all__ = ["Hosts", "NetnsError"]

SUBNET = "10.213.{}.{}"  # a private /24 that exists only inside our namespaces
PORT = 7946
TABLE = "dmchaos"


class NetnsError(RuntimeError):
    """A namespace, link or nftables command failed (or root / a tool is missing)."""


def _run(*argv: str, stdin: str | None = None) -> str:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise NetnsError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def check_tools() -> str:
    """The ``nft`` binary; :class:`NetnsError` without root, ``ip`` or ``nft``."""
    if os.geteuid() != 0:
        raise NetnsError("network namespaces need root")
    if shutil.which("ip") is None:
        raise NetnsError("the ip command is missing (Debian: apt-get install iproute2)")
    nft = shutil.which("nft")
    if nft is None:
        raise NetnsError("the nft command is missing (Debian: apt-get install nftables)")
    return nft


class Hosts:
    """One namespace per node name (``<tag><name>``), on bridge ``br0`` in ``<tag>hub``."""

    def __init__(self, tag: str, names: Sequence[str], *, subnet: int = 0) -> None:
        self.nft = check_tools()
        self.tag = tag
        self.hub = f"{tag}hub"
        self.ns = {n: f"{tag}{n}" for n in names}
        self.ip = {n: SUBNET.format(subnet, i + 1) for i, n in enumerate(names)}
        self.made: list[str] = []
        self.loss = 0.0
        self._dropped = 0  # by loss rules since replaced

    def bind(self, name: str) -> str:
        return f"{self.ip[name]}:{PORT}"

    def prefix(self, name: str) -> list[str]:
        """The command prefix that runs a process inside ``name``'s namespace."""
        return ["ip", "netns", "exec", self.ns[name]]

    def create(self) -> None:
        try:
            self._create()
        except BaseException:
            self.delete()
            raise

    def _create(self) -> None:
        _run("ip", "netns", "add", self.hub)
        self.made.append(self.hub)
        for br in ("br0", "br1"):
            _run("ip", "-n", self.hub, "link", "add", br, "type", "bridge")
            _run("ip", "-n", self.hub, "link", "set", br, "up")
        for n, ns in self.ns.items():
            _run("ip", "netns", "add", ns)
            self.made.append(ns)
            _run("ip", "link", "add", "eth0", "netns", ns, "type", "veth",
                 "peer", "name", f"to-{n}", "netns", self.hub)  # fmt: skip
            _run("ip", "-n", self.hub, "link", "set", f"to-{n}", "master", "br0")
            _run("ip", "-n", self.hub, "link", "set", f"to-{n}", "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run("ip", "-n", ns, "addr", "add", f"{self.ip[n]}/24", "dev", "eth0")
            _run("ip", "-n", ns, "link", "set", "eth0", "up")
            rules = (
                f"table inet {TABLE} {{\n"
                "  chain input { type filter hook input priority 0; policy accept; }\n"
                "  chain output { type filter hook output priority 0; policy accept; }\n"
                "}\n"
            )
            self._nft(n, rules)

    def _nft(self, name: str, script: str) -> None:
        _run("ip", "netns", "exec", self.ns[name], self.nft, "-f", "-", stdin=script)

    # -- the faults ---------------------------------------------------------------------------

    def set_loss(self, loss: float) -> None:
        """Every namespace drops ``loss`` (0..1) of the packets it receives."""
        self._dropped += self._counted("input")
        self.loss = loss
        per_mille = round(1000 * loss)
        for n in self.ns:
            script = f"flush chain inet {TABLE} input\n"
            if per_mille > 0:
                script += (
                    f"add rule inet {TABLE} input numgen random mod 1000 < {per_mille} "
                    "counter drop\n"
                )
            self._nft(n, script)

    def cut(self, name: str) -> None:
        """Pull ``name``'s cable at the switch."""
        _run("ip", "-n", self.hub, "link", "set", f"to-{name}", "down")

    def split(self, side: Sequence[str]) -> None:
        """Move ``side``'s ports to the second bridge: two networks that cannot reach each other."""
        for n in side:
            _run("ip", "-n", self.hub, "link", "set", f"to-{n}", "master", "br1")

    def one_way(self, src: str, dsts: Sequence[str]) -> None:
        """``src`` can no longer send to ``dsts`` (they still reach it)."""
        addrs = ", ".join(self.ip[d] for d in dsts)
        self._nft(src, f"add rule inet {TABLE} output ip daddr {{ {addrs} }} counter drop\n")

    def heal(self) -> None:
        """Every port up and on ``br0``, no one-way rule (the loss stays as set)."""
        for n in self.ns:
            _run("ip", "-n", self.hub, "link", "set", f"to-{n}", "master", "br0")
            _run("ip", "-n", self.hub, "link", "set", f"to-{n}", "up")
            self._nft(n, f"flush chain inet {TABLE} output\n")

    def dropped(self) -> int:
        """Packets the loss rules dropped so far, over every namespace."""
        return self._dropped + self._counted("input")

    def _counted(self, chain: str) -> int:
        total = 0
        for n in self.ns:
            out = _run("ip", "netns", "exec", self.ns[n], self.nft, "list", "chain", "inet",
                       TABLE, chain)  # fmt: skip
            for part in out.split("counter packets ")[1:]:
                total += int(part.split()[0])
        return total

    def delete(self) -> None:
        for ns in reversed(self.made):  # a namespace takes its links and rules with it
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
        self.made = []
