"""Plumtree configuration, with where each default comes from."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from gossip._errors import ConfigError


@dataclass(frozen=True, kw_only=True, slots=True)
class PlumtreeConfig:
    """Parameters of one Plumtree node.

    Leitão, Pereira, Rodrigues, "Epidemic Broadcast Trees", SRDS 2007, section 3: a missing
    message is grafted ``graft_timeout`` after its first IHAVE (the paper's *timeout1*, chosen
    above the expected eager-path delay) and re-grafted from the next announcer every
    ``graft_retry`` (*timeout2*, shorter). The paper sends IHAVEs "lazily"; we batch them per
    peer for ``ihave_interval`` (the paper's policy hook, section 3.5).
    """

    graft_timeout: float = 0.5  # seconds (timeout1)
    """Wait this long after the first IHAVE for the payload to arrive by eager push, then GRAFT."""
    graft_retry: float = 0.25  # seconds (timeout2)
    """Then GRAFT the next announcer every this long until the payload arrives."""
    graft_attempts: int = 5
    """GRAFTs sent for one missing message (rotating over its announcers) before giving up."""
    ihave_interval: float = 0.05  # seconds
    """IHAVE announcements for one lazy peer are batched for this long (0: send at once)."""
    ihave_batch: int = 256
    """At most this many message ids per IHAVE frame."""
    seen_cache: int = 10_000
    """Message ids remembered (and their payloads, kept to answer GRAFTs); oldest evicted first."""
    max_payload: int = 1 << 20  # bytes
    """Largest payload :meth:`Plumtree.broadcast` accepts, and the largest one received (a
    larger GOSSIP is dropped, neither delivered nor forwarded, and counted)."""
    cache_bytes: int = 64 << 20  # bytes
    """Payload bytes the seen cache keeps to answer GRAFTs; past it the oldest payloads are
    dropped (their ids stay, so duplicates are still recognised)."""

    def __post_init__(self) -> None:
        for name, t in {
            "graft_timeout": self.graft_timeout,
            "graft_retry": self.graft_retry,
        }.items():
            if not (t > 0 and math.isfinite(t)):
                raise ConfigError(f"{name} must be a positive number of seconds, got {t}")
        if not (self.ihave_interval >= 0 and math.isfinite(self.ihave_interval)):
            raise ConfigError(f"ihave_interval must be >= 0 seconds, got {self.ihave_interval}")
        if self.graft_attempts < 1:
            raise ConfigError(f"graft_attempts must be >= 1, got {self.graft_attempts}")
        if self.ihave_batch < 1:
            raise ConfigError(f"ihave_batch must be >= 1, got {self.ihave_batch}")
        if self.seen_cache < 1:
            raise ConfigError(f"seen_cache must be >= 1, got {self.seen_cache}")
        if self.max_payload < 1:
            raise ConfigError(f"max_payload must be >= 1, got {self.max_payload}")
        if self.cache_bytes < self.max_payload:
            raise ConfigError(
                f"cache_bytes ({self.cache_bytes}) must hold one max_payload ({self.max_payload})"
            )

    @classmethod
    def lan(cls) -> PlumtreeConfig:
        """Sub-millisecond links: graft quickly."""
        return cls(graft_timeout=0.1, graft_retry=0.05, ihave_interval=0.01)

    @classmethod
    def wan(cls) -> PlumtreeConfig:
        """Links of 10-100 ms: a payload may take 20 such hops down the tree while its IHAVE
        comes by a short lazy path, so wait longer before grafting (else every deep message
        triggers a spurious GRAFT, and redundancy never settles)."""
        return cls(graft_timeout=1.5, graft_retry=0.5)

    def with_(self, **changes: object) -> PlumtreeConfig:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]
