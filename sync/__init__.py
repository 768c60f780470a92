"""The delta-sync engine (sans-I/O) and the ``Node`` runtime (anyio + SQLite)."""

from __future__ import annotations

__all__: list[str] = []
