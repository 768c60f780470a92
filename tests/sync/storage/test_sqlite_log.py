"""The SQLite store's log (format 3): commits append, a commit past ``log_rows`` folds the log into
``objects``; reads merge both; open and close fold; a format-2 dir is upgraded without a recode."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from sync import CorruptRecordError, DataDirFormatError
from sync.storage import (
    FORMAT_VERSION,
    META_FORMAT,
    SQLiteStore,
    open_data_dir,
    stored_format,
    upgrade_format,
)
from sync.storage._sqlite import DB_FILE

KEYS = ["a", "ab", "abc", "b", "ba", "bb", "c", "é", "\U0010ffff", "a\U0010ffff"]


def _rows(path: Path, table: str) -> int:
    conn = sqlite3.connect(path / DB_FILE)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def _log_on(store: SQLiteStore) -> bool:
    return store._log_on  # a call: mypy does not narrow it across commits


def _check(store: SQLiteStore, model: dict[str, bytes], rng: random.Random) -> None:
    """Every read of ``store`` agrees with ``model`` (the last committed bytes per key)."""
    assert store.count() == len(model)
    assert list(store.scan()) == sorted(model.items())
    for _ in range(4):
        prefix = rng.choice(["", "a", "b", "ab", "é", "\U0010ffff", "z"])
        after = rng.choice([None, *KEYS])
        limit = rng.choice([None, 1, 2, 5])
        want = sorted(
            (k, v)
            for k, v in model.items()
            if k.startswith(prefix) and (after is None or k > after)
        )
        got = list(store.scan(prefix, after=after, limit=limit))
        assert got == (want if limit is None else want[:limit]), (prefix, after, limit)
    for k in [*KEYS, "zz"]:
        assert store.get(k) == model.get(k)


@pytest.mark.parametrize("log_rows", [0, 1, 3, 7, 1000])
def test_reads_merge_the_log_and_objects_whatever_the_fold_point(
    tmp_path: Path, log_rows: int
) -> None:
    rng = random.Random(log_rows)
    store = SQLiteStore(tmp_path / "d", batch=2, log_rows=log_rows, log_pages=1 << 20)
    ro = SQLiteStore(tmp_path / "d", readonly=True)  # a reader beside the writer merges too
    model: dict[str, bytes] = {}
    try:
        for i in range(40):
            batch = {k: f"{k}:{i}".encode() for k in rng.sample(KEYS, rng.randint(1, 4))}
            store.commit(batch, {})
            model.update(batch)
            logged = _rows(tmp_path / "d", "log")
            assert logged == store._logged < max(log_rows, 1)  # folded once it reached log_rows
            _check(store, model, rng)
            _check(ro, model, rng)
    finally:
        ro.close()
        store.close()
    assert _rows(tmp_path / "d", "log") == 0  # close folds: a clean dir's log is empty
    store = SQLiteStore(tmp_path / "d", batch=2)
    try:
        _check(store, model, rng)
    finally:
        store.close()


def test_a_crash_leaves_the_log_and_the_next_open_folds_it(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "d", log_rows=100)
    store.commit({"a": b"1", "b": b"1"}, {})
    store.commit({"a": b"2"}, {})
    assert _rows(tmp_path / "d", "log") == 3 and _rows(tmp_path / "d", "objects") == 0
    assert store._lock is not None and store._conn is not None
    store._lock.release()  # what a kill -9 leaves: no close, no fold
    store._conn.close()
    store._conn = None
    store = SQLiteStore(tmp_path / "d", log_rows=100)
    try:
        assert not store.was_clean
        assert _rows(tmp_path / "d", "log") == 0 and _rows(tmp_path / "d", "objects") == 2
        assert list(store.scan()) == [("a", b"2"), ("b", b"1")]
    finally:
        store.close()


def test_a_corrupt_log_row_is_reported_and_a_later_commit_heals_it(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "d", log_rows=100)
    try:
        store.commit({"a": b"1", "b": b"1", "c": b"1"}, {})
        assert store._conn is not None
        store._conn.execute("UPDATE log SET crc = 0 WHERE key = 'b'")  # bit rot in the log
        assert list(store.scan()) == [("a", b"1"), ("c", b"1")]
        assert [e.key for e in store.corrupt] == ["b"]
        with pytest.raises(CorruptRecordError, match="'b'"):
            store.get("b")
        store.commit({"b": b"2"}, {})  # the latest row of "b" is good again
        assert store.get("b") == b"2" and store.count() == 3
    finally:
        store.close()


def test_a_format_2_dir_is_upgraded_without_recoding(tmp_path: Path) -> None:
    """A dir as the previous version wrote it (format 2, no log table): read as it is, commits
    go to objects until the version is 3, then to the log; an older version refuses it after."""
    path = tmp_path / "d"
    store, _ = open_data_dir(path, "n")
    store.close()
    conn = sqlite3.connect(path / DB_FILE)
    conn.execute("DROP TABLE log")
    conn.execute("UPDATE meta SET value = ? WHERE key = ?", (b"2", META_FORMAT))
    conn.execute("INSERT INTO objects VALUES ('k', x'01', 0)")  # bad checksum: never touched
    conn.commit()
    conn.close()
    store, _ = open_data_dir(path, "n")
    try:
        assert stored_format(store) == 2
        store.commit({"a": b"1"}, {})
        assert _rows(path, "objects") == 2 and _rows(path, "log") == 0  # in place, as before

        def recode(data: bytes) -> bytes:
            raise AssertionError("format 2 rows are not recoded")

        assert upgrade_format(store, recode) == []
        assert stored_format(store) == FORMAT_VERSION == 3
        store.commit({"a": b"2"}, {})
        assert _rows(path, "log") == 1 and store.get("a") == b"2"
    finally:
        store.close()
    conn = sqlite3.connect(path / DB_FILE)
    conn.execute("UPDATE meta SET value = ? WHERE key = ?", (b"4", META_FORMAT))
    conn.commit()
    conn.close()
    with pytest.raises(DataDirFormatError, match="format 4"):
        SQLiteStore(path)  # what an older version does with a newer format, seen from here


def test_a_database_past_log_pages_commits_in_place(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "d", log_rows=8, log_pages=20)
    try:
        store.commit({"a": b"1"}, {})
        assert _log_on(store) and _rows(tmp_path / "d", "log") == 1
        big = {f"k{i:04}": bytes(300) for i in range(200)}  # ~15 pages of objects, once folded
        store.commit(big, {})  # past log_rows: folded, and the database is now past log_pages
        assert not _log_on(store) and _rows(tmp_path / "d", "log") == 0
        store.commit({"a": b"2"}, {})
        assert _rows(tmp_path / "d", "log") == 0 and store.get("a") == b"2"
        assert store.count() == 201
    finally:
        store.close()
    store = SQLiteStore(tmp_path / "d", log_rows=8, log_pages=20)
    try:
        assert not _log_on(store)  # decided again at open
    finally:
        store.close()


def test_the_log_turned_off_holding_rows_is_folded_before_rows_go_in_place(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "d", log_rows=100)
    try:
        store.commit({"a": b"1", "b": b"1"}, {})
        store.commit({}, {META_FORMAT: b"2"})  # (as a downgrade would) the log is off now
        assert not _log_on(store) and store._logged == 2
        assert store.get("a") == b"1"  # still read through the log
        store.commit({"a": b"2"}, {})  # in place, after the log's rows
        assert store.get("a") == b"2" and store.get("b") == b"1"
        assert _rows(tmp_path / "d", "log") == 0
        assert list(store.scan()) == [("a", b"2"), ("b", b"1")]
    finally:
        store.close()


def test_log_rows_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="log_rows"):
        SQLiteStore(tmp_path / "d", log_rows=-1)
