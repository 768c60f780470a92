"""``SQLiteStore``: the default durable store, one SQLite database in WAL mode per data dir.

Theory of operation
-------------------
Layout: ``<dir>/deltamesh.sqlite3`` (plus SQLite's ``-wal``/``-shm`` files while open) and
``<dir>/LOCK`` (the exclusive lock, :mod:`sync.storage._lock`). Two tables::

    meta(key TEXT PRIMARY KEY, value BLOB)                          -- format, replica id, HLC, ...
    objects(key TEXT PRIMARY KEY, value BLOB, crc INTEGER) WITHOUT ROWID

``objects`` is clustered on the key (``WITHOUT ROWID``), so a scan in key order reads the B-tree
leaves in order: startup streams it in batches (keyset pagination, ``key > last LIMIT n``), holding
no read transaction between batches and never more than a batch in memory.

**Durability boundary.** ``journal_mode=WAL`` with ``synchronous=FULL``: ``COMMIT`` appends the
transaction's pages to the WAL and fsyncs it before returning, so a commit that returned survives
kill -9 *and* power loss at any later instant; a crash mid-commit leaves a WAL tail without a
valid commit frame, which recovery ignores (the transaction is all or nothing). ``NORMAL`` would
survive kill -9 (the frames are in the OS page cache once ``write()`` returned) but not a power
cut, and a write is acknowledged as "durable on the local disk", so ``FULL`` it is; group commit
(:class:`~sync.storage.GroupCommitter`) amortises its one fsync over every write of a batch.
Checkpoints (copying the WAL back into the database) run automatically in the committing thread
once the WAL passes ``checkpoint_pages``; with ``FULL`` a checkpoint syncs the WAL first and the
database after, and a crash during one is harmless (the WAL is replayed on the next open).

**Format.** ``PRAGMA application_id`` marks the file as ours; ``meta['format']`` holds the format
version of the writer. A file of another application, a database with no format, or a format
outside ``MIN_FORMAT_VERSION..FORMAT_VERSION`` is refused with :class:`~sync.DataDirFormatError`
naming what was found and what this version reads; nothing is written to it.

**Corruption.** Each row carries ``crc32(key utf-8 || value)``. SQLite's own atomic commit rules
out torn rows from crashes; the checksum catches what it cannot: bit rot, a bad sector, a copy
gone wrong. A row that fails it is reported as :class:`~sync.CorruptRecordError` naming the key
(appended to :attr:`SQLiteStore.corrupt`, raised by :meth:`get`) and skipped by :meth:`scan`,
which goes on with the rest. The row stays on disk untouched until a good state of the object
is committed over it (see docs/storage.md for what the Node does about it).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from sync._errors import CorruptRecordError, DataDirFormatError, StorageError, UsageError
from sync.storage._interface import (
    FORMAT_VERSION,
    META_CLEAN,
    META_FORMAT,
    MIN_FORMAT_VERSION,
)
from sync.storage._lock import DirLock
from sync.storage._memory import _validate

__all__ = ["DB_FILE", "SQLiteStore"]

DB_FILE = "deltamesh.sqlite3"
APPLICATION_ID = 0x444D5348  # "DMSH": marks the SQLite file as a deltamesh data dir

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE objects (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL,"
    " crc INTEGER NOT NULL) WITHOUT ROWID",
)


def checksum(key: str, value: bytes) -> int:
    """The per-row checksum: crc32 over the key's utf-8 bytes, then the value."""
    return zlib.crc32(value, zlib.crc32(key.encode()))


def _rows(objects: Mapping[str, bytes]) -> list[tuple[str, bytes, int]]:
    """``(key, value, checksum)`` rows in key order, every object checked as ``_validate``
    checks it (one pass: this runs in every commit, for every row)."""
    crc32 = zlib.crc32
    rows: list[tuple[str, bytes, int]] = []
    items: Iterable[tuple[object, object]] = objects.items()  # checked, not trusted
    for key, value in items:
        if type(key) is not str:
            raise UsageError(f"object keys are str, got {type(key).__name__}")
        try:
            kb = key.encode()
        except UnicodeEncodeError:
            raise UsageError(f"object key {key!r} is not valid unicode (lone surrogate)") from None
        if not isinstance(value, bytes | bytearray | memoryview):
            raise UsageError(f"object {key!r}: values are bytes, got {type(value).__name__}")
        rows.append((key, value, crc32(value, crc32(kb))))  # type: ignore[arg-type]
    rows.sort()  # keys are unique: compared by key alone; in key order, the B-tree is walked once
    return rows


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (``None``: none)."""
    p = prefix
    while p:
        c = ord(p[-1])
        if c < 0x10FFFF:
            c += 1
            if 0xD800 <= c <= 0xDFFF:  # surrogates cannot be stored: skip past them
                c = 0xE000
            return p[:-1] + chr(c)
        p = p[:-1]
    return None


class SQLiteStore:
    """The durable :class:`~sync.storage.Store` of a data dir (see the module docstring).

    ``SQLiteStore(path)`` creates the directory and database if needed, takes the dir's
    exclusive lock (:class:`~sync.DataDirLockedError`), and checks the format
    (:class:`~sync.DataDirFormatError`). ``readonly=True`` opens an existing dir without the
    lock and never writes (inspecting the dir of a running node). ``batch``: rows fetched per
    query by :meth:`scan`.
    ``checkpoint_pages``: WAL size (4 KiB pages) that triggers an automatic checkpoint.
    ``max_bytes``: an optional cap on the database size (a commit past it fails with
    :class:`~sync.StorageError`, as on a full disk). Thread-safe: calls are serialised.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        batch: int = 4096,
        checkpoint_pages: int = 4096,
        max_bytes: int | None = None,
        readonly: bool = False,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be >= 1")
        self.path = Path(path)
        self.batch = batch
        self.readonly = readonly
        self.created = False  # True when this open made the database
        self.was_clean = False  # the previous process closed the store cleanly
        self.commits = 0
        self._corrupt: list[CorruptRecordError] = []
        self._mutex = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._lock: DirLock | None = None
        if readonly:
            self._conn = self._open_readonly()
            return
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create data dir {self.path}: {exc}") from exc
        self._lock = DirLock(self.path)
        try:
            self._conn = self._open(checkpoint_pages, max_bytes)
        except BaseException:
            self._lock.release()
            self._lock = None
            raise

    # -- opening ---------------------------------------------------------------------------------

    def _open(self, checkpoint_pages: int, max_bytes: int | None) -> sqlite3.Connection:
        file = self.path / DB_FILE
        try:
            conn = sqlite3.connect(file, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {file}: {exc}") from exc
        try:
            self._check_and_init(conn, file, checkpoint_pages, max_bytes)
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_readonly(self) -> sqlite3.Connection:
        """Read-only, without the lock (e.g. ``deltamesh status`` on the dir of a running node):
        reads see the last committed state; nothing is ever written, the clean flag included."""
        file = self.path / DB_FILE
        if not file.is_file():
            raise StorageError(f"{self.path} holds no deltamesh database ({DB_FILE})")
        try:
            conn = sqlite3.connect(
                f"{file.resolve().as_uri()}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {file}: {exc}") from exc
        try:
            try:
                app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            except sqlite3.DatabaseError as exc:
                raise DataDirFormatError(
                    f"{file} is not a deltamesh data dir (not an SQLite database: {exc})",
                    supported=(MIN_FORMAT_VERSION, FORMAT_VERSION),
                ) from exc
            if app_id != APPLICATION_ID:
                raise DataDirFormatError(
                    f"{file} is not a deltamesh data dir",
                    supported=(MIN_FORMAT_VERSION, FORMAT_VERSION),
                )
            self._check_format(conn, file)
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_CLEAN,)).fetchone()
            self.was_clean = row is not None and bytes(row[0]) == b"1"
        except BaseException:
            conn.close()
            raise
        return conn

    def _check_and_init(
        self, conn: sqlite3.Connection, file: Path, checkpoint_pages: int, max_bytes: int | None
    ) -> None:
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:  # "file is not a database", "malformed", ...
            raise DataDirFormatError(
                f"{file} is not a deltamesh data dir (not an SQLite database: {exc})",
                supported=(MIN_FORMAT_VERSION, FORMAT_VERSION),
            ) from exc
        if app_id not in {0, APPLICATION_ID} or (app_id == 0 and tables):
            raise DataDirFormatError(
                f"{file} is an SQLite database of another application, not a deltamesh data dir",
                supported=(MIN_FORMAT_VERSION, FORMAT_VERSION),
            )
        if tables:
            self._check_format(conn, file)
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StorageError(f"{file}: cannot switch to WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA wal_autocheckpoint={int(checkpoint_pages)}")
            conn.execute(f"PRAGMA journal_size_limit={64 * 1024 * 1024}")
            conn.execute("PRAGMA cache_size=-32768")  # KiB: 32 MiB of page cache
            conn.execute("PRAGMA temp_store=MEMORY")
            if max_bytes is not None:
                page = conn.execute("PRAGMA page_size").fetchone()[0]
                conn.execute(f"PRAGMA max_page_count={max(1, max_bytes // page)}")
            if not tables:
                conn.execute("BEGIN IMMEDIATE")
                for stmt in _SCHEMA:
                    conn.execute(stmt)
                conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
                conn.execute(
                    "INSERT INTO meta VALUES (?, ?)", (META_FORMAT, str(FORMAT_VERSION).encode())
                )
                conn.execute("COMMIT")
                self.created = True
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_CLEAN,)).fetchone()
            self.was_clean = row is not None and bytes(row[0]) == b"1"
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", (META_CLEAN, b"0")
            )  # autocommit: a crash from here on leaves "0"
        except sqlite3.Error as exc:
            raise StorageError(f"cannot initialise {file}: {exc}") from exc

    def _check_format(self, conn: sqlite3.Connection, file: Path) -> None:
        supported = (MIN_FORMAT_VERSION, FORMAT_VERSION)
        reads = (
            f"this version reads format {FORMAT_VERSION}"
            if MIN_FORMAT_VERSION == FORMAT_VERSION
            else f"this version reads formats {MIN_FORMAT_VERSION}..{FORMAT_VERSION}"
        )
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_FORMAT,)).fetchone()
        except sqlite3.Error as exc:
            raise DataDirFormatError(
                f"{file} has no readable meta table ({exc}): not a deltamesh data dir, or damaged",
                supported=supported,
            ) from exc
        try:
            found = int(bytes(row[0]).decode("ascii")) if row is not None else None
        except (ValueError, UnicodeDecodeError):
            found = None
        if found is None:
            raise DataDirFormatError(
                f"{file} holds no valid format version: not a deltamesh data dir, or damaged"
                f" ({reads})",
                supported=supported,
            )
        if found > FORMAT_VERSION:
            raise DataDirFormatError(
                f"{file} was written in format {found}, newer than this version of deltamesh"
                f" understands ({reads}): upgrade deltamesh, or use another data dir",
                found=found,
                supported=supported,
            )
        if found < MIN_FORMAT_VERSION:
            raise DataDirFormatError(
                f"{file} was written in format {found}, older than this version of deltamesh"
                f" still reads ({reads})",
                found=found,
                supported=supported,
            )

    # -- the Store interface ---------------------------------------------------------------------

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StorageError(f"the store of {self.path} is closed")
        return self._conn

    def load_meta(self) -> dict[str, bytes]:
        with self._mutex:
            try:
                rows = self._db().execute("SELECT key, value FROM meta").fetchall()
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: cannot read meta: {exc}") from exc
        return {k: bytes(v) for k, v in rows}

    def commit(self, objects: Mapping[str, bytes], meta: Mapping[str, bytes]) -> None:
        rows = _rows(objects)
        _validate({}, meta)
        if self.readonly:
            raise StorageError(f"the store of {self.path} was opened read-only")
        with self._mutex:
            conn = self._db()
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany("INSERT OR REPLACE INTO objects VALUES (?, ?, ?)", rows)
                if meta:
                    conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:  # SQLite may already have rolled back (SQLITE_FULL)
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise StorageError(
                    f"{self.path}: commit of {len(rows)} objects failed, nothing written: {exc}"
                ) from exc
            self.commits += 1

    def get(self, key: str) -> bytes | None:
        with self._mutex:
            try:
                row = (
                    self._db()
                    .execute("SELECT value, crc FROM objects WHERE key = ?", (key,))
                    .fetchone()
                )
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: cannot read {key!r}: {exc}") from exc
        if row is None:
            return None
        value, crc = row
        if type(value) is not bytes or checksum(key, value) != crc:
            err = self._corrupt_row(key, value, crc)
            raise err
        return value

    def _corrupt_row(self, key: str, value: object, crc: object) -> CorruptRecordError:
        reason = (
            f"value is a {type(value).__name__}, not a blob"
            if type(value) is not bytes
            else f"checksum mismatch (stored {crc!r})"
        )
        err = CorruptRecordError(key, reason)
        self._corrupt.append(err)
        return err

    def scan(
        self, prefix: str = "", *, after: str | None = None, limit: int | None = None
    ) -> Iterator[tuple[str, bytes]]:
        hi = prefix_end(prefix)
        upper = "" if hi is None else " AND key < ?"
        inclusive = after is None or after < prefix
        last = prefix if inclusive else after
        left = limit
        crc32 = zlib.crc32
        while left is None or left > 0:
            n = self.batch if left is None else min(self.batch, left)
            sql = (
                f"SELECT key, value, crc FROM objects WHERE key {'>=' if inclusive else '>'} ?"
                f"{upper} ORDER BY key LIMIT {n}"
            )
            args = (last,) if hi is None else (last, hi)
            with self._mutex:
                try:
                    rows = self._db().execute(sql, args).fetchall()
                except sqlite3.Error as exc:
                    raise StorageError(f"{self.path}: scan failed after {last!r}: {exc}") from exc
            good: list[tuple[str, bytes]] = []
            for key, value, crc in rows:
                if type(value) is bytes and crc32(value, crc32(key.encode())) == crc:
                    good.append((key, value))
                else:
                    self._corrupt_row(key, value, crc)
            yield from good
            if len(rows) < n:
                return
            last = rows[-1][0]
            inclusive = False
            if left is not None:
                left -= len(good)

    def count(self) -> int:
        with self._mutex:
            try:
                return int(self._db().execute("SELECT count(*) FROM objects").fetchone()[0])
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: cannot count objects: {exc}") from exc

    @property
    def corrupt(self) -> list[CorruptRecordError]:
        return self._corrupt

    def close(self) -> None:
        """Mark the dir closed cleanly, checkpoint the WAL into the database, release the lock."""
        with self._mutex:
            conn, self._conn = self._conn, None
            if conn is not None and self.readonly:
                conn.close()
            elif conn is not None:
                try:
                    conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (META_CLEAN, b"1"))
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                except sqlite3.Error:
                    pass  # a failing disk: the dir simply stays marked unclean
                finally:
                    conn.close()
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.path)!r})"
