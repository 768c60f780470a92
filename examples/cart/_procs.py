"""Cart nodes as child processes, for the tests and the load benchmark (not used by the service).

:class:`NodeProcess` starts ``python -m examples.cart node ...`` with its output in a log file,
waits for ``/health``, stops it with SIGINT or kills it with SIGKILL, and restarts it on the same
ports and data dir. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, Any, TypeVar

__all__ = ["NodeProcess", "free_port", "http_json", "start_cluster", "wait_until"]

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for both TCP and UDP on ``host`` right now (the node binds both)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
            t.bind((host, 0))
            port = int(t.getsockname()[1])
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind((host, port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port found")


def wait_until(
    probe: Callable[[], T | None], timeout: float, interval: float = 0.1, what: str = ""
) -> T:
    """Call ``probe`` until it returns something other than None/False; raise TimeoutError after
    ``timeout`` seconds (a bound on how long a test waits, not a timing claim)."""
    deadline = time.monotonic() + timeout
    last_exc: BaseException | None = None
    while True:
        try:
            got = probe()
            if got is not None and got is not False:
                return got
        except (OSError, ValueError) as exc:
            last_exc = exc
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout} s waiting for {what or probe}") from (
                last_exc
            )
        time.sleep(interval)


def http_json(method: str, url: str, body: Any = None, timeout: float = 5.0) -> tuple[int, Any]:
    """(status, parsed JSON body) of one request; 4xx/5xx are returned, not raised."""
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, raw.decode("utf-8", "replace")


@dataclass(kw_only=True)
class NodeProcess:
    name: str
    folder: Path  # holds the data dir and the log
    seeds: list[str]
    key_file: Path | None
    persist: bool = True  # SQLite data under folder (else the node keeps its carts in memory)
    host: str = "127.0.0.1"
    http_port: int = field(default_factory=free_port)
    gossip_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def http(self) -> str:
        return f"{self.host}:{self.http_port}"

    @property
    def gossip(self) -> str:
        return f"{self.host}:{self.gossip_port}"

    @property
    def url(self) -> str:
        return f"http://{self.http}"

    @property
    def data_dir(self) -> Path:
        return self.folder / f"node-{self.name}"

    @property
    def log_path(self) -> Path:
        return self.folder / f"node-{self.name}.log"

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "examples.cart",
            "node",
            "--name",
            self.name,
            "--http",
            self.http,
            "--gossip",
            self.gossip,
        ]
        if self.persist:
            cmd += ["--data-dir", str(self.data_dir)]
        for s in self.seeds:
            cmd += ["--seed", s]
        if self.key_file is not None:
            cmd += ["--key-file", str(self.key_file)]
        return cmd

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (closed in _reap)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            self.command(), cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )

    def healthy(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            raise RuntimeError(f"node {self.name} exited; log:\n{self.log()}")
        try:
            status, _ = http_json("GET", self.url + "/health", timeout=1.0)
        except OSError:
            return False
        return status == 200

    def wait_healthy(self, timeout: float = 30.0) -> None:
        wait_until(self.healthy, timeout, what=f"node {self.name} to answer /health")

    def log(self) -> str:
        try:
            return self.log_path.read_text("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reap()

    def stop(self, timeout: float = 15.0) -> int:
        """SIGINT, as Ctrl-C would; SIGKILL if it has not exited after ``timeout``."""
        if self.proc is None or self.proc.poll() is not None:
            self._reap()
            return 0 if self.proc is None else int(self.proc.returncode)
        self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self._reap()
        return int(rc)

    def _reap(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def get(self, path: str) -> Any:
        status, doc = http_json("GET", self.url + path)
        assert status == 200, (status, doc)
        return doc

    def cart(self, user: str) -> dict[str, int]:
        items: dict[str, int] = self.get(f"/carts/{user}")["items"]
        return items


def start_cluster(
    folder: Path,
    names: tuple[str, ...] = ("a", "b", "c"),
    key_file: Path | None = None,
    persist: bool = True,
) -> list[NodeProcess]:
    """Start one node per name (each seeded with all the others) and wait until every node
    answers and sees every other one alive."""
    nodes = [
        NodeProcess(name=n, folder=folder, seeds=[], key_file=key_file, persist=persist)
        for n in names
    ]
    for n in nodes:
        n.seeds = [m.gossip for m in nodes if m is not n]
    try:
        for n in nodes:
            n.start()
        for n in nodes:
            n.wait_healthy()
        for n in nodes:
            wait_until(partial(all_alive, n, len(nodes)), 30.0, what=f"{n.name} to see all")
    except BaseException:
        for n in nodes:
            n.stop()
        raise
    return nodes


def all_alive(node: NodeProcess, count: int) -> bool:
    members = node.get("/cluster")["members"]
    return sum(1 for m in members if m["state"] == "alive") == count
