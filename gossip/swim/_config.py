"""SWIM + Lifeguard configuration: one frozen dataclass, with memberlist's three presets."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from gossip._errors import ConfigError

__all__ = ["SwimConfig"]


@dataclass(frozen=True, kw_only=True, slots=True)
class SwimConfig:
    """Timings and limits of a SWIM + Lifeguard member. Durations are seconds (float).

    The presets :meth:`lan`, :meth:`wan` and :meth:`local` carry the values of HashiCorp
    memberlist's ``DefaultLANConfig``/``DefaultWANConfig``/``DefaultLocalConfig``, and the derived
    timings use memberlist's formulas (:meth:`suspicion_min`, :meth:`retransmit_limit`,
    :meth:`push_pull_period`). The Lifeguard refinements can be switched off one by one;
    :meth:`without_lifeguard` switches all of them off (plain SWIM, for comparison).
    """

    probe_interval: float = 1.0  # s, one probe per interval (scaled by local health)
    probe_timeout: float = 0.5  # s, wait for a direct ack before asking k others (scaled)
    indirect_checks: int = 3  # k, members asked to ping-req a silent target
    suspicion_mult: int = 4  # suspicion min = mult * max(1, log10 n) * probe_interval
    suspicion_max_timeout_mult: int = 6  # suspicion max = this * suspicion min (Lifeguard)
    retransmit_mult: int = 4  # each update is sent mult * ceil(log10(n + 1)) times
    gossip_nodes: int = 3  # members each dedicated gossip round sends to
    gossip_interval: float = 0.2  # s, between dedicated gossip rounds (0 disables them)
    # News reaching an idle member starts a gossip round at once, later rounds keep to the
    # ticker. memberlist waits for its next tick (U(0, gossip_interval) per hop of the epidemic);
    # the number of transmissions is the same (the retransmit limit), they only start earlier.
    eager_gossip: bool = True
    gossip_to_the_dead_time: float = 30.0  # s, dead members still get gossip, then are reaped
    push_pull_interval: float = 30.0  # s, full-state anti-entropy (0 disables it)
    # Close the link once our push-pull's reply has come (memberlist closes its push-pull
    # connection). Only for a host that runs SWIM alone: the link to a peer is shared by every
    # core of a Host (a Node's HyParView keeps its links open on purpose), so it is off by
    # default. Without it a link stays open, with keepalives, to every member we exchanged with.
    close_push_pull_links: bool = False
    awareness_max_multiplier: int = 8  # Lifeguard local health: timeouts scale by 1..this
    # A member a datagram came from during our last probe period is not pinged when its turn
    # comes: it was just seen alive (a departure from SWIM and memberlist, which always ping;
    # see docs/swim.md). Saves a ping and an ack per skipped probe; delays a detection by at
    # most one period, and only for a member that crashed within a period of its last datagram.
    # Only while our local health score is 0 (an answered probe is what lowers it).
    skip_heard_probes: bool = True
    # A failed probe makes its target suspect as soon as every helper asked to ping-req it has
    # nacked (each pinged it and heard nothing), instead of at the end of the period (memberlist
    # waits for the period's end). Only with nacks; see docs/swim.md.
    suspect_on_nacks: bool = True
    # Lifeguard refinements (each can be switched off to measure plain SWIM).
    dynamic_suspicion: bool = True  # timeout shrinks from max to min with confirmations
    buddy_system: bool = True  # a ping to a suspect carries the suspicion
    nacks: bool = True  # indirect probers nack when the target stays silent
    # Limits and extras.
    packet_budget: int = 1400  # bytes, a datagram with its piggybacked updates
    max_meta_bytes: int = 512  # bytes, member metadata (memberlist MetaMaxSize)
    rejoin_interval: float = 30.0  # s, re-contact seeds that are not alive (heals partitions)
    # While this member knows no other live member (at start, or left alone), its seeds are
    # re-contacted sooner: join_retry_interval after the first try, doubling (jittered +-20%) up
    # to join_retry_max, until one answers; then every rejoin_interval again. 0 disables it.
    join_retry_interval: float = 1.0  # s
    join_retry_max: float = 8.0  # s
    leave_timeout: float = 5.0  # s, longest wait for a leave to be disseminated
    # Caps against a peer that lists fake members (docs/security.md). Members known, tombstones
    # included: news of more is dropped (counted), a push-pull listing more is refused whole
    # (keep it equal on every node, above the cluster's size).
    max_members: int = 50_000
    # bytes: our own push-pull is cut to fit (self and live members first); keep it at most the
    # transport's max_frame_size (the default of both is 8 MiB).
    max_push_pull_bytes: int = 8 * 1024 * 1024

    def __post_init__(self) -> None:
        positive = {
            "probe_interval": self.probe_interval,
            "probe_timeout": self.probe_timeout,
            "gossip_to_the_dead_time": self.gossip_to_the_dead_time,
            "leave_timeout": self.leave_timeout,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ConfigError(f"{name} must be > 0, got {value!r}")
        if self.probe_timeout > self.probe_interval:
            raise ConfigError("probe_timeout must not exceed probe_interval")
        for name, v in {
            "gossip_interval": self.gossip_interval,
            "push_pull_interval": self.push_pull_interval,
            "rejoin_interval": self.rejoin_interval,
            "join_retry_interval": self.join_retry_interval,
        }.items():
            if v < 0:
                raise ConfigError(f"{name} must be >= 0 (0 disables), got {v!r}")
        for name, iv, lo in (
            ("indirect_checks", self.indirect_checks, 0),
            ("suspicion_mult", self.suspicion_mult, 1),
            ("suspicion_max_timeout_mult", self.suspicion_max_timeout_mult, 1),
            ("retransmit_mult", self.retransmit_mult, 1),
            ("gossip_nodes", self.gossip_nodes, 0),
            ("awareness_max_multiplier", self.awareness_max_multiplier, 1),
            ("max_meta_bytes", self.max_meta_bytes, 0),
        ):
            if iv < lo:
                raise ConfigError(f"{name} must be >= {lo}, got {iv!r}")
        if self.packet_budget < 256:
            raise ConfigError("packet_budget must be >= 256 bytes")
        if self.join_retry_interval > 0 and self.join_retry_max < self.join_retry_interval:
            raise ConfigError("join_retry_max must be >= join_retry_interval")
        if self.max_members < 2:
            raise ConfigError(f"max_members must be >= 2, got {self.max_members!r}")
        if self.max_push_pull_bytes < 1024 + self.max_meta_bytes:
            raise ConfigError("max_push_pull_bytes must be >= 1024 + max_meta_bytes")

    # -- presets -----------------------------------------------------------------------------

    @classmethod
    def lan(cls) -> SwimConfig:
        """memberlist ``DefaultLANConfig``: a data-centre LAN."""
        return cls()

    @classmethod
    def wan(cls) -> SwimConfig:
        """memberlist ``DefaultWANConfig``: slower probes, longer suspicion, one more gossip
        node."""
        return cls(
            suspicion_mult=6,
            push_pull_interval=60.0,
            probe_timeout=3.0,
            probe_interval=5.0,
            gossip_nodes=4,
            gossip_interval=0.5,
            gossip_to_the_dead_time=60.0,
            rejoin_interval=60.0,
            join_retry_interval=2.0,
            join_retry_max=16.0,
        )

    @classmethod
    def local(cls) -> SwimConfig:
        """memberlist ``DefaultLocalConfig``: one host (loopback)."""
        return cls(
            indirect_checks=1,
            retransmit_mult=2,
            suspicion_mult=3,
            push_pull_interval=15.0,
            probe_timeout=0.2,
            probe_interval=1.0,
            gossip_interval=0.1,
            gossip_to_the_dead_time=15.0,
            rejoin_interval=15.0,
            join_retry_interval=0.5,
            join_retry_max=4.0,
        )

    def without_lifeguard(self) -> SwimConfig:
        """The same timings as plain SWIM: no local health, fixed suspicion timeout, no buddy
        system, no nacks."""
        return replace(
            self,
            awareness_max_multiplier=1,
            suspicion_max_timeout_mult=1,
            dynamic_suspicion=False,
            buddy_system=False,
            nacks=False,
        )

    # -- derived timings (memberlist's formulas) ---------------------------------------------

    def suspicion_min(self, n: int) -> float:
        """``suspicion_mult * max(1, log10 n) * probe_interval`` (memberlist suspicionTimeout)."""
        return self.suspicion_mult * max(1.0, math.log10(max(1, n))) * self.probe_interval

    def suspicion_max(self, n: int) -> float:
        return self.suspicion_max_timeout_mult * self.suspicion_min(n)

    def expected_confirmations(self, n: int) -> int:
        """Lifeguard's K: ``suspicion_mult - 2`` independent suspicions expected, fewer in tiny
        clusters (memberlist: 0 when ``n - 2 < K``)."""
        k = self.suspicion_mult - 2
        return 0 if n - 2 < k else k

    def nack_timeout(self) -> float:
        """How long an indirect prober waits for the target's ack before it nacks:
        ``0.8 * min(probe_timeout, probe_interval - probe_timeout)``, so the nack lands inside the
        shortest indirect phase a healthy requester runs (``probe_interval - probe_timeout``).
        memberlist waits the whole ``probe_timeout``, which on the LAN preset (0.5 s of a 1 s
        period) lands the nack just after the requester stopped counting: every failed probe of
        a really dead member then raised a healthy prober's local health by the missing nacks.
        The 80% follows kinship and apple/swift-cluster-membership (PR #14)."""
        window = self.probe_interval - self.probe_timeout
        return 0.8 * (min(self.probe_timeout, window) if window > 0 else self.probe_timeout)

    def retransmit_limit(self, n: int) -> int:
        """``retransmit_mult * ceil(log10(n + 1))``: sends of each piggybacked update."""
        return self.retransmit_mult * math.ceil(math.log10(n + 1))

    def push_pull_period(self, n: int) -> float:
        """memberlist pushPullScale: the interval grows with log2 n beyond 32 members, so the
        cluster-wide rate of full-state exchanges stays bounded."""
        if n <= 32:
            return self.push_pull_interval
        mult = math.ceil(math.log2(n) - math.log2(32)) + 1
        return self.push_pull_interval * mult
