"""``SQLiteStore``: the default durable store, one SQLite database in WAL mode per data dir.

Theory of operation
-------------------
Layout: ``<dir>/deltamesh.sqlite3`` (plus SQLite's ``-wal``/``-shm`` files while open) and
``<dir>/LOCK`` (the exclusive lock, :mod:`sync.storage._lock`). Three tables::

    meta(key TEXT PRIMARY KEY, value BLOB)                          -- format, replica id, HLC, ...
    objects(key TEXT PRIMARY KEY, value BLOB, crc INTEGER) WITHOUT ROWID
    log(seq INTEGER PRIMARY KEY, key TEXT, value BLOB, crc INTEGER)  -- since format 3

``objects`` is clustered on the key (``WITHOUT ROWID``), so a scan in key order reads the B-tree
leaves in order: startup streams it in batches (keyset pagination, ``key > last LIMIT n``), holding
no read transaction between batches and never more than a batch in memory.

**The log** (format 3). A commit *appends* its rows to ``log`` instead of updating them in place in
``objects``: the rows of a commit of random keys would land in as many B-tree leaves, and SQLite
writes (and fsyncs, and later checkpoints) a whole 4 KiB page per leaf touched, so in place a
200-byte row costs a page; appended, the rows of one commit share a few pages. Once the log holds
``log_rows`` rows, the commit that crosses it also *folds* it: the latest row of each key goes into
``objects`` (in key order, each leaf once however often its keys were written) and the log is
emptied, all in that one transaction. A key's current row is its latest ``log`` row if it has one,
else its ``objects`` row: :meth:`get`, :meth:`scan` and :meth:`count` read both (a scan merges, per
batch, the log rows of the batch's key range). Opening a dir for writing, and closing it, fold what
the log holds, so a start scans ``objects`` alone. The log is all-or-nothing with the rest of its
transaction like every other row; a crash leaves it as the last commit left it.

The log pays only while a fold writes several rows per leaf: when the database is larger than
``log_pages`` pages (default: ``log_rows``; a page holds ~15 small objects), the rows of a fold
spread one per leaf and appending first would only add work, so commits then update ``objects``
in place (decided at open and after every fold). A fold also holds its commit's writers for its
duration (~25 ms for 16,384 rows over 20,000 small objects): the price of the cheaper commits.

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

_LOG_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS log (seq INTEGER PRIMARY KEY, key TEXT NOT NULL,"
    " value BLOB NOT NULL, crc INTEGER NOT NULL)"
)
_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID",
    "CREATE TABLE objects (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL,"
    " crc INTEGER NOT NULL) WITHOUT ROWID",
    _LOG_SCHEMA,
)
LOG_FORMAT = 3  # the first format whose commits go through the log
# the latest log row of each key into objects, in key order (each B-tree leaf written once)
_FOLD = (
    "INSERT OR REPLACE INTO objects (key, value, crc) SELECT key, value, crc FROM log"
    " WHERE seq IN (SELECT max(seq) FROM log GROUP BY key) ORDER BY key"
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


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return row.fetchone() is not None


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
    ``log_rows``: rows the log holds before a commit folds them into ``objects`` (see the module
    docstring; ``0``: commits update ``objects`` in place). ``log_pages``: the database size
    (pages) up to which the log is used (``None``: ``log_rows``).
    ``max_bytes``: an optional cap on the database size (a commit past it fails with
    :class:`~sync.StorageError`, as on a full disk). Thread-safe: calls are serialised.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        batch: int = 4096,
        checkpoint_pages: int = 4096,
        log_rows: int = 16384,
        log_pages: int | None = None,
        max_bytes: int | None = None,
        readonly: bool = False,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be >= 1")
        if log_rows < 0:
            raise ValueError("log_rows must be >= 0")
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
        self.log_rows = log_rows
        self.log_pages = log_rows if log_pages is None else log_pages
        self._format = 0  # the dir's format version (the log needs LOG_FORMAT)
        self._has_log = False  # the database has the log table (readers look at it)
        self._log_on = False  # commits append to it (format >= LOG_FORMAT, log_rows > 0)
        self._logged = 0  # rows in the log (we are its one writer)
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
            self._has_log = _has_table(conn, "log")
        except sqlite3.Error as exc:
            conn.close()
            raise StorageError(f"cannot read {file}: {exc}") from exc
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
        found = self._check_format(conn, file) if tables else FORMAT_VERSION
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
            else:  # an older format's dir gets the (empty) log table; older versions ignore it
                conn.execute(_LOG_SCHEMA)
            self._has_log = True
            self._format = found
            self._fold(conn)  # what a crash left in the log: a start then scans objects alone
            self._log_on = self._log_pays(conn)
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (META_CLEAN,)).fetchone()
            self.was_clean = row is not None and bytes(row[0]) == b"1"
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", (META_CLEAN, b"0")
            )  # autocommit: a crash from here on leaves "0"
        except sqlite3.Error as exc:
            raise StorageError(f"cannot initialise {file}: {exc}") from exc

    def _log_pays(self, conn: sqlite3.Connection) -> bool:
        """Whether commits should go through the log (see the module docstring)."""
        if self._format < LOG_FORMAT or not self._has_log or self.log_rows <= 0:
            return False
        return int(conn.execute("PRAGMA page_count").fetchone()[0]) <= self.log_pages

    def _fold(self, conn: sqlite3.Connection) -> None:
        """Fold the whole log into ``objects`` in one transaction (at open and close)."""
        if conn.execute("SELECT EXISTS (SELECT 1 FROM log)").fetchone()[0]:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(_FOLD)
                conn.execute("DELETE FROM log")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        self._logged = 0

    def _check_format(self, conn: sqlite3.Connection, file: Path) -> int:
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
        return found

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
            logged = self._logged
            log_on = self._log_on
            try:
                conn.execute("BEGIN IMMEDIATE")
                if log_on:
                    if rows:
                        conn.executemany("INSERT INTO log (key, value, crc) VALUES (?, ?, ?)", rows)
                        logged += len(rows)
                    if logged >= self.log_rows:  # this transaction folds it (see the docstring)
                        conn.execute(_FOLD)
                        conn.execute("DELETE FROM log")
                        logged = 0
                        log_on = self._log_pays(conn)
                else:
                    if logged:  # the log was turned off holding rows: they go first
                        conn.execute(_FOLD)
                        conn.execute("DELETE FROM log")
                        logged = 0
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
            self._logged = logged
            self._log_on = log_on
            fmt = meta.get(META_FORMAT)
            if fmt is not None and fmt.isdigit():  # upgrade_format wrote the version last
                self._format = int(fmt)
                self._log_on = self._log_pays(conn)

    def get(self, key: str) -> bytes | None:
        with self._mutex:
            try:
                conn = self._db()
                row = None
                if self._read_log():  # its latest log row, else its objects row
                    row = conn.execute(
                        "SELECT value, crc FROM log WHERE key = ? ORDER BY seq DESC LIMIT 1",
                        (key,),
                    ).fetchone()
                if row is None:
                    row = conn.execute(
                        "SELECT value, crc FROM objects WHERE key = ?", (key,)
                    ).fetchone()
            except sqlite3.Error as exc:
                raise StorageError(f"{self.path}: cannot read {key!r}: {exc}") from exc
        if row is None:
            return None
        value, crc = row
        if type(value) is not bytes or checksum(key, value) != crc:
            err = self._corrupt_row(key, value, crc)
            raise err
        return value

    def _read_log(self) -> bool:
        """Whether reads must look at the log: it has rows, or another process may add some."""
        return self._has_log and (self.readonly or self._logged > 0)

    def _page(
        self, conn: sqlite3.Connection, last: str, inclusive: bool, hi: str | None, n: int
    ) -> tuple[list[tuple[str, object, object]], bool]:
        """The rows of one scan batch in key order, and whether it was the last: up to ``n``
        ``objects`` rows from ``last``, overlaid by the latest log row of each key in the same
        range (up to the batch's last key when the batch is full)."""
        op = ">=" if inclusive else ">"
        upper = "" if hi is None else " AND key < ?"
        args: tuple[str, ...] = (last,) if hi is None else (last, hi)
        sql = f"SELECT key, value, crc FROM objects WHERE key {op} ?{upper} ORDER BY key LIMIT {n}"
        if not self._read_log():
            rows = conn.execute(sql, args).fetchall()
            return rows, len(rows) < n
        conn.execute("BEGIN")  # one snapshot for both tables (a reader beside a writer)
        try:
            rows = conn.execute(sql, args).fetchall()
            end = len(rows) < n
            if not end:  # the log's rows up to this batch's last key belong to it
                upper, args = " AND key <= ?", (last, rows[-1][0])
            logged = conn.execute(
                "SELECT key, value, crc FROM log WHERE seq IN (SELECT max(seq) FROM log"
                f" WHERE key {op} ?{upper} GROUP BY key)",
                args,
            ).fetchall()
        finally:
            conn.execute("COMMIT")
        if logged:
            merged = {r[0]: r for r in rows}
            merged.update((r[0], r) for r in logged)
            rows = [merged[k] for k in sorted(merged)]
        return rows, end

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
        inclusive = after is None or after < prefix
        last = prefix if after is None or inclusive else after
        left = limit
        crc32 = zlib.crc32
        while left is None or left > 0:
            n = self.batch if left is None else min(self.batch, left)
            with self._mutex:
                try:
                    rows, end = self._page(self._db(), last, inclusive, hi, n)
                except sqlite3.Error as exc:
                    raise StorageError(f"{self.path}: scan failed after {last!r}: {exc}") from exc
            good: list[tuple[str, bytes]] = []
            for key, value, crc in rows:
                if type(value) is bytes and crc32(value, crc32(key.encode())) == crc:
                    good.append((key, value))
                else:
                    self._corrupt_row(key, value, crc)
            if left is not None and len(good) > left:  # the log added rows to this batch
                good = good[:left]
                end = True
            yield from good
            if end or not rows:
                return
            last = rows[-1][0]
            inclusive = False
            if left is not None:
                left -= len(good)

    def count(self) -> int:
        with self._mutex:
            try:
                sql = "SELECT count(*) FROM objects"
                if (
                    self._read_log()
                ):  # plus the keys only the log holds (one statement: one snapshot)
                    sql = (
                        f"SELECT ({sql}) + (SELECT count(DISTINCT key) FROM log"
                        " WHERE key NOT IN (SELECT key FROM objects))"
                    )
                return int(self._db().execute(sql).fetchone()[0])
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
                    self._fold(conn)  # a clean dir's log is empty: the next start scans objects
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
