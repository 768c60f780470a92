"""Configuration of a :class:`~sync.Node`: identity, addresses, the cluster key, and the presets
that pick the SWIM, HyParView, transport and sync settings together."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from gossip.hyparview import HyParViewConfig
from gossip.swim import SwimConfig
from gossip.transport import KEY_SIZE, TransportConfig, parse_addr
from sync._config import SyncConfig
from sync._errors import ConfigError

__all__ = ["NodeConfig"]

_WILDCARDS = frozenset({"0.0.0.0", "::", ""})
_MAX_NAME_BYTES = 128  # bytes of UTF-8: the name travels in every SWIM alive update


def _check_addr(what: str, addr: object) -> tuple[str, int]:
    if not isinstance(addr, str):
        raise ConfigError(f"{what} must be a 'host:port' str, got {addr!r}")
    try:
        return parse_addr(addr)
    except ValueError as exc:  # gossip's ConfigError is a ValueError
        raise ConfigError(f"{what}: {exc}") from None


def _default_sync() -> SyncConfig:
    """The sync settings of a ``NodeConfig(...)`` built without a preset: the ``lan()``
    preset's (whose other defaults it shares), not the bare ``SyncConfig.lan()``, which resends
    every round (``resend_timeout=0``) behind the Node's commit-gated acks."""
    return NodeConfig.lan(name="default").sync


@dataclass(frozen=True, kw_only=True, slots=True)
class NodeConfig:
    """Everything a :class:`~sync.Node` needs. Build it with a preset::

        NodeConfig.local(name="a", bind="127.0.0.1:0", seeds=("127.0.0.1:7001",))
        NodeConfig.lan(name="web-1", key_file="cluster.key", data_dir="data")

    Identity (see docs/node.md): ``name`` is what people configure and see in member lists (it
    travels in SWIM member metadata); the *address* (``advertise``, else the bound address) is
    what peers dial and what SWIM and HyParView identify a member by; the *replica id* that mints
    CRDT dots belongs to the data dir, not to the name.
    """

    name: str
    bind: str = "127.0.0.1:0"  # "host:port" for UDP and TCP (one port); port 0 = ephemeral
    # "host:port" peers dial. None: the bound address; with a wildcard bind (0.0.0.0) the host's
    # primary non-loopback address is found at start (an error if there is none).
    advertise: str | None = None
    advertise_required: bool = False  # the wan() preset: no guessing a public address
    seeds: tuple[str, ...] = ()  # may be empty or unreachable: the node runs alone, joins later
    data_dir: str | os.PathLike[str] | None = None  # None: in-memory store (nothing survives)
    key: bytes | None = None  # the 32-byte cluster key; or key_file; neither: plaintext (loudly)
    key_file: str | os.PathLike[str] | None = None  # a file written by `deltamesh keygen`
    cluster: str = "deltamesh"  # cluster label bound into every sealed message
    swim: SwimConfig = field(default_factory=SwimConfig.lan)
    hyparview: HyParViewConfig = field(default_factory=HyParViewConfig)
    transport: TransportConfig = field(default_factory=TransportConfig.lan)
    sync: SyncConfig = field(default_factory=_default_sync)
    # s between checks of the overlay safety net (no active neighbour while SWIM knows live
    # members: rejoin HyParView through one of them); 0 = the HyParView round
    overlay_check_interval: float = 0.0
    # ms: a wall clock more than this ahead of the node's HLC refuses the write (ClockError)
    # instead of stamping it, and every later write of this replica, into the future
    max_clock_jump: int = 60_000
    leave_timeout: float = 2.0  # s, longest wait for a graceful leave on exit

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError("name must be a non-empty str")
        if len(self.name.encode()) > _MAX_NAME_BYTES:
            raise ConfigError(f"name must be at most {_MAX_NAME_BYTES} bytes of UTF-8")
        _check_addr("bind", self.bind)
        if self.advertise is not None:
            host, port = _check_addr("advertise", self.advertise)
            if host in _WILDCARDS:
                raise ConfigError(
                    f"advertise={self.advertise!r} is a wildcard address peers cannot dial: "
                    "advertise this host's reachable IP"
                )
            if port == 0:
                raise ConfigError(f"advertise={self.advertise!r}: peers cannot dial port 0")
        elif self.advertise_required:
            raise ConfigError(
                "this preset needs advertise='host:port': the address peers dial (a public or "
                "VPN address cannot be guessed from the local interfaces)"
            )
        seeds: Any = self.seeds
        if isinstance(seeds, str):
            raise ConfigError("seeds must be a sequence of 'host:port' strings, not one str")
        seeds = tuple(seeds)
        for s in seeds:
            _check_addr("seed", s)
        object.__setattr__(self, "seeds", seeds)
        if self.key is not None and self.key_file is not None:
            raise ConfigError("give key= or key_file=, not both")
        if self.key is not None and (not isinstance(self.key, bytes) or len(self.key) != KEY_SIZE):
            raise ConfigError(f"key must be {KEY_SIZE} bytes")
        if not self.cluster or len(self.cluster.encode()) > 255:
            raise ConfigError("cluster label must be 1..255 bytes of UTF-8")
        for name, t in {
            "overlay_check_interval": self.overlay_check_interval,
            "leave_timeout": self.leave_timeout,
        }.items():
            if not t >= 0:
                raise ConfigError(f"{name} must be >= 0 seconds, got {t!r}")
        if not isinstance(self.max_clock_jump, int) or self.max_clock_jump < 1000:
            raise ConfigError("max_clock_jump must be an int >= 1000 (milliseconds)")
        if isinstance(self.sync, SyncConfig) and self.sync.use_packets:
            raise ConfigError(
                "sync.use_packets is not supported by the Node: its durability boundary holds "
                "state-carrying stream frames until they are committed"
            )
        for name, cls in (
            ("swim", SwimConfig),
            ("hyparview", HyParViewConfig),
            ("transport", TransportConfig),
            ("sync", SyncConfig),
        ):
            if not isinstance(getattr(self, name), cls):
                raise ConfigError(f"{name} must be a {cls.__name__}")

    # -- derived -----------------------------------------------------------------------------

    @property
    def bind_host(self) -> str:
        return parse_addr(self.bind)[0]

    @property
    def bind_port(self) -> int:
        return parse_addr(self.bind)[1]

    @property
    def insecure(self) -> bool:
        """True when no cluster key is configured: every message travels in plaintext."""
        return self.key is None and self.key_file is None

    def transport_config(self) -> TransportConfig:
        """The transport settings with this node's bind and advertise addresses (a wildcard
        bind without ``advertise`` advertises the default route's address: the transport's
        rule, ``gossip/transport/_advertise.py``)."""
        return replace(
            self.transport, host=self.bind_host, port=self.bind_port, advertise=self.advertise
        )

    def load_key(self) -> bytes | None:
        """The cluster key (read from ``key_file`` if given), or None for plaintext."""
        if self.key is not None:
            return self.key
        if self.key_file is None:
            return None
        from sync._keyfile import read_key_file

        return read_key_file(self.key_file)

    def overlay_interval(self) -> float:
        return self.overlay_check_interval or self.hyparview.shuffle_interval

    # -- presets -----------------------------------------------------------------------------

    @classmethod
    def lan(cls, *, name: str, **overrides: Any) -> NodeConfig:
        """A data-centre LAN: binds every interface on port 7946 and advertises the host's
        primary address; memberlist's LAN timings, HyParView's paper sizes, sync every 0.2 s."""
        values: dict[str, Any] = {
            "bind": "0.0.0.0:7946",
            "swim": SwimConfig.lan(),
            "hyparview": HyParViewConfig(),
            "transport": TransportConfig.lan(),
            # the Node's frames travel over streams (nothing lost short of a broken connection)
            # and each ack waits for the receiver's commit: resend what is unacked after 1 s
            # (adaptive), not every round (see SyncConfig.resend_timeout); at most one message's
            # worth in flight per neighbour (max_inflight_bytes): a backlog then waits, and
            # joins, in the sender's buffer
            "sync": replace(
                SyncConfig.lan(),
                resend_timeout=1.0,
                relay_hold=3.0,
                max_inflight_bytes=256 * 1024,
            ),
        }
        values.update(overrides)
        return cls(name=name, **values)

    @classmethod
    def wan(cls, *, name: str, **overrides: Any) -> NodeConfig:
        """Links across regions: binds every interface on 7946 and requires ``advertise`` (the
        public address cannot be guessed); memberlist's WAN timings, patient HyParView rounds,
        sync every 1 s."""
        values: dict[str, Any] = {
            "bind": "0.0.0.0:7946",
            "advertise_required": True,
            "swim": SwimConfig.wan(),
            "hyparview": HyParViewConfig(
                shuffle_interval=30.0, neighbor_timeout=10.0, join_timeout=10.0
            ),
            "transport": TransportConfig.wan(),
            "sync": replace(
                SyncConfig.wan(),
                resend_timeout=5.0,
                relay_hold=15.0,
                max_inflight_bytes=256 * 1024,
            ),
        }
        values.update(overrides)
        return cls(name=name, **values)

    @classmethod
    def local(cls, *, name: str, **overrides: Any) -> NodeConfig:
        """One machine (tests, demos): loopback, an ephemeral port, fast timers."""
        values: dict[str, Any] = {
            "bind": "127.0.0.1:0",
            # memberlist's local timings, probing twice as often, with the LAN retransmit
            # multiplier and a 5 s push-pull: on a loaded machine a lost alive update would
            # otherwise leave a member unknown to another until the next 15 s push-pull
            "swim": replace(
                SwimConfig.local(),
                probe_interval=0.5,
                probe_timeout=0.2,
                retransmit_mult=4,
                push_pull_interval=5.0,
            ),
            "hyparview": HyParViewConfig.local(),
            "transport": TransportConfig.local(),
            "sync": replace(
                SyncConfig(),
                sync_interval=0.05,
                catchup_timeout=1.0,
                resend_timeout=1.0,
                relay_hold=3.0,
                max_inflight_bytes=64 * 1024,
            ),
            "leave_timeout": 1.0,
        }
        values.update(overrides)
        return cls(name=name, **values)

    def with_(self, **changes: Any) -> NodeConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)
