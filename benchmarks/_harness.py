"""What every benchmark shares: arguments, progress output, the results table and the JSON file.

A benchmark module does::

    from benchmarks._harness import Bench

    def main() -> None:
        bench = Bench("crdt_ops", description="...")   # parses --quick / --out
        for case in bench.progress(cases, "cases"):
            ...
            bench.row(case=..., ops_per_s=...)
        bench.goal("awlwwmap_put_speedup", value=2.3, target=">= 2.0")
        bench.finish(extra={"raw": ...})                # prints the table, writes results/NAME.json

Each results JSON holds ``"goals"`` (one entry per goal the issue names: value, target, met),
``"rows"``, ``"machine"``, ``"command"`` and ``"quick"``. A ``--quick`` run is small enough for CI
and writes to ``results/NAME.quick.json`` so it never overwrites the figures of a full run.
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

RESULTS_DIR = Path(__file__).resolve().parent / "results"

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "<": operator.lt,
    ">": operator.gt,
    "==": operator.eq,
}


def check_target(value: float, target: str) -> bool:
    """Evaluate a target such as ``"<= 0.017"`` or ``">= 2.0"`` against ``value``."""
    for op in ("<=", ">=", "==", "<", ">"):
        if target.startswith(op):
            return _OPS[op](value, float(target[len(op) :].strip()))
    raise ValueError(f"unparseable target {target!r}: expected e.g. '<= 0.017'")


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            info["mem_total_kib"] = int(f.readline().split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return info


class Bench:
    """One benchmark run: arguments, rows, goals, and the results file."""

    def __init__(
        self,
        name: str,
        description: str = "",
        argv: Sequence[str] | None = None,
        add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
    ) -> None:
        parser = argparse.ArgumentParser(
            prog=f"python -m benchmarks.{name}", description=description
        )
        parser.add_argument(
            "--quick", action="store_true", help="a small run (for CI and smoke tests)"
        )
        parser.add_argument(
            "--out", type=Path, default=None, help="where to write the JSON results"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
        if add_arguments is not None:
            add_arguments(parser)
        self.args = parser.parse_args(argv)
        self.name = name
        self.quick: bool = bool(self.args.quick)
        self.rows: list[dict[str, Any]] = []
        self.goals: dict[str, dict[str, Any]] = {}
        self.started = time.perf_counter()
        suffix = ".quick.json" if self.quick else ".json"
        self.out: Path = self.args.out or RESULTS_DIR / f"{name}{suffix}"
        self.command = (
            "python -m benchmarks."
            + name
            + "".join(" " + a for a in (sys.argv[1:] if argv is None else argv))
        )

    # -- progress ------------------------------------------------------------------------------

    def progress(
        self, items: Iterable[T], label: str = "", total: int | None = None
    ) -> Iterator[T]:
        """Yield ``items``, drawing a progress bar with an ETA on stderr (unless --no-progress)."""
        if total is None and hasattr(items, "__len__"):
            total = len(items)  # type: ignore[arg-type]
        show = not self.args.no_progress
        tty = sys.stderr.isatty()  # off a terminal: a plain line every 10% instead of redrawing
        start = time.perf_counter()
        i = 0
        last_decile = -1
        for i, item in enumerate(items, 1):
            yield item
            if not show:
                continue
            elapsed = time.perf_counter() - start
            if total:
                decile = 10 * i // total
                if not tty and decile == last_decile:
                    continue
                last_decile = decile
                eta = elapsed / i * (total - i)
                bar = "#" * (30 * i // total) + "." * (30 - 30 * i // total)
                msg = f"{label} [{bar}] {i}/{total} {elapsed:6.1f}s eta {eta:6.1f}s"
            elif tty:
                msg = f"{label} {i} {elapsed:6.1f}s"
            else:
                continue
            print("\r" + msg if tty else msg, end="" if tty else "\n", file=sys.stderr, flush=True)
        if show and tty and i:
            print(file=sys.stderr)

    def log(self, msg: str) -> None:
        """A line of progress on stderr (kept out of the results table)."""
        print(f"[{self.name} {time.perf_counter() - self.started:7.1f}s] {msg}", file=sys.stderr)

    # -- results -------------------------------------------------------------------------------

    def row(self, **fields: Any) -> None:
        self.rows.append(fields)

    def goal(self, name: str, value: float, target: str, note: str = "") -> bool:
        met = check_target(value, target)
        entry: dict[str, Any] = {"value": value, "target": target, "met": met}
        if note:
            entry["note"] = note
        self.goals[name] = entry
        return met

    def table(self) -> str:
        return format_table(self.rows)

    def finish(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Print the rows and goals, write the JSON, and return what was written."""
        result: dict[str, Any] = {
            "benchmark": self.name,
            "command": self.command,
            "quick": self.quick,
            "machine": machine_info(),
            "wall_seconds": round(time.perf_counter() - self.started, 3),
            "goals": self.goals,
            "rows": self.rows,
        }
        if extra:
            result.update(extra)
        print(self.table())
        if self.goals:
            print()
            print(
                format_table(
                    [
                        {"goal": g, "value": v["value"], "target": v["target"], "met": v["met"]}
                        for g, v in self.goals.items()
                    ]
                )
            )
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(json.dumps(result, indent=1, sort_keys=False, default=str) + "\n")
        print(f"\nwrote {self.out}")
        return result


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 1000 or abs(v) < 0.001:
            return f"{v:.3g}"
        return f"{v:.4g}"
    return str(v)


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of ``rows`` (the union of their keys as columns, in first-seen order)."""
    if not rows:
        return "(no rows)"
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    cells = [[_fmt(r.get(c, "")) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def median(xs: Sequence[float]) -> float:
    s = sorted(xs)
    n = len(s)
    if n == 0:
        raise ValueError("median of nothing")
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def percentile(xs: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0..100) by nearest rank."""
    s = sorted(xs)
    if not s:
        raise ValueError("percentile of nothing")
    k = max(0, min(len(s) - 1, round(p / 100 * (len(s) - 1))))
    return s[k]
