"""One Node in its own OS process, driven over stdin/stdout (the process and namespace tests).

Child (``python -m tests.sync.node._runner --name n1 --bind 127.0.0.1:0 --seed ADDR
--data-dir DIR --key-file FILE [--latency-ms A B] [--duplicate P] [--fault-seed N]``) runs a
:class:`~sync.Node` with the ``local()`` timings and answers one command per stdin line:

- ``write PREFIX COUNT PAUSE``: ``put(f"{PREFIX}-{i}", i)`` into the map ``shared``, ``COUNT``
  times, ``PAUSE`` seconds apart, concurrently with everything else; prints ``@ack KEY`` as each
  put returns (the write is durable on local disk) and ``@done PREFIX`` at the end;
- ``state``: prints ``@state DIGEST KEYS-JSON`` (a hash of the map's sorted items, and its keys);
- ``members``: prints ``@members N`` (members SWIM sees alive, this node included);
- ``quit``: leaves the cluster and exits.

It prints ``@addr HOST:PORT`` once the node runs. ``--latency-ms``/``--duplicate`` wrap the node's
UDP/TCP transport in :class:`~gossip.transport.FaultyTransport` (packets: latency and
duplication; frames: latency, order kept): the kernel has no ``netem``.

Parent: :class:`NodeProcess` starts a child, collects its acknowledgements on a reader thread, and
asks for states; plain threads and deadlines, so the tests need no event loop of their own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks._chaos_run import spawn

MAP = "shared"


# -- the child ------------------------------------------------------------------------------------


def _install_faults(latency_ms: tuple[float, float], duplicate: float, seed: int) -> None:
    """Have the Node build its transport as FaultyTransport(NetTransport(...)).

    The Node has no transport hook, so the name it uses is replaced in this process only. The
    wrapper gains ``connected_peers`` (which the Node's go_offline asks the transport for).
    """
    import sync._node as node_module
    from gossip.sim import Uniform
    from gossip.transport import Faults, FaultyTransport, NetTransport

    latency = Uniform(latency_ms[0] / 1000, latency_ms[1] / 1000)

    class _FaultyNet(FaultyTransport):
        def connected_peers(self) -> list[str]:
            inner = self.inner
            assert isinstance(inner, NetTransport)
            return inner.connected_peers()

    def make(config: Any, *, keyring: Any, epoch: int | None = None) -> _FaultyNet:
        return _FaultyNet(
            NetTransport(config, keyring=keyring, epoch=epoch),
            seed=seed,
            packets_out=Faults(latency=latency, duplicate=duplicate),
            frames_out=Faults(latency=latency),
        )

    setattr(node_module, "NetTransport", make)  # noqa: B010 (a test-only substitution)


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def _child(args: argparse.Namespace) -> None:
    import anyio

    from crdts import AWLWWMap
    from sync import Node, NodeConfig

    config = NodeConfig.local(
        name=args.name,
        bind=args.bind,
        seeds=tuple(args.seed),
        data_dir=args.data_dir,
        key_file=args.key_file,
    )
    async with Node(config) as node, anyio.create_task_group() as tg:
        shared = node.get(MAP, AWLWWMap)
        _say(f"@addr {node.address}")

        async def write(prefix: str, count: int, pause: float) -> None:
            for i in range(count):
                key = f"{prefix}-{i}"
                await shared.put(key, i)
                _say(f"@ack {key}")
                await anyio.sleep(pause)
            _say(f"@done {prefix}")

        while True:
            line = await anyio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
            cmd = line.split()
            if not cmd or cmd[0] == "quit":
                tg.cancel_scope.cancel()
                break
            if cmd[0] == "write":
                tg.start_soon(write, cmd[1], int(cmd[2]), float(cmd[3]))
            elif cmd[0] == "state":
                items = sorted(shared.value.items())
                digest = hashlib.sha256(json.dumps(items).encode()).hexdigest()[:16]
                _say(f"@state {digest} {json.dumps([k for k, _ in items])}")
            elif cmd[0] == "members":
                alive = [m for m in node.members() if m.state == "alive"]
                _say(f"@members {len(alive)}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.sync.node._runner")
    parser.add_argument("--name", required=True)
    parser.add_argument("--bind", required=True)
    parser.add_argument("--seed", action="append", default=[])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--key-file", required=True)
    parser.add_argument("--latency-ms", type=float, nargs=2, default=None)
    parser.add_argument("--duplicate", type=float, default=0.0)
    parser.add_argument("--fault-seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.latency_ms is not None or args.duplicate:
        _install_faults(tuple(args.latency_ms or (0.0, 0.0)), args.duplicate, args.fault_seed)
    import anyio

    anyio.run(_child, args)
    # The stdin reader thread may still be blocked in readline: do not wait for it.
    sys.stdout.flush()
    os._exit(0)


# -- the parent -----------------------------------------------------------------------------------


def write_key_file(path: Path) -> Path:
    """A cluster key file as ``deltamesh keygen`` writes it (64 hex digits, mode 0600)."""
    path.write_text(os.urandom(32).hex() + "\n")
    path.chmod(0o600)
    return path


class NodeProcess:
    """A child node process; ``acks`` are the keys whose writes it acknowledged."""

    def __init__(
        self,
        name: str,
        *,
        bind: str,
        seeds: Sequence[str],
        data_dir: Path,
        key_file: Path,
        log_dir: Path,
        prefix: Sequence[str] = (),  # e.g. ["ip", "netns", "exec", "ns1"]
        extra: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.bind = bind
        self.acks: list[str] = []
        self.done: set[str] = set()
        self._replies: queue.Queue[str] = queue.Queue()
        self._addr: queue.Queue[str] = queue.Queue()
        self.addr = ""
        args = ["--name", name, "--bind", bind, "--data-dir", str(data_dir)]
        args += ["--key-file", str(key_file)]
        for s in seeds:
            args += ["--seed", s]
        args += list(extra)
        self.proc, self._log, self.log_path = spawn(
            "tests.sync.node._runner", args, name=name, log_dir=log_dir, prefix=prefix
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("@ack "):
                self.acks.append(line[5:])
            elif line.startswith("@done "):
                self.done.add(line[6:])
            elif line.startswith("@addr "):
                self._addr.put(line[6:])
            elif line.startswith(("@state ", "@members ")):
                self._replies.put(line)

    def _fail(self, what: str) -> AssertionError:
        self._log.flush()
        tail = self.log_path.read_text()[-3000:]
        return AssertionError(f"node {self.name}: {what}; its log ends with:\n{tail}")

    def wait_started(self, timeout: float = 30.0) -> str:
        try:
            self.addr = self._addr.get(timeout=timeout)
        except queue.Empty:
            raise self._fail(f"not started within {timeout} s") from None
        return self.addr

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(command + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._fail(f"cannot send {command!r}: exited ({self.proc.poll()})") from None

    def _ask(self, command: str, timeout: float) -> str:
        while not self._replies.empty():  # drop a late answer to an earlier question
            self._replies.get_nowait()
        self.send(command)
        try:
            return self._replies.get(timeout=timeout)
        except queue.Empty:
            raise self._fail(f"no answer to {command!r} within {timeout} s") from None

    def state(self, timeout: float = 15.0) -> tuple[str, set[str]]:
        _, digest, keys = self._ask("state", timeout).split(" ", 2)
        return digest, set(json.loads(keys))

    def members(self, timeout: float = 15.0) -> int:
        return int(self._ask("members", timeout).split()[1])

    def kill9(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(timeout=timeout)
            except (AssertionError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


def wait_for(predicate: Any, timeout: float, what: str, step: float = 0.2) -> None:
    """Poll ``predicate()`` until it holds; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(step)


def converged(procs: Sequence[NodeProcess], acked: set[str]) -> bool:
    """Every node holds every acknowledged write, and all hold the same map."""
    states = [p.state() for p in procs]
    return len({digest for digest, _ in states}) == 1 and all(acked <= keys for _, keys in states)


if __name__ == "__main__":
    main()
