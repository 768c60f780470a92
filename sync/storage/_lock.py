"""The data dir's exclusive lock: one process (one open store) at a time.

An advisory ``flock`` on ``<dir>/LOCK``, held for the store's lifetime. The kernel drops it when the
process dies, kill -9 included, so a crash never leaves a stale lock to clean up by hand. The file
holds the holder's pid, only to name it in the error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sync._errors import DataDirLockedError, StorageError

__all__ = ["DirLock"]

LOCK_FILE = "LOCK"


class DirLock:
    """Take the lock on construction (:class:`DataDirLockedError` if held); :meth:`release`."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot open the lock file {self.path}: {exc}") from exc
        try:
            _lock(fd)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            raise DataDirLockedError(
                f"data dir {directory} is already in use"
                + (f" (lock held by pid {holder})" if holder else "")
                + ": one node per data dir",
                path=str(directory),
            ) from None
        except OSError as exc:
            os.close(fd)
            raise StorageError(f"cannot lock {self.path}: {exc}") from exc
        self._fd: int | None = fd
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass  # the pid is only informational; the lock is what counts

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor drops the flock


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode(errors="replace").strip()
    except OSError:
        return ""


def _lock(fd: int) -> None:
    if sys.platform == "win32":  # a byte-range lock on the first byte
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as exc:
            raise BlockingIOError(str(exc)) from exc
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
