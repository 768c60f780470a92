"""Peer addresses on real transports: ``"host:port"`` strings (``"[::1]:7946"`` for IPv6).

Cores treat addresses as opaque strings; only the network transport parses them.
"""

from __future__ import annotations

from gossip._errors import ConfigError

__all__ = ["format_addr", "parse_addr"]


def parse_addr(addr: str) -> tuple[str, int]:
    """Split ``"host:port"`` (or ``"[v6]:port"``) into ``(host, port)``; :class:`ConfigError` if
    malformed."""
    host, sep, port_text = addr.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise ConfigError(f"address must be 'host:port', got {addr!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ConfigError(f"IPv6 addresses are written '[host]:port', got {addr!r}")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ConfigError(f"port out of range in {addr!r}")
    return host, port


def format_addr(host: str, port: int) -> str:
    """The canonical string for ``(host, port)``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
