"""Configuration of the simulated network: the default link model and the simulator's switches."""

from __future__ import annotations

from dataclasses import dataclass, field

from gossip._errors import ConfigError
from gossip.sim._latency import Constant, Exponential, Latency, Uniform


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkModel:
    """How one directed link treats traffic.

    ``loss``, ``duplicate`` and ``reorder`` apply to packets only: streams model TCP, so they are
    reliable and ordered per direction (they fail as a whole, by crash or partition, never by
    dropping one frame).
    """

    latency: float | Latency = 0.001  # s (a number) or a callable (rng) -> s
    loss: float = 0.0  # probability that a packet is dropped
    duplicate: float = 0.0  # probability that a packet is delivered twice (independent delays)
    reorder: float = 0.0  # probability that a packet is held back by up to reorder_window
    reorder_window: float = (
        0.010  # s, the extra delay of a held-back packet is uniform in [0, this]
    )

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ConfigError(f"LinkModel.{name} is a probability in [0, 1], got {p!r}")
        if not self.reorder_window >= 0:
            raise ConfigError(f"LinkModel.reorder_window must be >= 0 s, got {self.reorder_window}")
        if isinstance(self.latency, int | float) and not self.latency >= 0:
            raise ConfigError(f"LinkModel.latency must be >= 0 s, got {self.latency}")
        if not isinstance(self.latency, int | float) and not callable(self.latency):
            raise ConfigError(
                f"LinkModel.latency must be seconds or a callable, got {self.latency}"
            )

    @classmethod
    def lan(cls) -> LinkModel:
        """A data-centre LAN: 0.2-1 ms, no loss."""
        return cls(latency=Uniform(0.0002, 0.001))

    @classmethod
    def wan(cls) -> LinkModel:
        """A lossy WAN: 20 ms plus an exponential tail of mean 10 ms, 1% loss, some reordering."""
        return cls(latency=Exponential(0.010, base=0.020), loss=0.01, reorder=0.01)

    @classmethod
    def ideal(cls) -> LinkModel:
        """1 ms constant, nothing lost: the easiest network to reason about in a test."""
        return cls(latency=Constant(0.001))


@dataclass(frozen=True, slots=True, kw_only=True)
class SimConfig:
    """Switches of one :class:`~gossip.sim.Simulator` run."""

    link: LinkModel = field(default_factory=LinkModel.ideal)  # every link without an override
    unreachable_delay: float = 0.5  # s, from a broken or refused stream to PeerUnreachable
    trace: bool = True  # record every event in Simulator.trace (switch off for big runs)
    digest_trace: bool = False  # keep a running SHA-256 of the trace (cheap in memory, not CPU)
    record_emits: bool = True  # keep every Emit in Simulator.emitted() (switch off for big runs)

    def __post_init__(self) -> None:
        if not self.unreachable_delay >= 0:
            raise ConfigError(f"unreachable_delay must be >= 0 s, got {self.unreachable_delay}")

    @classmethod
    def scale(cls, link: LinkModel | None = None) -> SimConfig:
        """For thousands of nodes: no trace, no kept emits (use ``on_emit`` to observe)."""
        return cls(link=link or LinkModel.lan(), trace=False, record_emits=False)
