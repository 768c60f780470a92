"""The CPU a receiver spends joining a put's delta: ``x.absorb(d)`` against the ``leq``,
``diff`` and ``merge`` it replaces (``docs/performance.md``, "Absorbing a received delta").

The node's case: ``x`` is an 8-entry cart, ``d`` a put's delta as decoded from the wire: a fresh
key (its context only its own dot), a put that superseded an entry (its dot plus the old one), and
the same superseding delta a second time (already held: the answer is "nothing new"). Each case
runs ``n`` times per round on fresh copies (copying is not timed), CPU time per call, best of the
rounds; the two ways alternate within each round. Both on the compiled module and on the
pure-Python code (``DELTAMESH_PURE=1``'s path, switched in-process).

    python -m benchmarks.crdt_absorb [--quick]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._harness import Bench
from crdts import HLC, AWLWWMap, _accel, decode, encode

_ACCEL_NAMES = [name for name in _accel.__all__ if name != "COMPILED"]


def _cart(n: int = 8) -> tuple[AWLWWMap, HLC]:
    clock = HLC("writer")
    cart = AWLWWMap()
    for i in range(n):
        cart.put("writer", f"item-{i}", i, clock.now(wall=1_000 + i))
    return cart, clock


def _cases() -> dict[str, tuple[AWLWWMap, AWLWWMap]]:
    """``(receiver state, received delta)`` per case."""
    w, clock = _cart()
    x = w.copy()
    fresh = decode(encode(w.put("writer", "item-new", 1, clock.now(wall=2_000))))
    w2, clock2 = _cart()
    x2 = w2.copy()
    sup = decode(encode(w2.put("writer", "item-3", 2, clock2.now(wall=2_000))))
    held = x2.copy()
    held.merge(sup)
    return {
        "fresh put": (x, fresh),
        "superseding put": (x2, sup),
        "superseding put, already held": (held, sup),
    }


def _old(x: AWLWWMap, d: AWLWWMap) -> Any:
    if d.leq(x):
        return None
    delta = d.diff(x)
    x.merge(delta)
    return delta


def _new(x: AWLWWMap, d: AWLWWMap) -> Any:
    return x.absorb(d)


def _time(fn: Callable[[AWLWWMap, AWLWWMap], Any], x: AWLWWMap, d: AWLWWMap, n: int) -> float:
    """CPU microseconds per call over ``n`` calls, each on a fresh copy of ``x``."""
    xs = [x.copy() for _ in range(n)]
    t = time.process_time()
    for y in xs:
        fn(y, d)
    return (time.process_time() - t) / n * 1e6


def main(argv: Sequence[str] | None = None) -> None:
    bench = Bench("crdt_absorb", description=__doc__, argv=argv)
    n, rounds = (2_000, 2) if bench.quick else (20_000, 5)
    saved = {name: getattr(_accel, name) for name in _ACCEL_NAMES}
    speedups: dict[tuple[str, str], float] = {}
    paths = ["compiled", "pure"] if _accel.COMPILED else ["pure"]
    cases = _cases()
    try:
        for path, case in bench.progress([(p, c) for p in paths for c in cases], "cases"):
            for name in _ACCEL_NAMES:
                setattr(_accel, name, saved[name] if path == "compiled" else None)
            x, d = cases[case]
            old: list[float] = []
            new: list[float] = []
            for _ in range(rounds):  # alternating, best of the rounds
                old.append(_time(_old, x, d, n))
                new.append(_time(_new, x, d, n))
            ratio = min(old) / min(new)
            speedups[(path, case)] = ratio
            bench.row(
                path=path,
                case=case,
                leq_diff_merge_us=round(min(old), 2),
                absorb_us=round(min(new), 2),
                speedup=round(ratio, 2),
            )
    finally:
        for name, fn in saved.items():
            setattr(_accel, name, fn)
    top = paths[0]
    bench.goal(
        "absorb_speedup_superseding_put",
        value=round(speedups[(top, "superseding put")], 2),
        target=">= 3.0",
        note=f"{top} path: leq+diff+merge time / absorb time, 8-entry cart",
    )
    bench.goal(
        "absorb_speedup_fresh_put",
        value=round(speedups[(top, "fresh put")], 2),
        target=">= 1.5",
        note=f"{top} path",
    )
    bench.finish(extra={"n": n, "rounds": rounds})


if __name__ == "__main__":
    main()
