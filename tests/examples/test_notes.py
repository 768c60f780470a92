"""The notes app (``python -m examples.notes``): two copies on two ports, driven through their
terminals (stdin/stdout pipes). One goes offline while both write; back online, they agree."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

from examples.cart._procs import free_port

ROOT = Path(__file__).resolve().parents[2]
WAIT = 30.0  # s: the most the test waits for one answer or for convergence


class Terminal:
    """One running copy of the app, typed into line by line."""

    def __init__(self, name: str, bind: str, seed: str, data_dir: Path) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "examples.notes",
                "--name",
                name,
                "--bind",
                bind,
                "--seed",
                seed,
                "--data-dir",
                str(data_dir),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def read_until(self, pred: str) -> list[str]:
        """Lines up to and including the first that contains ``pred``."""
        got: list[str] = []
        deadline = time.monotonic() + WAIT
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{self.name}: no {pred!r} in {got}") from None
            got.append(line)
            self.seen.append(line)
            if pred in line:
                return got

    def type(self, command: str, answer: str) -> list[str]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.read_until(answer)

    def notes(self) -> list[str]:
        out = self.type("ls", " notes)")
        return sorted(ln.split(None, 1)[1] for ln in out if ln.startswith("  "))

    def quit(self) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()  # Ctrl-D
        return self.proc.wait(timeout=WAIT)


def wait_same(x: Terminal, y: Terminal, want: list[str]) -> None:
    deadline = time.monotonic() + WAIT
    while True:
        nx, ny = x.notes(), y.notes()
        if nx == ny == sorted(want):
            return
        assert time.monotonic() < deadline, (nx, ny)
        time.sleep(0.2)


def note_id(lines: list[str]) -> str:
    return next(ln.split()[1] for ln in lines if ln.startswith("added "))


def test_two_copies_work_apart_and_converge(tmp_path: Path) -> None:
    pa, pb = free_port(), free_port()
    a = Terminal("laptop", f"127.0.0.1:{pa}", f"127.0.0.1:{pb}", tmp_path / "laptop")
    b = Terminal("phone", f"127.0.0.1:{pb}", f"127.0.0.1:{pa}", tmp_path / "phone")
    try:
        a.read_until("type 'help'")
        b.read_until("type 'help'")
        milk = note_id(a.type("add milk", "added "))
        wait_same(a, b, ["[ ] milk"])

        b.type("offline", "offline:")
        a.type("add bread", "added ")  # both write while apart
        b.type("add eggs", "added ")
        b.type(f"done {milk}", "done ")
        assert b.notes() == ["[ ] eggs", "[x] milk"]  # the phone works alone
        assert a.notes() == ["[ ] bread", "[ ] milk"]
        b.type("online", "online")
        wait_same(a, b, ["[ ] bread", "[ ] eggs", "[x] milk"])
        a.type(f"rm {milk}", "removed ")
        wait_same(a, b, ["[ ] bread", "[ ] eggs"])
        assert a.quit() == 0
    finally:
        for t in (a, b):
            if t.proc.poll() is None:
                t.proc.kill()
                t.proc.wait()
    # the laptop's notes are on disk: a new run of it starts with them, alone
    again = Terminal("laptop", f"127.0.0.1:{pa}", f"127.0.0.1:{pb}", tmp_path / "laptop")
    try:
        again.read_until("type 'help'")
        assert again.notes() == ["[ ] bread", "[ ] eggs"]
        assert again.quit() == 0
    finally:
        if again.proc.poll() is None:
            again.proc.kill()
