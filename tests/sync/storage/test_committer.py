"""GroupCommitter: batching, waking waiters, failures and recovery (asyncio and trio)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

import anyio
import pytest

from sync import StorageError, UsageError
from sync.storage import GroupCommitter, MemoryStore, SQLiteStore

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class FlakyStore(MemoryStore):
    """A MemoryStore whose commits fail while ``broken`` (as a full or read-only disk does) and
    that can hold a commit in the worker thread until released."""

    def __init__(self) -> None:
        super().__init__()
        self.broken = False
        self.batches: list[set[str]] = []

    def commit(self, objects: Mapping[str, bytes], meta: Mapping[str, bytes]) -> None:
        if self.broken:
            raise StorageError("disk full (simulated)")
        self.batches.append(set(objects))
        super().commit(objects, meta)


async def test_a_write_is_durable_when_wait_durable_returns() -> None:
    states = {"a": b"1"}
    store = MemoryStore()
    async with GroupCommitter(store, states.get, lambda: {"hlc": b"h1"}) as gc:
        gc.mark("a")
        await gc.wait_durable()
        assert store.get("a") == b"1" and store.load_meta()["hlc"] == b"h1"
        states["a"] = b"2"
        gc.mark("a")
        await gc.wait_durable()
        assert store.get("a") == b"2"
        await gc.wait_durable()  # nothing pending: returns at once
    assert gc.commits == 2


async def test_many_concurrent_writers_share_few_transactions() -> None:
    states: dict[str, bytes] = {}
    store = FlakyStore()
    n = 500
    async with GroupCommitter(store, states.get) as gc:

        async def writer(i: int) -> None:
            for j in range(4):
                states[f"k{i}"] = f"{i}.{j}".encode()
                gc.mark(f"k{i}")
                await gc.wait_durable()
                assert store.get(f"k{i}") == f"{i}.{j}".encode()

        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(writer, i)
    writes = 4 * n
    assert store.commits <= writes // 50, store.commits  # batching actually batches
    assert gc.max_batch >= 100
    assert all(store.get(f"k{i}") == f"{i}.3".encode() for i in range(n))


async def test_encode_at_commit_time_and_none_skips() -> None:
    states: dict[str, bytes | None] = {"a": b"1", "gone": None}
    store = MemoryStore()
    async with GroupCommitter(store, states.get) as gc:
        gc.mark("a")
        gc.mark("gone")
        states["a"] = b"later"  # the state at commit time is what gets written
        await gc.wait_durable()
    assert store.get("a") == b"later" and store.get("gone") is None


async def test_failed_commit_reaches_every_waiter_and_recovers() -> None:
    states = {f"k{i}": b"v" for i in range(10)}
    store = FlakyStore()
    store.broken = True
    async with GroupCommitter(store, states.get, retry_min=0.01, retry_max=0.02) as gc:
        errors: list[BaseException] = []

        async def writer(key: str) -> None:
            gc.mark(key)
            try:
                await gc.wait_durable()
            except StorageError as exc:
                errors.append(exc)

        async with anyio.create_task_group() as tg:
            for k in states:
                tg.start_soon(writer, k)
        assert len(errors) == 10 and all("disk full" in str(e) for e in errors)
        assert store.count() == 0 and gc.failures >= 1  # nothing acknowledged, nothing written
        store.broken = False  # the disk recovers: the failed keys are retried on their own
        with anyio.fail_after(5):
            while store.count() < 10:
                await anyio.sleep(0.01)
        gc.mark("k0")
        await gc.wait_durable()  # and new writes are acknowledged again
    assert store.count() == 10


async def test_close_commits_what_is_left_and_refuses_marks() -> None:
    states = {"a": b"1"}
    store = MemoryStore()
    gc = GroupCommitter(store, states.get)
    async with anyio.create_task_group() as tg:
        await tg.start(gc.run)
        gc.mark("a")
        await gc.aclose()
    assert store.get("a") == b"1"
    with pytest.raises(UsageError):
        gc.mark("a")


async def test_close_with_a_dead_disk_raises() -> None:
    store = FlakyStore()
    store.broken = True
    gc = GroupCommitter(store, {"a": b"1"}.get, retry_min=0.01, retry_max=0.01)
    async with anyio.create_task_group() as tg:
        await tg.start(gc.run)
        gc.mark("a")
        with pytest.raises(StorageError, match="not committed"):
            await gc.aclose()


async def test_wait_without_a_running_loop_is_a_usage_error() -> None:
    gc = GroupCommitter(MemoryStore(), {"a": b"1"}.get)
    gc.mark("a")
    with pytest.raises(UsageError, match="not running"):
        await gc.wait_durable()


async def test_read_only_sqlite_gives_typed_errors_and_no_ack(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "d")
    states = {"a": b"1"}
    async with GroupCommitter(store, states.get, retry_min=0.01, retry_max=0.02) as gc:
        gc.mark("a")
        await gc.wait_durable()
        assert store._conn is not None
        store._conn.execute("PRAGMA query_only=1")  # the database refuses writes: SQLITE_READONLY
        states["a"] = b"2"
        gc.mark("a")
        with pytest.raises(StorageError, match="readonly"):
            await gc.wait_durable()
        assert store.get("a") == b"1"
        store._conn.execute("PRAGMA query_only=0")  # writable again: the retry commits it
        with anyio.fail_after(5):
            while store.get("a") != b"2":
                await anyio.sleep(0.01)
    store.close()


async def test_a_key_that_cannot_be_stored_does_not_sink_later_batches() -> None:
    states = {"ok": b"1", "\ud800": b"x"}

    def encode(key: str) -> bytes | None:
        if key == "boom":
            raise RuntimeError("encoder bug")
        return states.get(key)

    store = MemoryStore()
    async with GroupCommitter(store, encode) as gc:
        for bad in ("\ud800", "boom"):
            gc.mark("ok")
            gc.mark(bad)
            with pytest.raises(StorageError, match="not stored"):
                await gc.wait_durable()  # no false acknowledgement
        assert store.get("ok") == b"1" and gc.encode_errors == 2
        states["ok"] = b"2"
        gc.mark("ok")
        await gc.wait_durable()  # the bad keys were dropped, not retried forever
    assert store.get("ok") == b"2"


class GatedStore(MemoryStore):
    """A MemoryStore whose commits wait (in the worker thread) until the test opens the gate,
    and fail while ``fail`` holds; ``started`` is set when a commit is in the thread."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.started = threading.Event()
        self.fail = False
        self.batches: list[set[str]] = []

    def commit(self, objects: Mapping[str, bytes], meta: Mapping[str, bytes]) -> None:
        self.started.set()
        assert self.gate.wait(10)
        self.gate.clear()
        self.batches.append(set(objects))
        if self.fail:
            self.fail = False
            raise StorageError("I/O error (simulated)")
        super().commit(objects, meta)


async def _until(flag: threading.Event) -> None:
    with anyio.fail_after(5):
        while not flag.is_set():
            await anyio.sleep(0.001)


async def test_a_failing_commit_fails_exactly_the_writes_of_its_batch() -> None:
    states = {"a": b"1", "b": b"1", "c": b"1"}
    store = GatedStore()
    outcome: dict[str, str] = {}
    async with GroupCommitter(store, states.get, retry_min=0.01, retry_max=0.01) as gc:

        async def writer(key: str) -> None:
            gc.mark(key)
            try:
                await gc.wait_durable()
            except StorageError as exc:
                outcome[key] = f"error: {exc}"
            else:
                outcome[key] = "ok"

        async with anyio.create_task_group() as tg:
            store.fail = True  # the first transaction fails
            tg.start_soon(writer, "a")
            await _until(store.started)  # "a" is in flight ...
            store.started.clear()
            tg.start_soon(writer, "b")  # ... so "b" and "c" wait for the next batch
            tg.start_soon(writer, "c")
            await anyio.sleep(0.01)
            assert outcome == {}
            store.gate.set()  # the first commit fails: only its writer hears of it
            with anyio.fail_after(5):
                while "a" not in outcome:
                    await anyio.sleep(0.001)
            assert outcome == {"a": "error: I/O error (simulated)"}
            await _until(store.started)
            store.gate.set()  # the retry (a, b, c together) succeeds
    assert outcome == {"a": "error: I/O error (simulated)", "b": "ok", "c": "ok"}
    assert store.batches == [{"a"}, {"a", "b", "c"}]  # the failed key was retried with them
    assert gc.failures == 1 and store.count() == 3


async def test_a_cancelled_waiter_leaves_the_others_of_its_batch_waiting() -> None:
    states = {"a": b"1", "b": b"1"}
    store = GatedStore()
    async with GroupCommitter(store, states.get) as gc:
        acked: list[str] = []
        gc.mark("a")
        gc.mark("b")

        async def waiter(key: str) -> None:
            await gc.wait_durable()
            acked.append(key)

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter, "b")
            with anyio.move_on_after(0.05) as scope:  # cancelled while its batch is in flight
                await waiter("a")
            assert scope.cancelled_caught and acked == []
            store.gate.set()
        assert acked == ["b"]  # the same batch's other waiter was woken, once
        gc.mark("a")
        store.gate.set()
        await gc.wait_durable()  # and the committer goes on
    assert store.count() == 2 and len(store.batches) == 2
