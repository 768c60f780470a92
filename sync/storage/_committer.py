"""``GroupCommitter``: many writes per transaction, each writer awaiting its batch's commit.

Theory of operation
-------------------
The Node calls :meth:`GroupCommitter.mark` whenever an object changed (a local write or a
received delta) and, after a local write, ``await`` :meth:`GroupCommitter.wait_durable`. Marked
keys collect in the *open batch*. One loop (:meth:`run`) takes the open batch as a whole whenever
it is non-empty and no commit is running: it encodes the **current** state of every marked key
(``encode_state(key)``, on the event loop, where the objects live; in slices, yielding between
them so the loop stays responsive), reads the meta entries (``meta()``, e.g. the HLC), and runs
one :meth:`Store.commit` in a worker thread. While that commit (and its fsync) runs, new marks
collect in the next batch, so the batch size adapts to the load by itself: one write alone is
committed at once, a thousand concurrent writers share a handful of fsyncs. No timer, no linger.

A state encoded at commit time holds every change made before it, so a writer whose key was
marked before the batch was taken is covered by that batch; a change made while its key's batch
is in flight marks it again, into the next batch. When a commit succeeds, every waiter of that
batch wakes. When it fails (disk full, read-only file system, I/O error), every waiter of that
batch gets a :class:`~sync.StorageError` (nothing is acknowledged that was not committed), the
batch's keys go back into the open batch, and the loop retries with capped exponential backoff
(``retry_min`` .. ``retry_max`` seconds) until the disk recovers; waiters of later batches get
the outcome of their own batch.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Self

import anyio
import anyio.abc
import sniffio
from anyio import TASK_STATUS_IGNORED

from sync._errors import StorageError, UsageError
from sync.storage._interface import Store

__all__ = ["GroupCommitter"]

_ENCODE_SLICE = 256  # keys encoded between two yields to the event loop


class _Batch:
    """One transaction's outcome, awaited by every writer whose change it holds.

    This is on every write's path, so on asyncio each waiter parks on a bare future (what
    ``asyncio.Event.wait`` does, without the two wrapper layers of ``anyio.Event``); a cancelled
    waiter cancels only its own future. Other backends (trio) wait on an ``anyio.Event``."""

    __slots__ = ("done", "error", "event", "futures", "gen", "loop")

    def __init__(self, gen: int, loop: asyncio.AbstractEventLoop | None) -> None:
        self.gen = gen
        self.done = False
        self.error: StorageError | None = None
        self.loop = loop
        self.futures: list[asyncio.Future[None]] = []
        self.event: anyio.Event | None = None if loop is not None else anyio.Event()

    def set(self) -> None:
        """The outcome (``error``) is known: wake every waiter."""
        self.done = True
        if self.event is not None:
            self.event.set()
        futures, self.futures = self.futures, []
        for fut in futures:
            if not fut.done():  # a cancelled waiter's future is done already
                fut.set_result(None)


class GroupCommitter:
    """Group commit over ``store`` (see the module docstring).

    ``encode_state(key) -> bytes | None``: the bytes to store for ``key`` now (``None``: skip
    it). ``meta() -> {key: bytes}``: meta entries committed with every batch (e.g. the HLC).
    Run it with ``async with GroupCommitter(...) as gc:`` or ``await tg.start(gc.run)`` in your
    own task group (then :meth:`aclose` commits what is left and stops it).
    """

    def __init__(
        self,
        store: Store,
        encode_state: Callable[[str], bytes | None],
        meta: Callable[[], Mapping[str, bytes]] | None = None,
        *,
        retry_min: float = 0.05,  # seconds: first retry after a failed commit
        retry_max: float = 2.0,  # seconds: cap of the doubling backoff
    ) -> None:
        if not (0 < retry_min <= retry_max) or not math.isfinite(retry_max):
            raise UsageError("need 0 < retry_min <= retry_max < inf")
        self.store = store
        self._encode_state = encode_state
        self._meta = meta
        self.retry_min = retry_min
        self.retry_max = retry_max
        self._dirty: dict[str, None] = {}  # the open batch's keys (an ordered set)
        self._gen = 0
        self._open: _Batch | None = None
        self._inflight: _Batch | None = None
        self._wake: anyio.Event | None = None
        self._idle = False  # run() waits on _wake for a mark
        self._closing = False
        self._closed = False
        self._running = False
        self._stopped: anyio.Event | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # set by run() on asyncio
        # metrics
        self.commits = 0  # successful transactions
        self.keys_committed = 0  # object rows written, summed over commits
        self.failures = 0  # failed transactions
        self.last_error: StorageError | None = None
        self.max_batch = 0  # the most keys one transaction carried
        self.encode_errors = 0  # keys dropped because encode_state raised (a bug upstream)

    # -- the Node's side -------------------------------------------------------------------------

    def mark(self, key: str) -> None:
        """Object ``key`` changed: commit its current state with the next batch."""
        if self._closed:
            raise UsageError("the group committer is closed")
        self._dirty[key] = None
        if self._open is None:
            self._gen += 1
            self._open = _Batch(self._gen, self._loop)
        if self._idle:  # wake the loop once, not on every mark (this runs per changed object)
            self._idle = False
            assert self._wake is not None
            self._wake.set()

    @property
    def pending(self) -> int:
        """Keys marked and not yet taken into a commit."""
        return len(self._dirty)

    async def wait_durable(self) -> None:
        """Return once everything marked before this call is committed; raise
        :class:`~sync.StorageError` if the batch holding it failed."""
        batch = self._open or self._inflight
        if batch is None:
            return  # nothing marked that is not durable yet
        if not batch.done:
            if not self._running:
                raise UsageError("the group committer is not running (use async with, or run())")
            loop = batch.loop
            if loop is not None:
                fut: asyncio.Future[None] = loop.create_future()
                batch.futures.append(fut)
                await fut
            else:
                assert batch.event is not None
                await batch.event.wait()
        if batch.error is not None:
            raise batch.error

    # -- running ---------------------------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = TASK_STATUS_IGNORED) -> None:
        """The commit loop; returns after :meth:`aclose` once everything marked is committed
        (or the final commit failed twice)."""
        if self._running:
            raise UsageError("the group committer is already running")
        self._running = True
        asyncio_ = sniffio.current_async_library() == "asyncio"
        self._loop = asyncio.get_running_loop() if asyncio_ else None
        self._wake = anyio.Event()
        self._stopped = anyio.Event()
        task_status.started()
        backoff = 0.0
        close_failures = 0
        try:
            while True:
                if not self._dirty:
                    if self._closing:
                        return
                    self._idle = True  # the next mark sets _wake
                    await self._wake.wait()
                    self._idle = False
                    self._wake = anyio.Event()
                    continue
                if backoff and not self._closing:
                    await self._sleep(backoff)
                if await self._commit_one():
                    backoff = 0.0
                    continue
                backoff = min(self.retry_max, max(self.retry_min, backoff * 2))
                if self._closing:
                    close_failures += 1
                    if close_failures >= 2:
                        return
        finally:
            self._running = False
            self._idle = False
            self._fail_pending(
                StorageError(f"the group committer stopped before committing: {self.last_error}")
            )
            self._stopped.set()

    async def _sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds (marks do not cut it short; a close does)."""
        assert self._wake is not None
        deadline = anyio.current_time() + delay
        while not self._closing:
            left = deadline - anyio.current_time()
            if left <= 0:
                return
            with anyio.move_on_after(left):
                await self._wake.wait()
            self._wake = anyio.Event()

    async def _commit_one(self) -> bool:
        keys = list(self._dirty)
        batch = self._open
        assert batch is not None
        self._dirty = {}
        self._open = None
        self._inflight = batch
        bad: list[str] = []
        try:
            objects: dict[str, bytes] = {}
            encode = self._encode_state
            for i in range(0, len(keys), _ENCODE_SLICE):
                if i:
                    await anyio.sleep(0)  # keep the event loop responsive on huge batches
                for key in keys[i : i + _ENCODE_SLICE]:
                    try:
                        key.encode()  # a key the store cannot hold must not sink the batch
                        data = encode(key)
                    except Exception as exc:  # a bug upstream: dropped, counted, and no ack
                        bad.append(key)
                        self.encode_errors += 1
                        self.last_error = StorageError(f"cannot store {key!r}: {exc!r}")
                        continue
                    if data is not None:
                        objects[key] = data
            meta = dict(self._meta()) if self._meta is not None else {}
            with anyio.CancelScope(shield=True):  # a started transaction always finishes
                await anyio.to_thread.run_sync(self.store.commit, objects, meta)
        except Exception as exc:
            err = (
                exc
                if isinstance(exc, StorageError)
                else StorageError(f"group commit failed: {exc!r}")
            )
            if err is not exc:
                err.__cause__ = exc
            self.failures += 1
            self.last_error = err
            batch.error = err
            # put the keys back in front, so the next attempt covers them again
            self._dirty = dict.fromkeys(keys) | self._dirty
            if self._open is None:
                self._gen += 1
                self._open = _Batch(self._gen, self._loop)
            self._inflight = None
            batch.set()
            return False
        self.commits += 1
        self.keys_committed += len(objects)
        self.max_batch = max(self.max_batch, len(objects))
        self._inflight = None
        if bad:  # which waiter wrote which key is unknown: none of this batch is acknowledged
            batch.error = StorageError(
                f"{len(bad)} objects could not be encoded and were not stored"
                f" (first: {bad[0]!r}): {self.last_error}"
            )
        batch.set()
        return True

    def _fail_pending(self, err: StorageError) -> None:
        for batch in (self._inflight, self._open):
            if batch is not None and not batch.done:
                batch.error = err
                batch.set()
        self._open = None

    async def aclose(self) -> None:
        """Commit everything marked, then stop :meth:`run`. Raises :class:`~sync.StorageError`
        if changes are left uncommitted (the final commit failed twice)."""
        if self._closed:
            return
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        if self._running:
            assert self._stopped is not None
            await self._stopped.wait()
        self._closed = True
        if self._dirty:
            raise StorageError(
                f"{len(self._dirty)} changed objects were not committed: {self.last_error}"
            )

    async def __aenter__(self) -> Self:
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        try:
            await self._tg.start(self.run)
        except BaseException:
            await self._tg.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        tg, self._tg = self._tg, None
        assert tg is not None
        try:
            if exc is None:
                await self.aclose()
            else:
                tg.cancel_scope.cancel()
        finally:
            await tg.__aexit__(exc_type, exc, tb)
        return None
