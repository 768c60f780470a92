"""Same seed, same run, bit for bit; a different seed gives a different run."""

from __future__ import annotations

import pytest

from gossip import (
    Effect,
    Event,
    PacketReceived,
    SendPacket,
    SendStream,
    SetTimer,
    TimerFired,
    UsageError,
)
from gossip.sim import LinkModel, NodeContext, SimConfig, Simulator, Uniform

N = 12


class Chatter:
    """Pings a random peer every 0.1-0.3 s; answers pings, and streams to a random peer on each."""

    protocol = "app"

    def __init__(self, ctx: NodeContext) -> None:
        self.addr = ctx.addr
        self.rng = ctx.rng

    def start(self, now: float) -> list[Effect]:
        return [SetTimer("tick", now + self.rng.uniform(0.1, 0.3))]

    def _peer(self) -> str:
        return f"n{self.rng.randrange(N)}"

    def handle(self, event: Event, now: float) -> list[Effect]:
        if isinstance(event, TimerFired):
            return [
                SendPacket(self._peer(), b"\x70" + self.addr.encode()),
                SetTimer("tick", now + self.rng.uniform(0.1, 0.3)),
            ]
        if isinstance(event, PacketReceived) and event.data[0] == 0x70:
            return [SendPacket(event.src, b"\x71"), SendStream(self._peer(), b"\x72" + bytes(8))]
        return []


def run(seed: int, *, trace: bool = True, digest: bool = False) -> Simulator:
    link = LinkModel(latency=Uniform(0.001, 0.02), loss=0.1, duplicate=0.05, reorder=0.1)
    sim = Simulator(seed=seed, config=SimConfig(link=link, trace=trace, digest_trace=digest))
    for i in range(N):
        sim.add_node(f"n{i}", lambda ctx: [Chatter(ctx)])
    sim.set_slow("n3", 0.01)
    sim.schedule(2.0, lambda: sim.partition([f"n{i}" for i in range(4)]))
    sim.schedule(3.0, lambda: sim.crash("n5"))
    sim.schedule(4.0, sim.heal)
    sim.schedule(4.5, lambda: sim.restart("n5"))
    sim.run_for(6.0)
    return sim


def test_two_runs_with_one_seed_produce_identical_traces() -> None:
    s1, s2 = run(42), run(42)
    assert len(s1.trace) > 1000
    kinds = {e.kind for e in s1.trace}
    assert {"send", "recv", "drop", "timer", "unreachable", "crash", "restart"} <= kinds
    assert s1.trace == s2.trace
    assert s1.trace_digest() == s2.trace_digest()
    assert s1.metrics() == s2.metrics()


def test_a_different_seed_gives_a_different_trace() -> None:
    assert run(42).trace_digest() != run(43).trace_digest()


def test_a_running_digest_equals_the_digest_of_the_kept_trace_without_keeping_it() -> None:
    kept = run(42)

    lean = run(42, trace=False, digest=True)
    assert lean.trace_digest() == kept.trace_digest()
    with pytest.raises(UsageError):
        _ = lean.trace
    both = run(42, digest=True)
    assert both.trace == kept.trace and both.trace_digest() == kept.trace_digest()
