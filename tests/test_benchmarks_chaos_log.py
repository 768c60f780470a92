"""The chaos node's small SQLite log (``DELTAMESH_CHAOS_LOG_ROWS``): every data dir the process
opens afterwards folds its log every N rows at any database size, so the chaos run's kill -9,
full and read-only disks hit the fold itself, not only the fold at open."""

from __future__ import annotations

from pathlib import Path

import pytest

import sync.storage._datadir as datadir_module
from benchmarks._chaos_node import _small_log
from sync.storage._datadir import open_data_dir
from sync.storage._sqlite import SQLiteStore


def test_a_small_log_folds_every_n_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datadir_module, "SQLiteStore", SQLiteStore)  # restored after the test
    _small_log(4)
    store, _ = open_data_dir(tmp_path, "n1")
    try:
        assert isinstance(store, SQLiteStore)
        assert store.log_rows == 4
        for i in range(9):
            store.commit({f"k{i}": b"v%d" % i}, {})
        assert store._logged == 1  # folded by the 4th and the 8th commit
        assert dict(store.scan()) == {f"k{i}": b"v%d" % i for i in range(9)}
    finally:
        store.close()
    reopened = SQLiteStore(tmp_path)
    try:
        assert dict(reopened.scan()) == {f"k{i}": b"v%d" % i for i in range(9)}
    finally:
        reopened.close()
