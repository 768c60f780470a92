"""Change subscriptions: per object key and per key prefix, isolated from the engine.

A callback receives a :class:`Change` after the engine applied a local mutation or a remote delta
that changed an object's state. Callbacks run synchronously inside the engine call, each in its own
``try``: an exception is counted (``metrics.callback_errors``), remembered
(:attr:`Subscriptions.last_error`) and otherwise ignored, so a failing callback can never stop
sync. Values are computed only for keys somebody subscribed to.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, field
from typing import Any, Literal

from sync._errors import UsageError

__all__ = ["Change", "ChangeKind", "Subscription", "Subscriptions", "describe_change"]

ChangeKind = Literal["added", "updated", "removed"]


@dataclass(frozen=True, slots=True)
class Change:
    """What happened to object ``key``.

    ``kind`` is ``"added"`` when the key is new to this replica, ``"removed"`` when its value became
    empty (an emptied set or map), else ``"updated"``. For set- and map-valued objects,
    ``added``/``updated``/``removed`` name the elements (set) or entry keys (map) that changed.
    ``origin`` is the peer whose message caused it, ``None`` for a local mutation.
    """

    key: str
    kind: ChangeKind
    value: Any
    origin: str | None = None
    added: frozenset[Any] = field(default_factory=frozenset)
    updated: frozenset[Any] = field(default_factory=frozenset)
    removed: frozenset[Any] = field(default_factory=frozenset)


_MISSING: Any = object()


def _hashable_set(xs: Any) -> frozenset[Any]:
    try:
        return frozenset(xs)
    except TypeError:
        return frozenset()


def describe_change(key: str, old: Any, new: Any, origin: str | None) -> Change | None:
    """The :class:`Change` from value ``old`` (``_MISSING`` if the key was absent) to ``new``;
    ``None`` when the value did not change (e.g. an inflation invisible in the value)."""
    if old is not _MISSING and old == new:
        return None
    added: frozenset[Any] = frozenset()
    updated: frozenset[Any] = frozenset()
    removed: frozenset[Any] = frozenset()
    old_v = None if old is _MISSING else old
    if isinstance(new, Mapping):
        before = old_v if isinstance(old_v, Mapping) else {}
        added = _hashable_set(k for k in new if k not in before)
        removed = _hashable_set(k for k in before if k not in new)
        updated = _hashable_set(k for k in new if k in before and before[k] != new[k])
    elif isinstance(new, Set | frozenset | set):
        before_s = old_v if isinstance(old_v, Set | frozenset | set) else frozenset()
        added = _hashable_set(new - before_s)
        removed = _hashable_set(before_s - new)
    kind: ChangeKind
    if old is _MISSING:
        kind = "added"
    elif isinstance(new, Mapping | Set | frozenset | set) and not new and old_v:
        kind = "removed"
    else:
        kind = "updated"
    return Change(key, kind, new, origin, added, updated, removed)


Callback = Callable[[Change], object]


class Subscription:
    """A handle: :meth:`cancel` stops deliveries (idempotent)."""

    __slots__ = ("_id", "_owner")

    def __init__(self, owner: Subscriptions, sid: int) -> None:
        self._owner = owner
        self._id = sid

    def cancel(self) -> None:
        self._owner._cancel(self._id)


class Subscriptions:
    __slots__ = ("_by_key", "_by_prefix", "_next", "_where", "errors", "last_error")

    def __init__(self) -> None:
        self._by_key: dict[str, dict[int, Callback]] = {}
        self._by_prefix: dict[str, dict[int, Callback]] = {}
        self._where: dict[int, tuple[bool, str]] = {}
        self._next = 0
        self.errors = 0
        self.last_error: BaseException | None = None

    def subscribe(
        self, callback: Callback, *, key: str | None = None, prefix: str | None = None
    ) -> Subscription:
        if (key is None) == (prefix is None):
            raise UsageError("subscribe to exactly one of key= or prefix=")
        if not callable(callback):
            raise UsageError("callback must be callable")
        self._next += 1
        sid = self._next
        if key is not None:
            self._by_key.setdefault(key, {})[sid] = callback
            self._where[sid] = (True, key)
        else:
            assert prefix is not None
            self._by_prefix.setdefault(prefix, {})[sid] = callback
            self._where[sid] = (False, prefix)
        return Subscription(self, sid)

    def _cancel(self, sid: int) -> None:
        where = self._where.pop(sid, None)
        if where is None:
            return
        table = self._by_key if where[0] else self._by_prefix
        subs = table.get(where[1])
        if subs is not None:
            subs.pop(sid, None)
            if not subs:
                del table[where[1]]

    def __bool__(self) -> bool:
        return bool(self._where)

    def wants(self, key: str) -> bool:
        if not self._where:
            return False
        if key in self._by_key:
            return True
        return key.startswith(tuple(self._by_prefix))  # all in C: on every write's path

    def notify(self, change: Change) -> None:
        callbacks = list(self._by_key.get(change.key, {}).values())
        for p, subs in self._by_prefix.items():
            if change.key.startswith(p):
                callbacks.extend(subs.values())
        for cb in callbacks:
            try:
                cb(change)
            except Exception as exc:  # isolation: a subscriber's bug must never stop sync
                self.errors += 1
                self.last_error = exc
