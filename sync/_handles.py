"""Typed handles to a Node's named objects: the CRDT type's own verbs, with the node supplying the
replica id and the HLC timestamp, and awaiting local durability (and a consistency level).

A handle holds no state: ``value`` reads the node's live object each time, so a handle made
before a peer's delta arrives sees it. Every verb validates its arguments before anything
changes (the crdts mutators check first, then mutate), so a rejected write is a
:class:`~sync.UsageError` and changes nothing, in memory or on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from crdts import (
    AWLWWMap,
    CausalCounter,
    GCounter,
    GSet,
    LWWRegister,
    MVRegister,
    ORMap,
    ORSet,
    PNCounter,
)
from sync._consistency import Consistency
from sync._subscriptions import Change, Subscription

if TYPE_CHECKING:
    from sync._node import Node
    from sync._streams import ChangeStream

__all__ = [
    "CounterHandle",
    "GCounterHandle",
    "GSetHandle",
    "Handle",
    "LWWRegisterHandle",
    "MVRegisterHandle",
    "MapHandle",
    "ORMapHandle",
    "SetHandle",
    "handle_class",
]

T = TypeVar("T")
C = TypeVar("C")


class Handle(Generic[T]):
    """A named object of CRDT type ``T`` on a node. ``await handle.update(fn)`` applies any
    delta-mutator ``fn(x) -> delta`` (the escape hatch for verbs without a method here)."""

    __slots__ = ("_node", "name", "type")

    def __init__(self, node: Node, name: str, kind: type[T]) -> None:
        self._node = node
        self.name = name
        self.type = kind

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.type.__name__}>"

    @property
    def replica_id(self) -> str:
        return self._node.replica_id

    @property
    def value(self) -> Any:
        """The current value (the type's bottom value if never written or received)."""
        x: Any = self._node._object(self.name, self.type)
        if x is None:
            x = self.type()
        return x.value

    @property
    def exists(self) -> bool:
        """True once the object was written here or received from a peer."""
        return self._node._object(self.name, self.type) is not None

    def state(self) -> T:
        """A copy of the whole CRDT state (bottom if absent)."""
        x = self._node._object(self.name, self.type)
        return self.type() if x is None else x.copy()

    async def update(
        self,
        fn: Callable[[T], Any],
        *,
        consistency: Consistency | None = None,
        timeout: float | None = None,
    ) -> None:
        """Apply ``fn(x)``, a delta-mutator of the type returning its delta, e.g.
        ``lambda s: s.add(handle.replica_id, "x")``. It runs on a copy, so a raising ``fn``
        changes nothing; only its delta is joined into the object."""
        await self._node._write(self.name, self.type, fn, consistency, timeout, copy=True)

    async def _mutate(
        self,
        fn: Callable[[T], Any],
        consistency: Consistency | None,
        timeout: float | None,
    ) -> None:
        # the crdts verbs validate every argument before they change anything: no copy needed
        await self._node._write(self.name, self.type, fn, consistency, timeout, copy=False)

    def changes(self) -> ChangeStream:
        """Every change of this object from this call on (local writes and peers' deltas), in
        order: the subscription starts when ``changes()`` is called. Close it with ``aclose()``
        or use it as ``async with handle.changes() as changes: async for change in changes``."""
        return self._node._changes(key=self.name)

    def subscribe(self, callback: Callable[[Change], object]) -> Subscription:
        """Call ``callback(change)`` (synchronously, isolated: a raising callback is counted,
        never fatal) on every change of this object; ``.cancel()`` stops it."""
        return self._node.engine.subscribe(callback, key=self.name)


class MapHandle(Handle[AWLWWMap]):
    """An :class:`~crdts.AWLWWMap` (add-wins map of last-writer-wins values): ``value`` is a
    ``dict``."""

    __slots__ = ()

    def get(self, key: Any, default: Any = None) -> Any:
        x = self._node._object(self.name, self.type)
        return default if x is None else x.get(key, default)

    async def put(
        self,
        key: Any,
        value: Any,
        *,
        consistency: Consistency | None = None,
        timeout: float | None = None,
    ) -> None:
        node = self._node
        # the hot path: straight to _write (what _mutate does, one coroutine frame fewer)
        await node._write(
            self.name,
            self.type,
            lambda m: m.put(node._replica_id, key, value, node._timestamp()),
            consistency,
            timeout,
            copy=False,
        )

    async def remove(
        self, key: Any, *, consistency: Consistency | None = None, timeout: float | None = None
    ) -> None:
        await self._mutate(lambda m: m.remove(key), consistency, timeout)


class SetHandle(Handle[ORSet]):
    """An :class:`~crdts.ORSet` (add-wins set): ``value`` is a ``frozenset``."""

    __slots__ = ()

    async def add(
        self, elem: Any, *, consistency: Consistency | None = None, timeout: float | None = None
    ) -> None:
        rid = self._node.replica_id
        await self._mutate(lambda s: s.add(rid, elem), consistency, timeout)

    async def remove(
        self, elem: Any, *, consistency: Consistency | None = None, timeout: float | None = None
    ) -> None:
        await self._mutate(lambda s: s.remove(elem), consistency, timeout)


class GSetHandle(Handle[GSet]):
    """A :class:`~crdts.GSet` (grow-only set)."""

    __slots__ = ()

    async def add(
        self, elem: Any, *, consistency: Consistency | None = None, timeout: float | None = None
    ) -> None:
        await self._mutate(lambda s: s.add(elem), consistency, timeout)


class CounterHandle(Handle[PNCounter]):
    """A :class:`~crdts.PNCounter`: ``value`` is an ``int``."""

    __slots__ = ()

    async def increment(
        self, n: int = 1, *, consistency: Consistency | None = None, timeout: float | None = None
    ) -> None:
        rid = self._node.replica_id
        await self._mutate(lambda c: c.increment(rid, n), consistency, timeout)

    async def decrement(
        self, n: int = 1, *, consistency: Consistency | None = None, timeout: float | None = None
    ) -> None:
        rid = self._node.replica_id
        await self._mutate(lambda c: c.decrement(rid, n), consistency, timeout)


class GCounterHandle(Handle[GCounter]):
    """A :class:`~crdts.GCounter` (grow-only counter)."""

    __slots__ = ()

    async def increment(
        self, n: int = 1, *, consistency: Consistency | None = None, timeout: float | None = None
    ) -> None:
        rid = self._node.replica_id
        await self._mutate(lambda c: c.increment(rid, n), consistency, timeout)


class LWWRegisterHandle(Handle[LWWRegister]):
    """A :class:`~crdts.LWWRegister` (causality first, then the HLC timestamp)."""

    __slots__ = ()

    async def set(
        self, value: Any, *, consistency: Consistency | None = None, timeout: float | None = None
    ) -> None:
        node = self._node
        await self._mutate(
            lambda r: r.set(node.replica_id, value, node._timestamp()), consistency, timeout
        )


class MVRegisterHandle(Handle[MVRegister]):
    """A :class:`~crdts.MVRegister`: ``value`` is the ``frozenset`` of concurrent values."""

    __slots__ = ()

    async def set(
        self, value: Any, *, consistency: Consistency | None = None, timeout: float | None = None
    ) -> None:
        rid = self._node.replica_id
        await self._mutate(lambda r: r.set(rid, value), consistency, timeout)


class ORMapHandle(Handle[ORMap]):
    """An :class:`~crdts.ORMap` of causal CRDTs; fields are ``(key, kind)``.

    ``await h.update_field("alice", ORSet, lambda s: s.add(h.replica_id, "x"))``."""

    __slots__ = ()

    def field(self, key: Any, kind: type[C]) -> C:
        """A copy of the ``kind`` value at ``key`` (bottom if absent)."""
        x = self._node._object(self.name, self.type)
        return kind() if x is None else x.get(key, kind)

    async def update_field(
        self,
        key: Any,
        kind: type[C],
        fn: Callable[[C], Any],
        *,
        consistency: Consistency | None = None,
        timeout: float | None = None,
    ) -> None:
        # ``fn`` is the caller's code: run on a copy (a raising fn changes nothing)
        await self._node._write(
            self.name,
            self.type,
            lambda m: m.update(key, kind, fn),
            consistency,
            timeout,
            copy=True,
        )

    async def remove(
        self,
        key: Any,
        kind: type[Any] | None = None,
        *,
        consistency: Consistency | None = None,
        timeout: float | None = None,
    ) -> None:
        await self._mutate(lambda m: m.remove(key, kind), consistency, timeout)

    async def increment(
        self,
        key: Any,
        n: int = 1,
        *,
        consistency: Consistency | None = None,
        timeout: float | None = None,
    ) -> None:
        """Add ``n`` to the :class:`~crdts.CausalCounter` at ``key``."""
        rid = self._node.replica_id
        await self.update_field(
            key,
            CausalCounter,
            lambda c: c.increment(rid, n),
            consistency=consistency,
            timeout=timeout,
        )


_HANDLES: dict[type[Any], type[Handle[Any]]] = {
    AWLWWMap: MapHandle,
    ORSet: SetHandle,
    GSet: GSetHandle,
    PNCounter: CounterHandle,
    GCounter: GCounterHandle,
    LWWRegister: LWWRegisterHandle,
    MVRegister: MVRegisterHandle,
    ORMap: ORMapHandle,
}


def handle_class(kind: type[Any]) -> type[Handle[Any]]:
    """The handle class for CRDT type ``kind`` (the generic :class:`Handle` for other types)."""
    return _HANDLES.get(kind, Handle)
