"""The complete example of docs/simulator.md, verbatim: the documented test must pass."""

from __future__ import annotations

import random
from dataclasses import dataclass

from gossip import Effect, Emit, Event, PacketReceived, SendPacket, SetTimer, TimerFired
from gossip.sim import LinkModel, SimConfig, Simulator, Uniform

RUMOUR = 0x70  # a tag from the "app" range


@dataclass(frozen=True)
class Heard:
    rumour: bytes


class Flood:
    """Forwards a rumour to every peer the first time it hears it; resends every second, so that
    packet loss is repaired."""

    protocol = "app"

    def __init__(self, addr: str, peers: list[str], rng: random.Random) -> None:
        self.addr, self.peers, self.rng = addr, peers, rng
        self.known: set[bytes] = set()

    def start(self, now: float) -> list[Effect]:
        return [SetTimer("resend", now + 1.0)]

    def publish(self, rumour: bytes, now: float) -> list[Effect]:  # a user command
        return self._learn(rumour)

    def _learn(self, rumour: bytes) -> list[Effect]:
        if rumour in self.known:
            return []
        self.known.add(rumour)
        return [Emit(Heard(rumour)), *self._push(rumour)]

    def _push(self, rumour: bytes) -> list[Effect]:
        return [SendPacket(p, bytes([RUMOUR]) + rumour) for p in self.peers if p != self.addr]

    def handle(self, event: Event, now: float) -> list[Effect]:
        if isinstance(event, PacketReceived) and event.data[:1] == bytes([RUMOUR]):
            return self._learn(event.data[1:])
        if isinstance(event, TimerFired):
            out: list[Effect] = [SetTimer("resend", now + 1.0)]
            for r in sorted(self.known):  # sorted: never iterate a set in hash order
                out += self._push(r)
            return out
        return []


def test_rumour_reaches_everyone_after_the_partition_heals() -> None:
    names = [f"n{i}" for i in range(20)]
    link = LinkModel(latency=Uniform(0.001, 0.020), loss=0.2, duplicate=0.01, reorder=0.05)
    sim = Simulator(seed=1234, config=SimConfig(link=link))
    for name in names:
        # The factory gets a NodeContext: addr, epoch (restart count), a per-node seeded rng.
        sim.add_node(name, lambda ctx: [Flood(ctx.addr, names, ctx.rng)])

    sim.partition(names[:10])  # n0..n9 | n10..n19
    sim.call("n0", "app", lambda now: sim.core("n0", "app").publish(b"hello", now))
    sim.run_for(5.0)
    assert not sim.emitted("n15")  # nothing crosses the cut
    sim.heal()
    sim.run_for(5.0)
    assert all(sim.emitted(n, "app") for n in names)
    assert sim.metrics().get("app", "dropped_msgs") > 0  # loss and the partition cost messages
