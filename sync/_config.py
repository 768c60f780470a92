"""Configuration of the sync engine: the synchronisation mode and its knobs, with presets."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sync._errors import ConfigError

__all__ = ["SyncConfig", "SyncMode"]


class SyncMode(enum.Enum):
    """Which algorithm ships state between neighbours (the comparison of Enes et al., ICDE 2019).

    - ``STATE``: every sync round sends the whole keyspace to every neighbour (no buffer, no acks).
    - ``DELTA``: classic delta-based sync (Almeida et al., JPDC 2018, Algorithm 2): a received
      delta-group that inflates the state is buffered *whole* and forwarded to every neighbour,
      including the one it came from.
    - ``DELTA_BP``: plus *avoid back-propagation*: buffer entries are tagged with their origin and
      never sent back to it.
    - ``DELTA_RR``: plus *remove redundant state*: on receipt only ``Δ(d, X)`` (``d.diff(X)``, per
      object) is joined and buffered.
    - ``DELTA_BP_RR``: both optimisations.
    - ``DEFAULT``: BP+RR, plus: a neighbour is not sent what it sent us since our last round to
      it (even when it reached us first from elsewhere); what an application should use.
    """

    STATE = "state"
    DELTA = "delta"
    DELTA_BP = "delta_bp"
    DELTA_RR = "delta_rr"
    DELTA_BP_RR = "delta_bp_rr"
    DEFAULT = "default"

    @property
    def bp(self) -> bool:
        return self in (SyncMode.DELTA_BP, SyncMode.DELTA_BP_RR, SyncMode.DEFAULT)

    @property
    def rr(self) -> bool:
        return self in (SyncMode.DELTA_RR, SyncMode.DELTA_BP_RR, SyncMode.DEFAULT)

    @property
    def known_filter(self) -> bool:
        """Beyond BP+RR: what a neighbour sent us since our last round to it is not sent back
        (BP generalised from origins to content; only the default mode)."""
        return self is SyncMode.DEFAULT

    @property
    def delta(self) -> bool:
        return self is not SyncMode.STATE


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncConfig:
    """Knobs of one :class:`~sync.SyncEngine`. Build with a preset and ``dataclasses.replace``."""

    mode: SyncMode = SyncMode.DEFAULT
    sync_interval: float = 1.0  # s, between two sync rounds (one timer per engine, not per object)
    max_message_bytes: int = 64 * 1024  # bytes, soft cap of one message (one object may exceed it)
    max_messages_per_round: int = 16  # messages per neighbour per round (deltas + catch-up)
    use_packets: bool = False  # send datagrams (lossy) instead of stream frames
    catchup_timeout: float = 3.0  # s without progress before a digest catch-up restarts
    merkle_leaf_threshold: int = 16  # keys: below this a differing subtree is sent as item hashes
    # keys per round hashed into the Merkle index ahead of any digest (0: only when one is read).
    # A replica built over a million objects then spreads ~11 s of hashing over its first rounds
    # (~11 ms each) instead of stalling on its first digest catch-up.
    merkle_prehash_per_round: int = 1024
    remembered_peers: int = 1024  # per-peer receive watermarks kept after the neighbour left
    # Caps on what one sender can make the engine hold or do (issue 12): each hit is counted.
    # bytes of one encoded object; a larger one is rejected undecoded (ObjectTooLargeError).
    # Objects bigger than a message ship in parts, so only a single oversized irreducible (or
    # state mode's whole objects) comes near it; decoding costs ~1 s per MiB at worst.
    max_object_bytes: int = 4 * 1024 * 1024
    max_early_hellos: int = 256  # Hellos held from senders that are not (yet) neighbours
    max_peer_metrics: int = 4096  # senders with their own PeerMetrics; others share "(others)"
    # s an unacknowledged interval (or catch-up objects) waits before it is sent again (0: every
    # round, as in the paper). New entries go out every round regardless; only the resend waits,
    # so acks slower than a round (a loaded machine, a disk commit before the ack) do not resend
    # it every round.
    resend_timeout: float = 0.0
    # s a received delta waits before it is relayed to a neighbour that is also a neighbour of
    # the one it came from (0: relayed to every other neighbour at once, as in the paper). That
    # neighbour should get it from the source directly, and says so in its Have reports (sent
    # each round while this is on): after the wait it is relayed only to those that did not
    # report it, so a dense overlay does not carry each delta n times over, while a source that
    # crashed before reaching a neighbour still has its deltas relayed. Neighbours that are not
    # the source's get it at once, as before.
    relay_hold: float = 0.0
    # bytes of our stream in flight (sent, not acknowledged) to one neighbour at most; while
    # that much is, new entries wait in the buffer, where the entries of one object join into
    # one delta (0: no bound, as in the paper). Needs resend_timeout > 0 (which also makes a
    # chunk go again only once it has been in flight longer than the adaptive timeout).
    max_inflight_bytes: int = 0

    def __post_init__(self) -> None:
        if not self.sync_interval > 0:
            raise ConfigError(f"sync_interval must be > 0 s, got {self.sync_interval!r}")
        if self.max_message_bytes < 256:
            raise ConfigError(f"max_message_bytes must be >= 256, got {self.max_message_bytes}")
        if self.max_messages_per_round < 1:
            raise ConfigError(
                f"max_messages_per_round must be >= 1, got {self.max_messages_per_round}"
            )
        if not self.catchup_timeout > 0:
            raise ConfigError(f"catchup_timeout must be > 0 s, got {self.catchup_timeout!r}")
        if self.merkle_leaf_threshold < 1:
            raise ConfigError(
                f"merkle_leaf_threshold must be >= 1, got {self.merkle_leaf_threshold}"
            )
        if self.merkle_prehash_per_round < 0:
            raise ConfigError(
                f"merkle_prehash_per_round must be >= 0, got {self.merkle_prehash_per_round}"
            )
        if self.max_object_bytes < 256:
            raise ConfigError(f"max_object_bytes must be >= 256, got {self.max_object_bytes}")
        if self.max_early_hellos < 0:
            raise ConfigError(f"max_early_hellos must be >= 0, got {self.max_early_hellos}")
        if self.max_peer_metrics < 1:
            raise ConfigError(f"max_peer_metrics must be >= 1, got {self.max_peer_metrics}")
        if self.remembered_peers < 0:
            raise ConfigError(f"remembered_peers must be >= 0, got {self.remembered_peers}")
        if not self.resend_timeout >= 0:
            raise ConfigError(f"resend_timeout must be >= 0 s, got {self.resend_timeout!r}")
        if not self.relay_hold >= 0:
            raise ConfigError(f"relay_hold must be >= 0 s, got {self.relay_hold!r}")
        if self.max_inflight_bytes < 0:
            raise ConfigError(f"max_inflight_bytes must be >= 0, got {self.max_inflight_bytes}")
        if self.max_inflight_bytes and not self.resend_timeout:
            raise ConfigError(
                "max_inflight_bytes needs resend_timeout > 0 (flight is tracked then)"
            )
        if not isinstance(self.mode, SyncMode):
            raise ConfigError(f"mode must be a SyncMode, got {self.mode!r}")

    @classmethod
    def lan(cls) -> SyncConfig:
        """A data-centre cluster: sync every 0.2 s, 256 KiB messages."""
        return cls(sync_interval=0.2, max_message_bytes=256 * 1024)

    @classmethod
    def wan(cls) -> SyncConfig:
        """Links across regions: sync every 1 s, 64 KiB messages, patient catch-up."""
        return cls(sync_interval=1.0, max_message_bytes=64 * 1024, catchup_timeout=10.0)

    @classmethod
    def paper(cls, mode: SyncMode) -> SyncConfig:
        """The ICDE 2019 micro-benchmarks: sync every 1 s, messages big enough for one round."""
        return cls(
            mode=mode, sync_interval=1.0, max_message_bytes=1 << 24, max_object_bytes=1 << 24
        )
