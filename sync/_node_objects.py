"""The Node's objects: typed handles, names and scans, writes (local-first, then a consistency
level), ``flush``, serving a peer's consistency write, and change streams.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

import anyio

import crdts
from crdts import (
    AWLWWMap,
    GCounter,
    GSet,
    LWWRegister,
    MVRegister,
    ORMap,
    ORSet,
    PNCounter,
)
from sync._consistency import Consistency, WriteAll, WriteLocal, WriteMajority, WriteTo
from sync._direct import WriteRequested
from sync._errors import StorageError, TypeMismatchError, UsageError
from sync._handles import (
    CounterHandle,
    GCounterHandle,
    GSetHandle,
    Handle,
    LWWRegisterHandle,
    MapHandle,
    MVRegisterHandle,
    ORMapHandle,
    SetHandle,
    handle_class,
)
from sync._node_base import STREAM_BUFFER, NodeBase
from sync._streams import ChangeStream

if TYPE_CHECKING:
    from sync._node import Node

__all__ = ["NodeObjects"]

log = logging.getLogger("sync.node")

T = TypeVar("T")
_CRDT_METHODS = ("join", "merge", "leq", "diff", "decompose", "copy")
_DEFAULT_TIMEOUT = 5.0  # s, a consistency level's wait when no timeout is given
_FLUSH_CHUNK_BYTES = 1 << 20  # bytes of object states per flush message
_CRDT_KINDS: set[type[Any]] = set()  # types get() has found to be CRDTs
_HANDLE_CACHE = 1 << 16  # handles kept by get() (cleared whole when full)


class NodeObjects(NodeBase):
    """The objects part of :class:`~sync.Node` (see the module docstring)."""

    @overload
    def get(self, name: str, kind: type[AWLWWMap]) -> MapHandle: ...
    @overload
    def get(self, name: str, kind: type[ORSet]) -> SetHandle: ...
    @overload
    def get(self, name: str, kind: type[GSet]) -> GSetHandle: ...
    @overload
    def get(self, name: str, kind: type[PNCounter]) -> CounterHandle: ...
    @overload
    def get(self, name: str, kind: type[GCounter]) -> GCounterHandle: ...
    @overload
    def get(self, name: str, kind: type[LWWRegister]) -> LWWRegisterHandle: ...
    @overload
    def get(self, name: str, kind: type[MVRegister]) -> MVRegisterHandle: ...
    @overload
    def get(self, name: str, kind: type[ORMap]) -> ORMapHandle: ...
    @overload
    def get(self, name: str, kind: type[T]) -> Handle[T]: ...
    def get(self, name: str, kind: type[Any]) -> Handle[Any]:
        """A typed handle to object ``name`` (created by its first write). A name that holds,
        or was asked for as, another type raises :class:`TypeMismatchError`."""
        # Hot path (apps fetch a handle per write): a handle made before for this name and type
        # was validated then; only what can change since is checked again (open, held type).
        h = self._handles.get(name)
        if h is not None and h.type is kind and self._open:
            x = self._engine.get(name)  # type: ignore[union-attr]  # set while open
            if x is None or type(x) is kind:
                return h
        self._check_open()
        if not isinstance(name, str) or not name:
            raise UsageError(f"object names are non-empty str, got {name!r}")
        if not isinstance(kind, type) or kind not in _CRDT_KINDS:
            if not isinstance(kind, type) or not all(
                callable(getattr(kind, m, None)) for m in _CRDT_METHODS
            ):
                raise UsageError(
                    f"{kind!r} is not a CRDT type (join, merge, diff, decompose, copy)"
                )
            _CRDT_KINDS.add(kind)  # checked once per type (a new name's handle checks it)
        self._object(name, kind)  # raises on a mismatch
        self._types[name] = kind
        h = handle_class(kind)(cast("Node", self), name, kind)  # NodeObjects is a Node part
        handles = self._handles
        if len(handles) >= _HANDLE_CACHE:
            handles.clear()  # bounded; a dropped handle is simply made (and validated) again
        handles[name] = h
        return h

    def _object(self, name: str, kind: type[Any]) -> Any:
        """The live object under ``name`` (None if absent), checked to be a ``kind``."""
        x = self.engine.get(name)
        held = type(x) if x is not None else self._types.get(name)
        if held is not None and held is not kind:
            raise TypeMismatchError(f"{name!r} holds a {held.__name__}, not a {kind.__name__}")
        return x

    def keys(self, prefix: str = "") -> list[str]:
        """The names of the objects held here that start with ``prefix``, sorted."""
        return sorted(k for k in self.engine if k.startswith(prefix))

    def scan(self, prefix: str = "") -> Iterator[tuple[str, Any]]:
        """``(name, value)`` of the objects starting with ``prefix``, in name order."""
        engine = self.engine
        for k in self.keys(prefix):
            x = engine.get(k)
            if x is not None:
                yield k, x.value

    async def _write(
        self,
        name: str,
        kind: type[Any],
        fn: Callable[[Any], Any],
        consistency: Consistency | None,
        timeout: float | None,
        *,
        copy: bool,
    ) -> None:
        if not self._open:
            self._check_open()  # raises
        # the common case (no level, no timeout) needs no validation
        level = (
            None if consistency is None and timeout is None else _check_level(consistency, timeout)
        )
        engine = self._engine
        assert engine is not None  # set while open
        x = engine.get(name)
        if x is not None:
            if type(x) is not kind:
                raise TypeMismatchError(
                    f"{name!r} holds a {type(x).__name__}, not a {kind.__name__}"
                )
        else:
            self._object(name, kind)  # raises if the name was asked for as another type
        try:
            if copy:
                base = kind() if x is None else x.copy()
                delta = fn(base)
                if type(delta) is not kind:
                    raise UsageError(
                        f"the mutator must return the {kind.__name__} delta it made, got "
                        f"{type(delta).__name__}"
                    )
                engine.apply(name, delta)
            else:
                delta = engine.update(name, fn, create=kind)
        except UsageError:
            raise
        except (crdts.CrdtError, ValueError, TypeError) as exc:
            raise UsageError(f"write to {name!r} rejected, nothing changed: {exc}") from exc
        self._types[name] = kind
        self._written.add(name)
        gc = self._committer
        assert gc is not None  # set while open
        await gc.wait_durable()  # the batch holding this change is committed (or raises)
        if level is not None and not isinstance(level, WriteLocal):
            assert self._replication is not None
            await self._replication.replicate(
                [(name, crdts.encode(delta))],
                level,
                _DEFAULT_TIMEOUT if timeout is None else timeout,
            )

    async def flush(
        self, consistency: Consistency | None = None, timeout: float | None = None
    ) -> None:
        """Wait until everything written so far is durable locally (and, with a level, held
        by that many replicas)."""
        self._check_open()
        level = _check_level(consistency, timeout)
        await self._durable()
        if isinstance(level, WriteLocal):
            return
        assert self._replication is not None
        # Every name written here since the last successful flush(WriteAll()): a weaker level
        # does not clear them (what one replica confirmed says nothing about the others).
        keys = sorted(self._written)
        if isinstance(level, WriteAll):
            self._written = set()
        engine = self.engine
        deadline = anyio.current_time() + (_DEFAULT_TIMEOUT if timeout is None else timeout)
        chunk: list[tuple[str, bytes]] = []
        size = 0
        try:
            for i, key in enumerate(keys):
                x = engine.get(key)
                if x is not None:
                    enc = crdts.encode(x)
                    chunk.append((key, enc))
                    size += len(key) + len(enc)
                if chunk and (size >= _FLUSH_CHUNK_BYTES or i == len(keys) - 1):
                    left = max(0.0, deadline - anyio.current_time())
                    await self._replication.replicate(chunk, level, left)
                    chunk, size = [], 0
        except BaseException:
            self._written.update(keys)  # not confirmed by all: the next flush sends them again
            raise

    async def _serve_write(self, ev: WriteRequested) -> None:
        """A peer's consistency write: join it, commit it, and only then acknowledge."""
        try:
            await self._serve_write_unguarded(ev)
        except Exception:  # a helper task must never take the node down
            log.exception("node %s: serving a write from %s failed", self.name, ev.src)

    async def _serve_write_unguarded(self, ev: WriteRequested) -> None:
        engine = self.engine
        ok = True
        for key, data in ev.objects:
            try:
                d = crdts.decode(data)
                x = engine.get(key)
                if x is not None and type(x) is not type(d):
                    raise TypeMismatchError(f"{key!r}: {type(d).__name__} for {type(x).__name__}")
                engine.apply(key, d)
            except Exception as exc:  # peer input: counted, not acknowledged
                engine.metrics.count_error(ev.src, exc)
                ok = False
        if not ok:
            return
        try:
            await self._durable()
        except StorageError:
            return  # not durable: no ack (the writer resends)
        if self._open:
            await self.host.call(
                self._direct_core, lambda _now: self._direct_core.ack(ev.src, ev.req)
            )

    def _changes(self, *, key: str | None = None, prefix: str | None = None) -> ChangeStream:
        def count_drop() -> None:
            self._counters["changes_dropped"] += 1

        return ChangeStream(
            lambda deliver: self.engine.subscribe(deliver, key=key, prefix=prefix),
            buffer=STREAM_BUFFER,
            on_drop=count_drop,
        )

    def changes(self, prefix: str = "") -> ChangeStream:
        """Every change of every object whose name starts with ``prefix``, from this call on
        (the subscription starts now, not at the first ``__anext__``); close it with
        ``aclose()`` or ``async with``."""
        self._check_open()
        return self._changes(prefix=prefix)


def _check_level(consistency: Consistency | None, timeout: float | None) -> Consistency:
    """Validate a write's consistency arguments before anything changes."""
    level = WriteLocal() if consistency is None else consistency
    if not isinstance(level, WriteLocal | WriteTo | WriteMajority | WriteAll):
        raise UsageError(
            f"consistency must be WriteLocal/WriteTo/WriteMajority/WriteAll: {level!r}"
        )
    if timeout is not None and not timeout >= 0:
        raise UsageError(f"timeout must be >= 0 seconds, got {timeout!r}")
    return level
