"""HyParView configuration: the paper's defaults, with where each one comes from."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from gossip._errors import ConfigError


@dataclass(frozen=True, kw_only=True, slots=True)
class HyParViewConfig:
    """Parameters of one HyParView node.

    Defaults are those of Leitão, Pereira, Rodrigues, "HyParView: a membership protocol for
    reliable gossip-based broadcast", DSN 2007, section 5 (10,000 nodes): active view 5
    (log10(n) + c with c = 1), passive view 30 (k * (log10(n) + c) with k = 6), ARWL 6, PRWL 3,
    shuffles carrying ka = 3 active and kp = 4 passive ids. The paper counts time in rounds; the
    seconds below are ours (one membership round = ``shuffle_interval``).
    """

    active_size: int = 5
    """Maximum active view (symmetric overlay links); paper: log10(n) + 1."""
    passive_size: int = 30
    """Maximum passive view (backup ids, no links); paper: 6 * active_size."""
    arwl: int = 6
    """Active Random Walk Length: FORWARDJOIN time-to-live, hops."""
    prwl: int = 3
    """Passive Random Walk Length: at this TTL a FORWARDJOIN leaves the new id in a passive view."""
    shuffle_active: int = 3
    """ka: active-view ids carried by a SHUFFLE."""
    shuffle_passive: int = 4
    """kp: passive-view ids carried by a SHUFFLE."""
    shuffle_ttl: int = 6
    """SHUFFLE random-walk time-to-live, hops (the paper uses ARWL)."""
    shuffle_interval: float = 10.0  # seconds
    """One membership round: a SHUFFLE, active-view repair, and at most one reconnect attempt."""
    neighbor_timeout: float = 5.0  # seconds
    """A NEIGHBOR request unanswered this long is abandoned (another candidate is tried)."""
    join_timeout: float = 5.0  # seconds
    """A JOIN without acceptance after this long is retried through another seed."""
    reconnect_window: float = 600.0  # seconds
    """How long a failed active peer is remembered and retried once a round (heals partitions)."""
    reconnect_memory: int = 16
    """At most this many failed active peers are remembered for reconnect attempts."""

    def __post_init__(self) -> None:
        ints = {
            "active_size": self.active_size,
            "passive_size": self.passive_size,
            "arwl": self.arwl,
            "shuffle_active": self.shuffle_active,
            "shuffle_passive": self.shuffle_passive,
            "shuffle_ttl": self.shuffle_ttl,
        }
        for name, value in ints.items():
            if value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")
        if self.prwl < 0 or self.prwl > self.arwl:
            raise ConfigError(f"prwl must be in [0, arwl={self.arwl}], got {self.prwl}")
        if self.reconnect_memory < 0:
            raise ConfigError(f"reconnect_memory must be >= 0, got {self.reconnect_memory}")
        for name, t in {
            "shuffle_interval": self.shuffle_interval,
            "neighbor_timeout": self.neighbor_timeout,
            "join_timeout": self.join_timeout,
            "reconnect_window": self.reconnect_window,
        }.items():
            if not (t > 0 and math.isfinite(t)):
                raise ConfigError(f"{name} must be a positive number of seconds, got {t}")

    # -- presets -------------------------------------------------------------------------------

    @classmethod
    def paper(cls) -> HyParViewConfig:
        """Exactly the paper's parameters (10,000 nodes)."""
        return cls()

    @classmethod
    def for_cluster_size(cls, n: int) -> HyParViewConfig:
        """Views sized as in the paper's formulas: active log10(n) + 1, passive 6 times that."""
        if n < 1:
            raise ConfigError(f"cluster size must be >= 1, got {n}")
        active = max(2, math.ceil(math.log10(n)) + 1)
        return cls(active_size=active, passive_size=6 * active)

    @classmethod
    def local(cls) -> HyParViewConfig:
        """Fast timers for a cluster on one host (tests, demos): rounds of 1 s."""
        return cls(shuffle_interval=1.0, neighbor_timeout=1.0, join_timeout=1.0)

    def with_(self, **changes: object) -> HyParViewConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]
