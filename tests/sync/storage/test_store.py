"""The Store contract, run against every implementation (MemoryStore and SQLiteStore)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync import StorageError, UsageError
from sync.storage import MemoryStore, SQLiteStore, Store
from sync.storage._sqlite import prefix_end


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "d", batch=3)
    yield s
    s.close()


KEYS = ["a", "ab", "abc", "b", "ba", "c", "é", "\U0010ffff", "a\U0010ffff", "ab\U0010ffffz"]


def fill(s: Store) -> None:
    s.commit({k: k.encode() * 2 for k in KEYS}, {"m": b"1"})


def test_is_a_store(store: Store) -> None:
    assert isinstance(store, Store)


def test_commit_get_count_meta(store: Store) -> None:
    fill(store)
    assert store.count() == len(KEYS)
    assert store.get("ab") == b"abab"
    assert store.get("zz") is None
    assert store.load_meta()["m"] == b"1"
    store.commit({"ab": b"new"}, {"m": b"2", "n": b""})
    assert store.get("ab") == b"new"
    assert store.count() == len(KEYS)
    meta = store.load_meta()
    assert meta["m"] == b"2" and meta["n"] == b""


def test_scan_orders_and_filters(store: Store) -> None:
    fill(store)
    everything = list(store.scan())
    assert [k for k, _ in everything] == sorted(KEYS)
    assert all(v == k.encode() * 2 for k, v in everything)
    for prefix in ["a", "ab", "b", "", "é", "\U0010ffff", "a\U0010ffff", "zz"]:
        assert [k for k, _ in store.scan(prefix)] == sorted(k for k in KEYS if k.startswith(prefix))
    assert [k for k, _ in store.scan(after="ab")] == sorted(k for k in KEYS if k > "ab")
    assert [k for k, _ in store.scan("a", after="ab")] == sorted(
        k for k in KEYS if k.startswith("a") and k > "ab"
    )
    assert [k for k, _ in store.scan("b", after="a")] == ["b", "ba"]
    assert [k for k, _ in store.scan(limit=4)] == sorted(KEYS)[:4]
    assert [k for k, _ in store.scan("a", limit=2)] == ["a", "ab"]
    assert list(store.scan(limit=0)) == []


def test_paging_with_after_and_limit_visits_everything_once(store: Store) -> None:
    fill(store)
    seen: list[str] = []
    last: str | None = None
    while True:
        page = [k for k, _ in store.scan(after=last, limit=3)]
        if not page:
            break
        seen += page
        last = page[-1]
    assert seen == sorted(KEYS)


def test_bad_batches_write_nothing(store: Store) -> None:
    fill(store)
    with pytest.raises(UsageError):
        store.commit({"x": b"1", 5: b"2"}, {})  # type: ignore[dict-item]
    with pytest.raises(UsageError):
        store.commit({"x": "text"}, {})  # type: ignore[dict-item]
    with pytest.raises(UsageError):
        store.commit({"x": b"1", "\ud800": b"2"}, {})
    with pytest.raises(UsageError):
        store.commit({"x": b"1"}, {"m": 3})  # type: ignore[dict-item]
    assert store.get("x") is None
    assert store.count() == len(KEYS)


def test_closed_store_raises_storage_error(store: Store) -> None:
    store.close()
    store.close()  # idempotent
    with pytest.raises(StorageError):
        store.commit({"a": b""}, {})
    with pytest.raises(StorageError):
        store.get("a")


@given(st.text(max_size=4))
def test_prefix_end_bounds_exactly_the_prefixed_strings(prefix: str) -> None:
    end = prefix_end(prefix)
    for s in [prefix, prefix + "\U0010ffff", prefix + "\x00", prefix + "a"]:
        assert end is None or s < end
    if end is not None:
        assert not end.startswith(prefix)
        assert end > prefix


def test_importing_storage_does_not_import_anyio() -> None:
    import subprocess
    import sys

    code = (
        "import sys\nimport sync.storage\n"
        "assert 'anyio' not in sys.modules\n"
        "sync.storage.GroupCommitter\n"
        "assert 'anyio' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
