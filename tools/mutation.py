"""Mutation testing of the cores with cosmic-ray: how many planted bugs does the suite catch?

Not part of CI (a full run takes hours on two cores). Needs the ``mutation`` extra::

    pip install -e ".[test,mutation]"
    nice python -m tools.mutation --sample 40 --seed 1          # a sampled run
    python -m tools.mutation --sample 0                          # every mutant (hours)

Two targets, each with the tests that guard it:

- ``crdts``: every module of ``crdts/`` (the ``crdts.testing`` suite itself excluded), against
  ``tests/crdts``;
- ``sync``: the sync engine's core files (``sync/_engine.py``, ``_base.py``, ``_catchup.py``,
  ``_digest.py``), against the engine's tests in ``tests/sync``.

The committed tree (``git archive HEAD``) is unpacked into a temporary directory and mutated
there, one mutant at a time, so the checkout is never touched. ``--sample N`` runs N mutants per
target drawn at random (seeded) from every mutant cosmic-ray generates; the rest are marked
skipped. A mutant is *killed* when its test command fails (or times out), *survived* when it
passes. The script prints a table and writes ``tools/results/mutation.json`` with the score of each
target and the diff of every survivor, to be judged by hand (equivalent mutant or missing test).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results" / "mutation.json"


# the cosmic-ray of this interpreter's environment (a venv need not be on PATH)
_COSMIC_RAY = [sys.executable, "-m", "cosmic_ray.cli"]


@dataclass(frozen=True)
class Target:
    name: str
    modules: list[str]
    tests: list[str]


TARGETS = [
    Target(
        "crdts",
        sorted(
            p.relative_to(ROOT).as_posix()
            for p in (ROOT / "crdts").glob("*.py")
            if p.name != "__init__.py"
        ),
        ["tests/crdts"],
    ),
    Target(
        "sync",
        ["sync/_engine.py", "sync/_base.py", "sync/_catchup.py", "sync/_digest.py"],
        [
            "tests/sync/test_sync_engine.py",
            "tests/sync/test_sync_convergence.py",
            "tests/sync/test_sync_dataloss.py",
            "tests/sync/test_sync_hostile.py",
            "tests/sync/test_sync_merkle.py",
            "tests/sync/test_sync_ranges.py",
        ],
    ),
]


def _unpack_head(dest: Path) -> None:
    archive = dest / "head.tar"
    with archive.open("wb") as f:
        subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, stdout=f, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest / "tree", filter="data")
    archive.unlink()


def _config(target: Target, timeout: float) -> str:
    modules = ", ".join(json.dumps(m) for m in target.modules)
    command = f"{sys.executable} -m pytest -x -q -n 0 -p no:cacheprovider " + " ".join(target.tests)
    return (
        "[cosmic-ray]\n"
        f"module-path = [{modules}]\n"
        f"timeout = {timeout}\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(command)}\n"
        "\n[cosmic-ray.distributor]\n"
        'name = "local"\n'
    )


def _sample(session: Path, n: int, seed: int) -> tuple[int, int]:
    """Mark all but ``n`` random pending mutants as skipped: (total, kept)."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session), WorkDB.Mode.open) as db:
        items = sorted(db.pending_work_items, key=lambda w: w.job_id)
        total = len(items)
        if n <= 0 or n >= total:
            return total, total
        keep = set(random.Random(seed).sample(range(total), n))
        skipped = [w.job_id for i, w in enumerate(items) if i not in keep]
        db.set_multiple_results(skipped, WorkResult(worker_outcome=WorkerOutcome.SKIPPED))
        return total, n


def _collect(session: Path) -> dict[str, Any]:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import TestOutcome, WorkerOutcome

    killed = survived = incompetent = 0
    survivors: list[dict[str, Any]] = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item, result in db.completed_work_items:
            if result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            if result.test_outcome == TestOutcome.SURVIVED:
                survived += 1
                m = item.mutations[0]
                survivors.append(
                    {
                        "job": item.job_id,
                        "module": str(m.module_path),
                        "operator": m.operator_name,
                        "line": m.start_pos[0],
                        "diff": result.diff,
                    }
                )
            elif result.test_outcome == TestOutcome.INCOMPETENT:
                incompetent += 1
            else:
                killed += 1
    run = killed + survived
    return {
        "killed": killed,
        "survived": survived,
        "incompetent": incompetent,
        "score": round(killed / run, 3) if run else None,
        "survivors": sorted(survivors, key=lambda s: (s["module"], s["line"])),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sample", type=int, default=40, help="mutants per target (0: all)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant's tests")
    ap.add_argument("--targets", default="crdts,sync")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    wanted = set(args.targets.split(","))
    out: dict[str, Any] = {
        "command": "python -m tools.mutation " + " ".join(argv or sys.argv[1:]),
        "sample": args.sample,
        "seed": args.seed,
        "targets": {},
    }
    work = Path(tempfile.mkdtemp(prefix="deltamesh-mutation-"))
    try:
        _unpack_head(work)
        tree = work / "tree"
        env = {**os.environ, "HYPOTHESIS_PROFILE": "dev"}
        for target in TARGETS:
            if target.name not in wanted:
                continue
            cfg, session = work / f"{target.name}.toml", work / f"{target.name}.sqlite"
            cfg.write_text(_config(target, args.timeout))
            subprocess.run(
                [*_COSMIC_RAY, "init", str(cfg), str(session)], cwd=tree, check=True, env=env
            )
            total, kept = _sample(session, args.sample, args.seed)
            print(f"[{target.name}] {total} mutants, running {kept}", flush=True)
            t0 = time.monotonic()
            subprocess.run(
                [*_COSMIC_RAY, "exec", str(cfg), str(session)], cwd=tree, check=True, env=env
            )
            res = _collect(session)
            res.update(total_mutants=total, run=kept, wall_s=round(time.monotonic() - t0, 1))
            res["modules"], res["tests"] = target.modules, target.tests
            out["targets"][target.name] = res
            print(
                f"[{target.name}] killed {res['killed']}, survived {res['survived']}, "
                f"incompetent {res['incompetent']}: score {res['score']} "
                f"({res['wall_s']} s)",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(f"{'target':<8} {'mutants':>8} {'run':>5} {'killed':>7} {'survived':>9} {'score':>6}")
    for name, r in out["targets"].items():
        print(
            f"{name:<8} {r['total_mutants']:>8} {r['run']:>5} {r['killed']:>7} "
            f"{r['survived']:>9} {r['score']!s:>6}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
