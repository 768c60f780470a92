"""The specs of every built-in type: their mutators with argument strategies, and the sequential
model of each type's semantics (see :class:`~crdts.testing.TypeSpec`). :data:`BUILTIN_SPECS` feeds
the package's own law suite and convergence machines, and :func:`spec_for` gives a user the spec
of a type their app builds on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

import crdts
from crdts._ccounter import CausalCounter
from crdts._gcounter import GCounter
from crdts._gset import GSet
from crdts._lwwregister import LWWRegister
from crdts._mvregister import MVRegister
from crdts._ormap import ORMap
from crdts._orset import ORSet
from crdts._pncounter import PNCounter
from crdts._vclock import VectorClock
from crdts.testing._spec import REPLICAS, Env, Event, Op, TypeSpec, mutator

__all__ = [
    "AMOUNTS",
    "BUILTIN_SPECS",
    "ELEMS",
    "KEYS",
    "VALUES",
    "WALLS",
    "spec_for",
]

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


_op = mutator


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
        if kind in {"orset", "mvregister"}:
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


BUILTIN_SPECS: tuple[TypeSpec, ...] = (
    TypeSpec(
        name="GCounter",
        cls=GCounter,
        ops=(_op("increment", st.tuples(AMOUNTS), GCounter.increment),),
        model_value=lambda live: sum(e.args[0] for e in live),
        causal=False,
    ),
    TypeSpec(
        name="PNCounter",
        cls=PNCounter,
        ops=(
            _op("increment", st.tuples(AMOUNTS), PNCounter.increment),
            _op("decrement", st.tuples(AMOUNTS), PNCounter.decrement),
        ),
        model_value=_counter_value,
        causal=False,
    ),
    TypeSpec(
        name="GSet",
        cls=GSet,
        ops=(_op("add", st.tuples(ELEMS), lambda x, r, e: x.add(e), target=1),),
        model_value=lambda live: frozenset(e.args[0] for e in live),
        causal=False,
    ),
    TypeSpec(
        name="VectorClock",
        cls=VectorClock,
        ops=(_op("increment", st.tuples(), VectorClock.increment),),
        model_value=lambda live: {
            r: n for r in REPLICAS if (n := sum(1 for e in live if e.replica == r))
        },
        causal=False,
    ),
    TypeSpec(
        name="ORSet",
        cls=ORSet,
        ops=(
            _op("add", st.tuples(ELEMS), ORSet.add, target=1),
            _op("remove", st.tuples(ELEMS), lambda x, r, e: x.remove(e), target=1),
        ),
        kills=_same("add", key=lambda e: e.args[0]),
        model_value=lambda live: frozenset(e.args[0] for e in live if e.op == "add"),
        fresh_key=_orset_fresh,
        has_key=lambda value, key: key in value,
    ),
    TypeSpec(
        name="MVRegister",
        cls=MVRegister,
        ops=(_op("set", st.tuples(VALUES), MVRegister.set),),
        kills=_same("set"),
        model_value=lambda live: frozenset(e.args[0] for e in live),
    ),
    TypeSpec(
        name="LWWRegister",
        cls=LWWRegister,
        ops=(Op("set", st.tuples(VALUES, WALLS), _lww_set),),
        kills=_same("set"),
        model_value=_lww_value,
    ),
    TypeSpec(
        name="CausalCounter",
        cls=CausalCounter,
        ops=(Op("increment", st.tuples(AMOUNTS, st.booleans()), _ccounter_inc),),
        # one live dot per replica, carrying that replica's running total
        kills=_same("increment", key=lambda e: e.replica if e.args[0] else None),
        model_value=_ccounter_value,
        carry=_ccounter_carry,
    ),
    TypeSpec(
        name="ORMap",
        cls=ORMap,
        ops=(
            Op("add", st.tuples(KEYS, ELEMS), _m_add, target=2),
            Op("rem", st.tuples(KEYS, ELEMS), _m_rem, target=2),
            Op("set", st.tuples(KEYS, VALUES), _m_set, target=1),
            Op("inc", st.tuples(KEYS, st.integers(1, 3)), _m_inc, target=1),
            Op("nested", st.tuples(KEYS, KEYS, VALUES, WALLS), _m_nested, target=2),
            Op(
                "remove",
                st.tuples(KEYS, st.sampled_from([None, "orset", "mv"])),
                _m_remove,
                target=1,
            ),
        ),
        kills=_ormap_kills,
        model_value=_ormap_value,
        fresh_key=_ormap_fresh,
        has_key=_ormap_has,
        carry=_ormap_carry,
    ),
)


# AWLWWMap: add-wins keys, LWW values, causality first: a put supersedes
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


AWLWWMAP_SPEC = TypeSpec(
    name="AWLWWMap",
    cls=crdts.AWLWWMap,
    ops=(
        Op("put", st.tuples(KEYS, VALUES, WALLS), _aw_put, target=1),
        Op("remove", st.tuples(KEYS), _aw_remove, target=1),
    ),
    kills=_same("put", key=lambda e: e.args[0]),
    model_value=_aw_value,
    fresh_key=_aw_fresh,
    has_key=lambda value, key: key in value,
)

BUILTIN_SPECS += (AWLWWMAP_SPEC,)
"""The spec of every built-in type, in a stable order."""


def spec_for(cls: type[Any]) -> TypeSpec:
    """The spec of built-in type ``cls`` (e.g. ``spec_for(ORSet)``)."""
    for spec in BUILTIN_SPECS:
        if spec.cls is cls:
            return spec
    raise KeyError(f"{cls.__name__} is not a built-in type; describe it with a TypeSpec")
