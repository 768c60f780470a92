"""Opening a data dir: replica ids, the lock, format versions, corrupt rows."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import crdts
from sync import CorruptRecordError, DataDirFormatError, DataDirLockedError, StorageError
from sync.storage import (
    FORMAT_VERSION,
    META_FORMAT,
    META_HLC,
    MIN_FORMAT_VERSION,
    MemoryStore,
    SQLiteStore,
    load_encoded,
    load_objects,
    open_data_dir,
    renew_replica_id,
    stored_format,
    upgrade_format,
)
from sync.storage._sqlite import DB_FILE


def test_replica_id_is_minted_once_and_kept(tmp_path: Path) -> None:
    store, info = open_data_dir(tmp_path / "a", "a")
    assert info.created and info.hlc is None and not info.clean
    assert info.replica_id.startswith("a-") and len(info.replica_id) == 2 + 16
    store.commit({"k": b"v"}, {META_HLC: b"clock"})
    store.close()
    store, again = open_data_dir(tmp_path / "a", "a")
    assert again.replica_id == info.replica_id
    assert not again.created and again.hlc == b"clock" and again.clean
    store.close()


def test_wiped_or_lost_dir_gets_a_fresh_replica_id(tmp_path: Path) -> None:
    ids = set()
    for _ in range(3):
        store, info = open_data_dir(tmp_path / "a", "a")
        assert info.created
        ids.add(info.replica_id)
        store.close()
        shutil.rmtree(tmp_path / "a")  # wiped
    store, info = open_data_dir(tmp_path / "a", "a")
    store.close()
    (tmp_path / "a" / DB_FILE).unlink()  # the database lost, the dir kept
    store, lost = open_data_dir(tmp_path / "a", "a")
    store.close()
    ids |= {info.replica_id, lost.replica_id}
    assert len(ids) == 5 and lost.created


def test_memory_data_dir_mints_per_open() -> None:
    a, ia = open_data_dir(None, "n")
    _, ib = open_data_dir(None, "n")
    assert isinstance(a, MemoryStore) and ia.created and ia.replica_id != ib.replica_id


def test_renew_replica_id_persists(tmp_path: Path) -> None:
    store, info = open_data_dir(tmp_path / "a", "a")
    new = renew_replica_id(store, "a")
    store.close()
    store, again = open_data_dir(tmp_path / "a", "a")
    store.close()
    assert new != info.replica_id and again.replica_id == new


def test_crash_leaves_the_dir_marked_unclean(tmp_path: Path) -> None:
    code = (
        "import os, sys\n"
        "from sync.storage import open_data_dir\n"
        "s, i = open_data_dir(sys.argv[1], 'a')\n"
        "s.commit({'k': b'v'}, {})\n"
        "os._exit(0)\n"  # no close: as a crash
    )
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "a")], check=True)
    store, info = open_data_dir(tmp_path / "a", "a")
    assert not info.clean and not info.created and store.get("k") == b"v"
    store.close()


def test_second_opener_is_refused(tmp_path: Path) -> None:
    store, _ = open_data_dir(tmp_path / "a", "a")
    with pytest.raises(DataDirLockedError, match="already in use"):
        open_data_dir(tmp_path / "a", "a")
    code = (
        "import sys\n"
        "from sync import DataDirLockedError\n"
        "from sync.storage import open_data_dir\n"
        "try:\n"
        "    open_data_dir(sys.argv[1], 'b')\n"
        "except DataDirLockedError as e:\n"
        "    print('locked', e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "a")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.stdout.startswith("locked"), out.stderr
    store.close()
    store, _ = open_data_dir(tmp_path / "a", "a")  # released by close
    store.close()


def _set_format(path: Path, value: bytes) -> None:
    conn = sqlite3.connect(path / DB_FILE)
    conn.execute("UPDATE meta SET value = ? WHERE key = 'format'", (value,))
    conn.commit()
    conn.close()


def test_newer_format_is_refused_naming_both_versions(tmp_path: Path) -> None:
    store, _ = open_data_dir(tmp_path / "a", "a")
    store.commit({"k": b"v"}, {})
    store.close()
    _set_format(tmp_path / "a", str(FORMAT_VERSION + 1).encode())
    with pytest.raises(DataDirFormatError) as ei:
        open_data_dir(tmp_path / "a", "a")
    assert ei.value.found == FORMAT_VERSION + 1
    msg = str(ei.value)
    assert f"format {FORMAT_VERSION + 1}" in msg
    assert f"reads formats {MIN_FORMAT_VERSION}..{FORMAT_VERSION}" in msg
    # refused without touching it, and the lock was released
    _set_format(tmp_path / "a", str(FORMAT_VERSION).encode())
    store, info = open_data_dir(tmp_path / "a", "a")
    assert store.get("k") == b"v" and not info.created
    store.close()


@pytest.mark.parametrize("value", [b"", b"x1", b"\xff"])
def test_missing_or_garbled_format_is_refused(tmp_path: Path, value: bytes) -> None:
    SQLiteStore(tmp_path / "a").close()
    _set_format(tmp_path / "a", value)
    with pytest.raises(DataDirFormatError, match="no valid format version"):
        SQLiteStore(tmp_path / "a")


def test_foreign_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / DB_FILE).write_bytes(b"not a database at all" * 100)
    with pytest.raises(DataDirFormatError, match="not an SQLite database"):
        SQLiteStore(tmp_path / "junk")
    (tmp_path / "other").mkdir()
    conn = sqlite3.connect(tmp_path / "other" / DB_FILE)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(DataDirFormatError, match="another application"):
        SQLiteStore(tmp_path / "other")


def _corrupt(path: Path, key: str, *, value: bytes | None = None, crc: int | None = None) -> None:
    conn = sqlite3.connect(path / DB_FILE)
    if value is not None:
        conn.execute("UPDATE objects SET value = ? WHERE key = ?", (value, key))
    if crc is not None:
        conn.execute("UPDATE objects SET crc = ? WHERE key = ?", (crc, key))
    conn.commit()
    conn.close()


def test_corrupt_rows_are_reported_and_the_rest_loads(tmp_path: Path) -> None:
    counters = {}
    for i in range(20):
        c = crdts.GCounter()
        c.increment(f"r{i}", i + 1)
        counters[f"k{i:02}"] = c
    store, _ = open_data_dir(tmp_path / "a", "a")
    store.commit({k: crdts.encode(c) for k, c in counters.items()}, {})
    store.close()
    good = crdts.encode(counters["k03"])
    _corrupt(tmp_path / "a", "k03", value=good[:-1] + bytes([good[-1] ^ 1]))  # a flipped bit
    _corrupt(tmp_path / "a", "k07", crc=0)  # a bad checksum
    # garbage with a matching checksum: caught by the decoder
    from sync.storage._sqlite import checksum

    _corrupt(tmp_path / "a", "k11", value=b"\x93garbage", crc=checksum("k11", b"\x93garbage"))
    store, _ = open_data_dir(tmp_path / "a", "a")
    loaded = load_objects(store, crdts.decode)
    assert [e.key for e in loaded.corrupt] == ["k03", "k07", "k11"]
    assert all(isinstance(e, CorruptRecordError) for e in loaded.corrupt)
    assert "checksum" in loaded.corrupt[0].reason and "decode" in loaded.corrupt[2].reason
    assert set(loaded.objects) == set(counters) - {"k03", "k07", "k11"}
    assert all(loaded.objects[k] == counters[k] for k in loaded.objects)
    assert [e.key for e in store.corrupt] == ["k03", "k07"]  # counted by the store
    with pytest.raises(CorruptRecordError, match="'k07'"):
        store.get("k07")
    # a good state committed over the bad row heals it
    store.commit({"k07": crdts.encode(counters["k07"])}, {})
    assert store.get("k07") == crdts.encode(counters["k07"])
    store.close()


def test_commit_failures_are_storage_errors_and_write_nothing(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "a", max_bytes=64 * 1024)
    store.commit({"small": b"x"}, {})
    with pytest.raises(StorageError, match="full"):
        store.commit({f"k{i}": bytes(1000) for i in range(500)}, {"m": b"1"})
    assert store.count() == 1 and "m" not in store.load_meta()
    store.commit({"after": b"y"}, {})  # the store stays usable
    assert store.get("after") == b"y"
    store.close()


def test_read_only_open_of_a_running_nodes_dir(tmp_path: Path) -> None:
    store, info = open_data_dir(tmp_path / "a", "a")
    store.commit({"k": b"v", "j": b"w"}, {META_HLC: b"h"})
    ro = SQLiteStore(tmp_path / "a", readonly=True)  # no lock taken: the writer holds it
    assert ro.count() == 2 and ro.get("k") == b"v" and list(ro.scan("j")) == [("j", b"w")]
    assert ro.load_meta()["replica_id"] == info.replica_id.encode()
    with pytest.raises(StorageError, match="read-only"):
        ro.commit({"x": b""}, {})
    store.commit({"k": b"v2"}, {})
    assert ro.get("k") == b"v2"  # sees what the writer committed since
    ro.close()
    store.close()
    with pytest.raises(StorageError, match="no deltamesh database"):
        SQLiteStore(tmp_path / "missing", readonly=True)
    _set_format(tmp_path / "a", str(FORMAT_VERSION + 1).encode())
    with pytest.raises(DataDirFormatError):
        SQLiteStore(tmp_path / "a", readonly=True)


def test_load_encoded_keeps_the_bytes_and_reports_bad_checksums(tmp_path: Path) -> None:
    store, _ = open_data_dir(tmp_path / "a", "a")
    rows = {f"k{i:02}": bytes([i]) * 3 for i in range(12)}
    store.commit(rows, {})
    store.close()
    _corrupt(tmp_path / "a", "k05", crc=0)
    store, _ = open_data_dir(tmp_path / "a", "a")
    try:
        loaded = load_encoded(store)
        assert [e.key for e in loaded.corrupt] == ["k05"]
        assert loaded.objects == {k: v for k, v in rows.items() if k != "k05"}  # not decoded
    finally:
        store.close()


def test_upgrade_format_recodes_every_row_and_writes_the_version_last(tmp_path: Path) -> None:
    store, _ = open_data_dir(tmp_path / "a", "a")
    store.commit({f"k{i:02}": b"old" + bytes([i]) for i in range(25)}, {META_FORMAT: b"1"})
    store.close()
    _corrupt(tmp_path / "a", "k03", crc=0)
    store, _ = open_data_dir(tmp_path / "a", "a")
    try:
        assert stored_format(store) == 1

        def failing(data: bytes) -> bytes:  # a crash after the first batch
            if data.endswith(bytes([20])):
                raise KeyboardInterrupt
            return b"new" + data[3:]

        with pytest.raises(KeyboardInterrupt):
            upgrade_format(store, failing, batch=10)
        assert stored_format(store) == 1  # cut short: still format 1, upgraded again next time
        assert store.get("k00") == b"new\x00"

        def recode(data: bytes) -> bytes:
            if data == b"old\x0f":
                raise ValueError("does not decode")
            return b"new" + data[3:]

        corrupt = upgrade_format(store, recode, batch=10)
        assert sorted(e.key for e in corrupt) == ["k03", "k15"]
        assert stored_format(store) == FORMAT_VERSION
        assert store.get("k15") == b"old\x0f"  # left as it was
        assert all(
            store.get(f"k{i:02}") == b"new" + bytes([i]) for i in range(25) if i not in (3, 15)
        )
        assert upgrade_format(store, recode) == []  # current: a no-op
    finally:
        store.close()
