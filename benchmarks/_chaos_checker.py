"""The chaos checker: a history of operations against a cluster, and a verdict on its final states.

Theory of operation
-------------------
Jepsen-style (Kingsbury's *Jepsen* reports): the workload records every operation it issues with
its invocation time, and its outcome: ``ok`` (acknowledged: durable on the writer's disk, and with
``replicas`` >= 2 also held by that many replicas), ``fail`` (definitely not applied: e.g. a
``UsageError``) or ``info`` (indeterminate: the writer was killed, or the store failed, before the
acknowledgement; it may or may not have been applied). After the faults heal and the cluster
quiesces, :func:`check` reads every node's final state and returns the violations:

- ``crash``: a node died that the nemesis did not kill;
- ``diverged``: two nodes hold different values for an object;
- ``lost``: an acknowledged put, set add or increment is missing and nothing could have
  superseded it (a put/add is superseded only by a remove invoked after it, or, for a put, by
  another put not older than it);
- ``stale``: a map key holds the value of a put P although an acknowledged put Q *saw* P (the
  value P wrote was what Q's node read just before Q) or was invoked more than ``tolerance``
  seconds after P was acknowledged (real time, to allow for clock skew between nodes; on one
  node the order is exact), and no remove was invoked after Q (a remove that saw Q but not P
  cancels Q alone: add-wins). This is the HLC's job: a write that follows another must win LWW;
- ``resurrected``: a map key or set element is present although an acknowledged remove saw the
  only write that could have made it present (add-wins: a remove cancels what it observed);
- ``phantom``: a value, element or counter total that no operation could have produced;
- ``counter``: a counter outside [acknowledged sum + uncertain negatives, + uncertain positives].

Durability: an acknowledged write that only its writer held (``replicas`` < 2) is downgraded to
indeterminate if the nemesis destroyed that node's data dir after the write was invoked (the loss
took it legitimately if it had not replicated yet). A write confirmed by >= 2 replicas must
survive one lost data dir. Values written by puts must be unique (the workload's job), so a final
value names the put that wrote it.

Pure (no I/O, no clock): the simulator and the real chaos run share it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["NOT_SEEN", "History", "Op", "Report", "Violation", "check"]

OpKind = Literal["put", "remove", "incr", "add", "discard"]
Status = Literal["ok", "info", "fail"]
_MAP_KINDS = ("put", "remove")
_SET_KINDS = ("add", "discard")


class _NotSeen:
    """What a write saw when the key/element was absent at its node (distinct from any value)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_SEEN"


NOT_SEEN: Any = _NotSeen()


@dataclass(kw_only=True, slots=True)
class Op:
    """One operation. ``seen``: for a put/remove, the key's value at the writer just before the
    write (``NOT_SEEN`` if absent); for a set remove, whether the element was present there."""

    index: int
    node: str
    kind: OpKind
    obj: str
    key: str = ""  # map key or set element
    value: Any = None  # put value (unique), increment amount
    seen: Any = NOT_SEEN
    invoked: float  # s, the history's clock
    status: Status = "info"
    acked: float = math.inf  # s; inf until acknowledged
    replicas: int = 1  # replicas holding it at the acknowledgement (1: the writer)

    def precedes(self, other: Op, tolerance: float) -> bool:
        """Acknowledged before ``other`` began (by more than ``tolerance`` across nodes)."""
        slack = 0.0 if self.node == other.node else tolerance
        return self.status == "ok" and self.acked + slack < other.invoked


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str  # crash | diverged | lost | stale | resurrected | phantom | counter
    obj: str
    key: str
    detail: str


@dataclass(slots=True)
class Report:
    violations: list[Violation]
    ops: int  # operations issued
    ok: int  # acknowledged
    info: int  # indeterminate
    fail: int  # definitely not applied
    must_survive: int  # acknowledged and not excused by a lost data dir
    by_kind: dict[str, int] = field(default_factory=dict)  # violations per kind

    @property
    def valid(self) -> bool:
        return not self.violations


class History:
    """The record a workload keeps while it runs (one per run; not thread-safe)."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.data_losses: list[tuple[str, float]] = []  # (node, when its data dir was destroyed)
        self.crashes: list[tuple[str, float, bool]] = []  # (node, when, by the nemesis)

    def invoke(
        self,
        node: str,
        kind: OpKind,
        obj: str,
        key: str = "",
        value: Any = None,
        *,
        at: float,
        seen: Any = NOT_SEEN,
    ) -> Op:
        op = Op(
            index=len(self.ops), node=node, kind=kind, obj=obj, key=key, value=value, seen=seen,
            invoked=at,
        )  # fmt: skip
        self.ops.append(op)
        return op

    @staticmethod
    def ok(op: Op, *, at: float, replicas: int = 1) -> None:
        op.status, op.acked, op.replicas = "ok", at, replicas

    @staticmethod
    def fail(op: Op) -> None:
        op.status = "fail"

    @staticmethod
    def info(op: Op) -> None:
        op.status, op.acked = "info", math.inf

    @classmethod
    def settle(cls, op: Op, reply: dict[str, Any], *, at: float) -> str:
        """Record a node's reply to ``op`` (what the write saw, and ok / fail); returns the
        reply's status. Anything but ok or fail leaves the operation indeterminate."""
        seen = reply.get("seen")
        if op.kind in ("put", "remove"):
            op.seen = NOT_SEEN if seen is None else seen
        elif op.kind == "discard":
            op.seen = bool(seen)
        status = str(reply.get("status"))
        if status == "ok":
            cls.ok(op, at=at, replicas=int(reply.get("replicas", 1)))
        elif status == "fail":
            cls.fail(op)
        return status

    def data_lost(self, node: str, *, at: float) -> None:
        self.data_losses.append((node, at))

    def crashed(self, node: str, *, at: float, by_nemesis: bool) -> None:
        self.crashes.append((node, at, by_nemesis))


def _must_survive(op: Op, losses: Mapping[str, list[float]]) -> bool:
    if op.status != "ok":
        return False
    if op.replicas >= 2:
        return True
    return not any(t >= op.invoked for t in losses.get(op.node, ()))


def check(
    history: History,
    finals: Mapping[str, Mapping[str, Any]],
    *,
    tolerance: float = 0.0,
) -> Report:
    """The violations of ``history`` given each node's final states (node -> object -> value:
    a dict for a map, a set for a set, an int for a counter). ``tolerance`` (s): how much older
    across nodes a put may look and still win LWW (the clock skew the run allows)."""
    ops = history.ops
    losses: dict[str, list[float]] = defaultdict(list)
    for node, at in history.data_losses:
        losses[node].append(at)
    out: list[Violation] = []
    for node, at, by_nemesis in history.crashes:
        if not by_nemesis:
            out.append(Violation("crash", "", node, f"{node} died at {at:.3f} unbidden"))

    by_obj: dict[str, list[Op]] = defaultdict(list)
    for op in ops:
        if op.status != "fail":
            by_obj[op.obj].append(op)
    objects = sorted({*by_obj, *(o for f in finals.values() for o in f)})
    nodes = sorted(finals)
    for obj in objects:
        values = {n: finals[n].get(obj) for n in nodes}
        distinct = {_freeze(v) for v in values.values()}
        if len(distinct) > 1:
            groups: dict[Any, list[str]] = defaultdict(list)
            for n, v in values.items():
                groups[_freeze(v)].append(n)
            out.append(
                Violation("diverged", obj, "", " vs ".join(",".join(g) for g in groups.values()))
            )
        obj_ops = by_obj.get(obj, [])
        kinds = {op.kind for op in obj_ops}
        seen_here: set[Violation] = set()
        for n in nodes:
            final = values[n]
            if kinds & set(_MAP_KINDS):
                found = _check_map(obj, obj_ops, final or {}, losses, tolerance)
            elif kinds & set(_SET_KINDS):
                found = _check_set(obj, obj_ops, final or set(), losses)
            elif "incr" in kinds:
                found = _check_counter(obj, obj_ops, final or 0, losses)
            else:
                found = [] if final in (None, {}, set(), frozenset(), 0) else [
                    Violation("phantom", obj, "", f"{n} holds {final!r}, never written")
                ]  # fmt: skip
            for v in found:
                if v not in seen_here:  # the same violation on every node counts once
                    seen_here.add(v)
                    out.append(v)

    by_kind: dict[str, int] = defaultdict(int)
    for v in out:
        by_kind[v.kind] += 1
    return Report(
        violations=out,
        ops=len(ops),
        ok=sum(op.status == "ok" for op in ops),
        info=sum(op.status == "info" for op in ops),
        fail=sum(op.status == "fail" for op in ops),
        must_survive=sum(_must_survive(op, losses) for op in ops),
        by_kind=dict(by_kind),
    )


def _freeze(v: Any) -> Any:
    if isinstance(v, Mapping):
        return frozenset((k, _freeze(x)) for k, x in v.items())
    if isinstance(v, set | frozenset | list | tuple):
        return frozenset(_freeze(x) for x in v)
    return v


def _by_key(obj_ops: Iterable[Op]) -> dict[str, list[Op]]:
    out: dict[str, list[Op]] = defaultdict(list)
    for op in obj_ops:
        out[op.key].append(op)
    return out


def _check_map(
    obj: str,
    obj_ops: list[Op],
    final: Mapping[str, Any],
    losses: Mapping[str, list[float]],
    tolerance: float,
) -> list[Violation]:
    out: list[Violation] = []
    per_key = _by_key(op for op in obj_ops if op.kind in _MAP_KINDS)
    for key in sorted({*per_key, *final}):
        writes = per_key.get(key, [])
        puts = [w for w in writes if w.kind == "put"]
        removes = [w for w in writes if w.kind == "remove"]
        durable = [p for p in puts if _must_survive(p, losses)]
        if key not in final:
            for q in durable:
                if not any(r.invoked > q.invoked for r in removes):
                    out.append(Violation("lost", obj, key, f"put {q.value!r} by {q.node} (ok)"))
            continue
        v = final[key]
        winners = [p for p in puts if p.value == v]
        if not winners:
            out.append(Violation("phantom", obj, key, f"value {v!r} was never put"))
            continue
        p = winners[0]
        for q in durable:
            if q is p or any(r.invoked > q.invoked for r in removes):
                continue  # a remove after q may have cancelled q alone (one that had not seen p)
            if q.seen == v and q.seen is not NOT_SEEN:
                what = f"{v!r} won over {q.value!r} ({q.node}), which saw it"
                out.append(Violation("stale", obj, key, what))
            elif p.precedes(q, tolerance):
                out.append(
                    Violation(
                        "stale", obj, key,
                        f"{v!r} ({p.node}, acked {p.acked:.3f}) won over {q.value!r} ({q.node}, "
                        f"invoked {q.invoked:.3f})",
                    )
                )  # fmt: skip
        for r in removes:
            if _must_survive(r, losses) and r.seen == v and r.seen is not NOT_SEEN:
                out.append(
                    Violation("resurrected", obj, key, f"{v!r} removed by {r.node}, which saw it")
                )
    return out


def _check_set(
    obj: str, obj_ops: list[Op], final: Iterable[Any], losses: Mapping[str, list[float]]
) -> list[Violation]:
    out: list[Violation] = []
    present = set(final)
    per_elem = _by_key(op for op in obj_ops if op.kind in _SET_KINDS)
    for elem in sorted({*per_elem, *(str(e) for e in present)}):
        writes = per_elem.get(elem, [])
        adds = [w for w in writes if w.kind == "add"]
        removes = [w for w in writes if w.kind == "discard"]
        if elem in present:
            if not adds:
                out.append(Violation("phantom", obj, elem, "element never added"))
                continue
            for r in removes:
                # r cancelled every add it observed; with one add it saw, nothing may remain
                saw_it = r.seen is True and len(adds) == 1 and adds[0].invoked < r.invoked
                if saw_it and _must_survive(r, losses):
                    out.append(Violation("resurrected", obj, elem, f"removed by {r.node}"))
        else:
            for a in adds:
                if _must_survive(a, losses) and not any(r.invoked > a.invoked for r in removes):
                    out.append(Violation("lost", obj, elem, f"add by {a.node} (ok)"))
    return out


def _check_counter(
    obj: str, obj_ops: list[Op], final: int, losses: Mapping[str, list[float]]
) -> list[Violation]:
    sure = lo = hi = 0
    for op in obj_ops:
        if op.kind != "incr":
            continue
        n = int(op.value)
        if _must_survive(op, losses):
            sure += n
        elif n < 0:
            lo += n
        else:
            hi += n
    if not sure + lo <= final <= sure + hi:
        kind = "lost" if final < sure + lo else "phantom"
        return [
            Violation(
                "counter", obj, "", f"{kind}: total {final}, allowed [{sure + lo}, {sure + hi}]"
            )
        ]
    return []
