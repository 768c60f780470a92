"""Which address peers dial for us: explicit, the bound one, or derived from a wildcard bind.

A node bound to every interface (``0.0.0.0`` / ``::``, what a LAN or WAN deployment binds) cannot
tell peers "dial 0.0.0.0": it must advertise one reachable address. The rule is memberlist's
(``FinalAdvertiseAddr``): an explicit ``advertise`` wins; a specific bind host is advertised as
bound; a wildcard bind advertises the address of the interface the default route leaves by (found
by routing a UDP socket, no packet is sent), and is a clear :class:`ConfigError` when there is
none. Behind NAT (across sites) that interface address is not what others dial: pass
``advertise`` explicitly.
"""

from __future__ import annotations

import ipaddress

from gossip._errors import ConfigError
from gossip.transport._addr import parse_addr

__all__ = ["WILDCARD_HOSTS", "advertise_host", "check_advertise", "primary_ip"]

WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})
# Documentation addresses (RFC 5737, RFC 3849): routed to find our interface, never sent to.
_PROBE_V4, _PROBE_V6 = "192.0.2.1", "2001:db8::1"


def check_advertise(addr: str) -> tuple[str, int]:
    """``addr`` split into ``(host, port)``, or :class:`ConfigError` if peers could not dial it
    (a wildcard host, port 0)."""
    host, port = parse_addr(addr)
    if host in WILDCARD_HOSTS:
        raise ConfigError(
            f"advertise={addr!r} is a wildcard address peers cannot dial: advertise this "
            "host's reachable IP (or leave advertise unset to derive it)"
        )
    if port == 0:
        raise ConfigError(f"advertise={addr!r}: peers cannot dial port 0")
    return host, port


def primary_ip(v6: bool = False) -> str | None:
    """The address of the interface this host's default route uses (IPv4, or IPv6 if ``v6``),
    or ``None`` (no route, or only loopback / link-local)."""
    import socket  # here, not at the top: importing gossip.transport must stay free of sockets

    family = socket.AF_INET6 if v6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect((_PROBE_V6 if v6 else _PROBE_V4, 9))  # UDP connect() only routes
            ip = ipaddress.ip_address(str(s.getsockname()[0]).split("%")[0])
    except (OSError, ValueError):
        return None
    if ip.is_loopback or ip.is_unspecified or ip.is_link_local:
        return None
    return str(ip)


def advertise_host(host: str, advertise: str | None) -> str | None:
    """The host part to advertise for a transport bound to ``host``: ``None`` when ``advertise``
    is given (it is used as is), ``host`` itself when it is specific, else the derived address
    (see the module docstring); :class:`ConfigError` when a wildcard bind has nothing to derive."""
    if advertise is not None:
        check_advertise(advertise)
        return None
    if host not in WILDCARD_HOSTS:
        return host
    for v6 in (True, False) if host == "::" else (False,):
        ip = primary_ip(v6)
        if ip is not None:
            return ip
    raise ConfigError(
        f"bound to the wildcard {host or '0.0.0.0'!r}, and this host has no routed non-loopback "
        "address to advertise: set advertise='host:port' (the address peers dial)"
    )
