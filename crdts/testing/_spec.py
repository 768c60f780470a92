"""How the suite drives a type: :class:`TypeSpec` (its mutators and their argument strategies, and
optionally a sequential model of its semantics), and the event-based :class:`Model`.

The model is type-independent: every mutation is an :class:`Event` that *supersedes* (kills) the
events its replica has seen and that the mutation overrides (the spec's ``kills``); a replica
knows the events it made plus those that reached it (a delta carries its event and the events it
supersedes; a full state carries all its replica knows). The spec's ``model_value`` turns the
events left alive into the value the type must show: a sum for counters, the elements with an
add not superseded for the add-wins set, the concurrent values for the multi-value register, the
largest ``(ts, replica)`` of them for the LWW types, and so on.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from crdts._hlc import HLC, HLCTimestamp

__all__ = ["REPLICAS", "Env", "Event", "Model", "Op", "TypeSpec", "mutator"]

REPLICAS = ("a", "b", "c")
"""The replica ids of every generated history."""


class Env:
    """Per-history context handed to every mutator: one :class:`~crdts.HLC` per replica, for the
    types whose mutators take a timestamp."""

    def __init__(self) -> None:
        self.clocks = {r: HLC(r) for r in REPLICAS}

    def ts(self, replica: str, wall: int) -> HLCTimestamp:
        """A fresh timestamp of ``replica``'s clock at physical time ``wall``."""
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
    """A mutator of the type under test.

    ``apply(state, replica, args, env) -> (delta, extra)`` mutates ``state`` in place at
    ``replica`` and returns the delta, plus anything the model needs to know (e.g. the timestamp
    drawn from ``env``); :func:`mutator` builds one from a plain ``fn(state, replica, *args)``.
    ``args`` draws the argument tuple. ``target`` is the number of leading arguments that name
    *what* the op acts on (an element, a key): histories biased toward collisions make other
    replicas act on the same target (add the same element on two replicas, remove it on a third).
    """

    name: str
    args: st.SearchStrategy[tuple[Any, ...]]
    apply: Callable[[Any, str, tuple[Any, ...], Env], tuple[Any, Any]]
    target: int = 0


def mutator(
    name: str,
    args: st.SearchStrategy[tuple[Any, ...]],
    fn: Callable[..., Any],
    *,
    target: int = 0,
) -> Op:
    """An :class:`Op` from a plain mutator ``fn(state, replica, *args) -> delta``."""

    def apply(x: Any, replica: str, a: tuple[Any, ...], env: Env) -> tuple[Any, Any]:
        return fn(x, replica, *a), None

    return Op(name, args, apply, target)


def _no_kills(e: Event, live: list[Event]) -> list[Event]:
    return []


@dataclass(frozen=True, repr=False, kw_only=True)
class TypeSpec:
    """Everything the suite needs to know about one CRDT type.

    - ``name``, ``cls``: the type; ``bottom()`` (default ``cls()``) makes its bottom state.
    - ``ops``: its mutators (see :class:`Op`).
    - ``model_value(live events) -> value`` (optional): the sequential model; with it, the
      convergence machine checks every replica's ``value`` against the events it has received,
      and the converged value against the whole history. ``kills(event, live) -> superseded``
      says which live events a new event overrides at its replica (default: none, as for
      counters and grow-only sets); ``carry(event, killed)`` computes an event's ``extra`` from
      the events it kills (a causal counter's running total).
    - ``causal``: whether replicas show the model's value at every step (``True`` for causal
      types); ``False`` checks the model only on the converged state.
    - ``codec``: whether the type is registered with :func:`crdts.register` (the codec checks and
      the convergence machine's wire round trip need it).
    - ``fresh_key``/``has_key`` (optional, keyed types): add a key no other replica has seen, and
      test for it in a value (checks that a partial state never deletes what it never saw).
    """

    name: str
    cls: type[Any]
    ops: tuple[Op, ...]
    bottom: Callable[[], Any] | None = None
    model_value: Callable[[list[Event]], Any] | None = None
    kills: Callable[[Event, list[Event]], Iterable[Event]] = _no_kills
    carry: Callable[[Event, list[Event]], Any] | None = None
    causal: bool = True
    codec: bool = True
    fresh_key: Callable[[Any, str, str], Any] | None = None
    has_key: Callable[[Any, Any], bool] | None = None

    def __post_init__(self) -> None:
        if not self.ops:
            raise ValueError(f"TypeSpec {self.name}: at least one op is needed")
        names = [op.name for op in self.ops]
        if len(set(names)) != len(names):
            raise ValueError(f"TypeSpec {self.name}: op names must be unique, got {names}")

    def new(self) -> Any:
        """A fresh bottom state."""
        return self.cls() if self.bottom is None else self.bottom()

    def __repr__(self) -> str:
        return self.name


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
        """The value ``replica`` must show (``None``: every event everywhere). Only for a spec
        with a ``model_value``."""
        if self.spec.model_value is None:
            raise ValueError(f"TypeSpec {self.spec.name} has no model_value")
        if replica is None:
            return self.spec.model_value(self._live(self.events, self.events))
        return self.spec.model_value(self.live_at(replica))
