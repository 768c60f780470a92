"""Per-type specifications shared by the CRDT law suite, the convergence state machines and the
property tests: how to drive each type (its mutators and their argument strategies), how to build
*reachable* states (from random operation histories across several replicas, never from arbitrary
internal data), and a sequential model of each type's semantics.

Every spec is a :class:`TypeSpec`. A test that needs states draws a :class:`Universe` from
:func:`universes`: replicas ``"a"``, ``"b"``, ``"c"`` applying random operations and exchanging
full states, deltas, diffs or random subsets of their decompositions. All states of one universe
are causally consistent with each other (no dot is ever minted twice), which is the only kind of
state a real system can produce.

The model (:class:`Model`) is event-based and type-independent: every mutation is an event that
*supersedes* (kills) the events its replica has seen and that the mutation overrides (computed by
the spec's ``kills``); a replica knows the events it made plus those that reached it (a delta
carries its event and the events it supersedes; a full state carries all its replica knows). The
spec's ``model_value`` turns the events left alive into the value the type must show: a sum for
counters, the elements with an add not superseded for the add-wins set, the concurrent values for
the multi-value register, the largest ``(ts, replica)`` of them for the LWW types, and so on.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

import crdts
from crdts import (
    HLC,
    CausalCounter,
    GCounter,
    GSet,
    LWWRegister,
    MVRegister,
    ORMap,
    ORSet,
    PNCounter,
    VectorClock,
)

REPLICAS = ("a", "b", "c")

# Small domains so that removes and overwrites hit. Types are kept apart (no 1 next to True or
# 1.0, which Python treats as equal) so that "round-trips exactly" can be checked by type.
ELEMS: st.SearchStrategy[Any] = st.sampled_from(
    [0, 7, -3, "x", "y", "", b"\x00", (1, "z"), ((), (None,)), None, 2.5]
)
KEYS: st.SearchStrategy[Any] = st.sampled_from(["k1", "k2", 3, ("k", 4)])
VALUES: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from([0, 1, "v", b"bytes", None, True, -0.5, ("t", (1, 2.0))]),
    st.integers(min_value=-(1 << 63), max_value=(1 << 64) - 1),
    st.text(max_size=5),
)
AMOUNTS = st.integers(min_value=0, max_value=5)
WALLS = st.integers(min_value=0, max_value=20)


class Env:
    """Per-universe context: one HLC per replica (for the types that take ``ts``)."""

    def __init__(self) -> None:
        self.clocks = {r: HLC(r) for r in REPLICAS}

    def ts(self, replica: str, wall: int) -> crdts.HLCTimestamp:
        return self.clocks[replica].now(wall=wall)


@dataclass(frozen=True)
class Event:
    """One mutation, as the model sees it."""

    id: int
    replica: str
    op: str
    args: tuple[Any, ...]
    extra: Any = None  # e.g. the timestamp an LWW op used, or a counter's running total


@dataclass(frozen=True)
class Op:
    """A mutator: ``apply(state, replica, args, env) -> (delta, extra)``."""

    name: str
    args: st.SearchStrategy[tuple[Any, ...]]
    apply: Callable[[Any, str, tuple[Any, ...], Env], tuple[Any, Any]]


@dataclass(frozen=True, repr=False)
class TypeSpec:
    name: str
    cls: type[Any]
    ops: tuple[Op, ...]
    # kills(event, live events known at the event's replica) -> the events it supersedes
    kills: Callable[[Event, list[Event]], Iterable[Event]]
    # model_value(live events) -> the value every replica must show
    model_value: Callable[[list[Event]], Any]
    causal: bool = True
    # optional: add a key no other replica has seen, and test for it in a value
    fresh_key: Callable[[Any, str, str], Any] | None = None
    has_key: Callable[[Any, Any], bool] | None = None
    # optional: an event's ``extra`` computed from the events it kills (a running total)
    carry: Callable[[Event, list[Event]], Any] | None = None

    def __repr__(self) -> str:
        return self.name


def _no_kills(e: Event, live: list[Event]) -> list[Event]:
    return []


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


@dataclass
class Model:
    """Event-based sequential model of a replicated object.

    Per replica, ``known`` is the set of events whose dot its context holds and ``informed`` the
    events whose supersessions it has applied (it made them, or their delta or a state holding
    them reached it). A replica learns of an event *only as dead* when another event that killed
    it arrives first: it then knows the dot but not what that event itself superseded. An event is
    live at a replica iff known there and killed by none of the events it is informed of.
    """

    spec: TypeSpec
    events: dict[int, Event] = field(default_factory=dict)
    killed_by: dict[int, frozenset[int]] = field(default_factory=dict)
    known: dict[str, set[int]] = field(default_factory=lambda: {r: set() for r in REPLICAS})
    informed: dict[str, set[int]] = field(default_factory=lambda: {r: set() for r in REPLICAS})
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def _live(self, known: Iterable[int], informed: Iterable[int]) -> list[Event]:
        dead: set[int] = set()
        for i in informed:
            dead |= self.killed_by[i]
        return [self.events[i] for i in sorted(set(known) - dead)]

    def live_at(self, replica: str) -> list[Event]:
        return self._live(self.known[replica], self.informed[replica])

    def record(self, replica: str, op: str, args: tuple[Any, ...], extra: Any) -> Event:
        e = Event(next(self._ids), replica, op, args, extra)
        killed = list(self.spec.kills(e, self.live_at(replica)))
        if self.spec.carry is not None:
            e = Event(e.id, replica, op, args, self.spec.carry(e, killed))
        self.events[e.id] = e
        self.killed_by[e.id] = frozenset(k.id for k in killed)
        self.deliver_delta(replica, e.id)
        return e

    def deliver_delta(self, dst: str, event_id: int) -> None:
        self.known[dst] |= {event_id} | self.killed_by[event_id]
        self.informed[dst].add(event_id)

    def deliver_state(self, src: str, dst: str) -> None:
        self.known[dst] |= self.known[src]
        self.informed[dst] |= self.informed[src]

    def value(self, replica: str | None = None) -> Any:
        """The value ``replica`` must show (``None``: every event everywhere)."""
        if replica is None:
            return self.spec.model_value(self._live(self.events, self.events))
        return self.spec.model_value(self.live_at(replica))


# ---------------------------------------------------------------------------------------------
# The specs
# ---------------------------------------------------------------------------------------------


def _op(name: str, args: st.SearchStrategy[tuple[Any, ...]], fn: Callable[..., Any]) -> Op:
    def apply(x: Any, replica: str, a: tuple[Any, ...], env: Env) -> tuple[Any, Any]:
        return fn(x, replica, *a), None

    return Op(name, args, apply)


def _counter_value(live: list[Event]) -> int:
    return sum(e.args[0] if e.op == "increment" else -e.args[0] for e in live)


def _same(*ops: str, key: Callable[[Event], Any] = lambda e: ()) -> Callable[..., list[Event]]:
    """Kills: the live events of ``ops`` with the same ``key`` as the new event."""

    def kills(e: Event, live: list[Event]) -> list[Event]:
        k = key(e)
        return [x for x in live if x.op in ops and key(x) == k]

    return kills


def _lww_rank(e: Event) -> tuple[Any, str]:
    return (e.extra, e.replica)


def _lww_set(x: LWWRegister, replica: str, a: tuple[Any, ...], env: Env) -> tuple[Any, Any]:
    ts = env.ts(replica, a[1])
    return x.set(replica, a[0], ts), ts


def _lww_value(live: list[Event]) -> Any:
    return max(live, key=_lww_rank).args[0] if live else None


def _ccounter_inc(x: CausalCounter, r: str, a: tuple[Any, ...], env: Env) -> tuple[Any, Any]:
    return (x.increment(r, a[0]) if a[1] else x.decrement(r, a[0])), None


def _ccounter_carry(e: Event, killed: list[Event]) -> int:
    return int(e.args[0] if e.args[1] else -e.args[0]) + sum(int(k.extra) for k in killed)


def _ccounter_value(live: list[Event]) -> int:
    return sum(int(e.extra) for e in live)


def _orset_fresh(x: ORSet, replica: str, key: str) -> Any:
    return x.add(replica, key)


def _ormap_fresh(x: ORMap, replica: str, key: str) -> Any:
    return x.update(key, ORSet, lambda s: s.add(replica, "fresh"))


# ORMap ops: nested ORSet add/remove, MVRegister set, counter increment, key removal. The model's
# kill relation mirrors the map's semantics: a removal of a key supersedes every event under the
# key that the remover has seen.
def _m_add(x: ORMap, r: str, a: tuple[Any, ...], env: Env) -> tuple[Any, Any]:
    return x.update(a[0], ORSet, lambda s: s.add(r, a[1])), None


def _m_rem(x: ORMap, r: str, a: tuple[Any, ...], env: Env) -> tuple[Any, Any]:
    return x.update(a[0], ORSet, lambda s: s.remove(a[1])), None


def _m_set(x: ORMap, r: str, a: tuple[Any, ...], env: Env) -> tuple[Any, Any]:
    return x.update(a[0], MVRegister, lambda g: g.set(r, a[1])), None


def _m_inc(x: ORMap, r: str, a: tuple[Any, ...], env: Env) -> tuple[Any, Any]:
    return x.update(a[0], CausalCounter, lambda c: c.increment(r, a[1])), None


def _m_nested(x: ORMap, r: str, a: tuple[Any, ...], env: Env) -> tuple[Any, Any]:
    return x.update(
        a[0], ORMap, lambda m: m.update(a[1], LWWRegister, lambda g: g.set(r, a[2], a[3]))
    ), None


def _m_remove(x: ORMap, r: str, a: tuple[Any, ...], env: Env) -> tuple[Any, Any]:
    return x.remove(a[0], None if a[1] is None else {"orset": ORSet, "mv": MVRegister}[a[1]]), None


_MAP_KIND = {
    "add": "orset",
    "rem": "orset",
    "set": "mvregister",
    "inc": "counter",
    "nested": "ormap",
}


def _ormap_kills(e: Event, live: list[Event]) -> list[Event]:
    key = e.args[0]
    if e.op == "remove":
        kinds = {None: None, "orset": "orset", "mv": "mvregister"}[e.args[1]]
        return [
            x
            for x in live
            if x.op != "remove" and x.args[0] == key and kinds in (None, _MAP_KIND[x.op])
        ]
    same_key = [x for x in live if x.op != "remove" and x.args[0] == key]
    if e.op in ("add", "rem"):
        return [x for x in same_key if x.op == "add" and x.args[1] == e.args[1]]
    if e.op == "set":
        return [x for x in same_key if x.op == "set"]
    if e.op == "inc":
        return [x for x in same_key if x.op == "inc" and x.replica == e.replica]
    # nested LWW set: supersedes the sets of that inner key
    return [x for x in same_key if x.op == "nested" and x.args[1] == e.args[1]]


def _ormap_value(live: list[Event]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    by_field: dict[tuple[Any, str], list[Event]] = {}
    for e in live:
        if e.op in _MAP_KIND and e.op != "rem":
            by_field.setdefault((e.args[0], _MAP_KIND[e.op]), []).append(e)
    for (key, kind), evs in by_field.items():
        if kind == "orset" or kind == "mvregister":
            out[(key, kind)] = frozenset(e.args[1] for e in evs)
        elif kind == "counter":
            # each live increment carries its replica's running total (Almeida's causal counter)
            out[(key, kind)] = sum(e.extra for e in evs)
        else:
            inner: dict[Any, list[Event]] = {}
            for e in evs:
                inner.setdefault(e.args[1], []).append(e)
            out[(key, kind)] = {
                (k, "lwwregister"): max(es, key=lambda e: (e.args[3], e.replica)).args[2]
                for k, es in inner.items()
            }
    return out


def _ormap_carry(e: Event, killed: list[Event]) -> Any:
    if e.op != "inc":
        return e.extra
    return e.args[1] + sum(k.extra for k in killed)


def _ormap_has(value: Any, key: Any) -> bool:
    return (key, "orset") in value


SPECS: list[TypeSpec] = [
    TypeSpec(
        "GCounter",
        GCounter,
        (_op("increment", st.tuples(AMOUNTS), GCounter.increment),),
        _no_kills,
        lambda live: sum(e.args[0] for e in live),
        causal=False,
    ),
    TypeSpec(
        "PNCounter",
        PNCounter,
        (
            _op("increment", st.tuples(AMOUNTS), PNCounter.increment),
            _op("decrement", st.tuples(AMOUNTS), PNCounter.decrement),
        ),
        _no_kills,
        _counter_value,
        causal=False,
    ),
    TypeSpec(
        "GSet",
        GSet,
        (_op("add", st.tuples(ELEMS), lambda x, r, e: x.add(e)),),
        _no_kills,
        lambda live: frozenset(e.args[0] for e in live),
        causal=False,
    ),
    TypeSpec(
        "VectorClock",
        VectorClock,
        (_op("increment", st.tuples(), VectorClock.increment),),
        _no_kills,
        lambda live: {r: n for r in REPLICAS if (n := sum(1 for e in live if e.replica == r))},
        causal=False,
    ),
    TypeSpec(
        "ORSet",
        ORSet,
        (
            _op("add", st.tuples(ELEMS), ORSet.add),
            _op("remove", st.tuples(ELEMS), lambda x, r, e: x.remove(e)),
        ),
        _same("add", key=lambda e: e.args[0]),
        lambda live: frozenset(e.args[0] for e in live if e.op == "add"),
        fresh_key=_orset_fresh,
        has_key=lambda value, key: key in value,
    ),
    TypeSpec(
        "MVRegister",
        MVRegister,
        (_op("set", st.tuples(VALUES), MVRegister.set),),
        _same("set"),
        lambda live: frozenset(e.args[0] for e in live),
    ),
    TypeSpec(
        "LWWRegister",
        LWWRegister,
        (Op("set", st.tuples(VALUES, WALLS), _lww_set),),
        _same("set"),
        _lww_value,
    ),
    TypeSpec(
        "CausalCounter",
        CausalCounter,
        (Op("increment", st.tuples(AMOUNTS, st.booleans()), _ccounter_inc),),
        # one live dot per replica, carrying that replica's running total
        _same("increment", key=lambda e: e.replica if e.args[0] else None),
        _ccounter_value,
        carry=_ccounter_carry,
    ),
    TypeSpec(
        "ORMap",
        ORMap,
        (
            Op("add", st.tuples(KEYS, ELEMS), _m_add),
            Op("rem", st.tuples(KEYS, ELEMS), _m_rem),
            Op("set", st.tuples(KEYS, VALUES), _m_set),
            Op("inc", st.tuples(KEYS, st.integers(1, 3)), _m_inc),
            Op("nested", st.tuples(KEYS, KEYS, VALUES, WALLS), _m_nested),
            Op("remove", st.tuples(KEYS, st.sampled_from([None, "orset", "mv"])), _m_remove),
        ),
        _ormap_kills,
        _ormap_value,
        fresh_key=_ormap_fresh,
        has_key=_ormap_has,
        carry=_ormap_carry,
    ),
]


# AWLWWMap (API fixed by the issue): add-wins keys, LWW values, causality first: a put supersedes
# every put of the key its replica has seen; concurrent ones are decided by (ts, replica).
def _aw_put(x: Any, r: str, a: tuple[Any, ...], env: Env) -> tuple[Any, Any]:
    ts = env.ts(r, a[2])
    return x.put(r, a[0], a[1], ts), ts


def _aw_remove(x: Any, r: str, a: tuple[Any, ...], env: Env) -> tuple[Any, Any]:
    return x.remove(a[0]), None


def _aw_value(live: list[Event]) -> dict[Any, Any]:
    by_key: dict[Any, list[Event]] = {}
    for e in live:
        if e.op == "put":
            by_key.setdefault(e.args[0], []).append(e)
    return {k: max(es, key=_lww_rank).args[1] for k, es in by_key.items()}


def _aw_fresh(x: Any, replica: str, key: str) -> Any:
    return x.put(replica, key, "fresh", crdts.HLCTimestamp(0, 0, replica))


SPECS.append(
    TypeSpec(
        "AWLWWMap",
        crdts.AWLWWMap,
        (
            Op("put", st.tuples(KEYS, VALUES, WALLS), _aw_put),
            Op("remove", st.tuples(KEYS), _aw_remove),
        ),
        _same("put", key=lambda e: e.args[0]),
        _aw_value,
        fresh_key=_aw_fresh,
        has_key=lambda value, key: key in value,
    )
)

SPEC_IDS = [s.name for s in SPECS]
KEYED_SPECS = [s for s in SPECS if s.fresh_key is not None]


# ---------------------------------------------------------------------------------------------
# Universes: reachable states from random histories
# ---------------------------------------------------------------------------------------------


@dataclass
class Universe:
    """The outcome of one random history: each replica's state and every delta produced."""

    spec: TypeSpec
    states: dict[str, Any]
    deltas: list[Any]
    env: Env
    model: Model

    def all_states(self) -> list[Any]:
        return [*self.states.values(), *self.deltas]


def apply_op(u: Universe, replica: str, op: Op, args: tuple[Any, ...]) -> tuple[Any, Event]:
    """Apply ``op`` at ``replica`` and record it in the model."""
    delta, extra = op.apply(u.states[replica], replica, args, u.env)
    event = u.model.record(replica, op.name, args, extra)
    return delta, event


def _subset(items: list[Any], mask: int) -> list[Any]:
    return [x for i, x in enumerate(items) if (mask >> (i % 64)) & 1]


def run_history(spec: TypeSpec, steps: list[tuple[Any, ...]]) -> Universe:
    u = Universe(spec, {r: spec.cls() for r in REPLICAS}, [], Env(), Model(spec))
    for step in steps:
        if step[0] == "op":
            _, ri, oi, args = step
            op = spec.ops[oi]
            delta, _ = apply_op(u, REPLICAS[ri], op, args)
            u.deltas.append(delta)
        else:
            _, si, di, mode, mask = step
            src, dst = REPLICAS[si], REPLICAS[di]
            x, y = u.states[src], u.states[dst]
            if mode == "state":
                y.merge(x)
                u.model.deliver_state(src, dst)
            elif mode == "diff":
                d = x.diff(y)
                u.deltas.append(d)
                y.merge(d)
                u.model.deliver_state(src, dst)
            else:  # a random part of the source's decomposition
                for part in _subset(x.decompose(), mask):
                    y.merge(part)
    return u


def _steps(spec: TypeSpec, max_steps: int) -> st.SearchStrategy[list[tuple[Any, ...]]]:
    replica = st.integers(0, len(REPLICAS) - 1)
    op_steps = [
        st.tuples(st.just("op"), replica, st.just(i), op.args) for i, op in enumerate(spec.ops)
    ]
    sync = st.tuples(
        st.just("sync"),
        replica,
        replica,
        st.sampled_from(["state", "diff", "part"]),
        st.integers(0, (1 << 64) - 1),
    )
    return st.lists(st.one_of(*op_steps, sync), max_size=max_steps)


def universes(spec: TypeSpec, max_steps: int = 10) -> st.SearchStrategy[Universe]:
    return _steps(spec, max_steps).map(lambda steps: run_history(spec, steps))


def typed(v: Any) -> Any:
    """``v`` with every scalar tagged by its type, so ``1``, ``1.0`` and ``True`` differ."""
    if isinstance(v, (frozenset, set)):
        return frozenset(typed(x) for x in v)
    if isinstance(v, dict):
        return frozenset((typed(k), typed(x)) for k, x in v.items())
    if isinstance(v, tuple):
        return (type(v).__name__, tuple(typed(x) for x in v))
    return (type(v).__name__, v)
