"""Datagrams the kernel dropped before we could read them (receive buffer full).

Linux reports them per socket in ``/proc/net/udp`` (and ``udp6``): the last column, ``drops``, of
the line whose ``inode`` is our socket's. Reading it costs one pass over the machine's UDP sockets,
so the transport reads it when its metrics are read (at most every ``min_interval`` seconds).
Elsewhere (no ``/proc``) the count is unknown: :func:`udp_drops` returns ``None``.
"""

from __future__ import annotations

import os
import socket

__all__ = ["udp_drops"]

_TABLES: dict[int, str] = {socket.AF_INET: "/proc/net/udp", socket.AF_INET6: "/proc/net/udp6"}


def udp_drops(fileno: int, family: int) -> int | None:
    """Datagrams dropped by the kernel for the UDP socket ``fileno`` (of address ``family``)
    since it was created, or ``None`` if the platform does not say."""
    table = _TABLES.get(family)
    if table is None or fileno < 0:
        return None
    try:
        inode = str(os.fstat(fileno).st_ino)
        with open(table, encoding="ascii") as f:
            next(f, None)  # the header
            for line in f:
                fields = line.split()
                # sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
                if len(fields) >= 13 and fields[9] == inode:
                    return int(fields[12])
    except (OSError, ValueError):
        return None
    return None
