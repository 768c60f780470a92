"""Cluster key files: 32 random bytes written as 64 hex digits on one line, mode 0600."""

from __future__ import annotations

import os

from gossip.transport import KEY_SIZE
from sync._errors import ConfigError

__all__ = ["generate_key", "read_key_file", "write_key_file"]


def generate_key() -> bytes:
    """A fresh 32-byte cluster key from the OS CSPRNG."""
    return os.urandom(KEY_SIZE)


def write_key_file(path: str | os.PathLike[str], key: bytes | None = None) -> bytes:
    """Write ``key`` (fresh if None) to a new file readable by its owner only; returns the key.

    Refuses to overwrite an existing file (a lost key locks the old cluster out)."""
    key = generate_key() if key is None else key
    if len(key) != KEY_SIZE:
        raise ConfigError(f"a cluster key is {KEY_SIZE} bytes")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{os.fspath(path)!r} exists: not overwriting a key") from None
    with os.fdopen(fd, "w") as f:
        f.write(f"{key.hex()}\n")
    return key


def read_key_file(path: str | os.PathLike[str]) -> bytes:
    """The key in ``path``: its one line that is not blank or a ``#`` comment, 64 hex digits."""
    try:
        with open(path, encoding="ascii") as f:
            lines = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read key file {os.fspath(path)!r}: {exc}") from None
    if len(lines) != 1:
        raise ConfigError(f"key file {os.fspath(path)!r} must hold one line of 64 hex digits")
    try:
        key = bytes.fromhex(lines[0])
    except ValueError:
        raise ConfigError(f"key file {os.fspath(path)!r}: not hex") from None
    if len(key) != KEY_SIZE:
        raise ConfigError(f"key file {os.fspath(path)!r}: {len(key)} bytes, need {KEY_SIZE}")
    return key
