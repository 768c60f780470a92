"""The deterministic network simulator: many nodes, virtual time, one seed, the real cores.

Write a test for your own protocol core::

    from gossip.sim import Simulator, SimConfig, LinkModel, Uniform

    sim = Simulator(seed=1, config=SimConfig(link=LinkModel(latency=Uniform(0.001, 0.005))))
    for name in ("a", "b", "c"):
        sim.add_node(name, lambda ctx: [MyCore(ctx.addr, rng=ctx.rng)])
    sim.call("a", "app", lambda now: sim.core("a", "app").broadcast(b"hello", now))
    sim.run_for(2.0)
    assert all(sim.emitted(n, "app") for n in ("b", "c"))

See ``docs/simulator.md`` for the network model and the determinism guarantees. Sans-I/O: this
package imports nothing but the standard library and ``gossip``'s event model.
"""

from __future__ import annotations

from gossip.sim._config import LinkModel, SimConfig
from gossip.sim._latency import Constant, Exponential, Latency, Uniform, as_latency
from gossip.sim._metrics import COUNTERS, PROTOCOLS, Metrics
from gossip.sim._node import CoreFactory, NodeContext
from gossip.sim._simulator import Simulator
from gossip.sim._trace import EmitRecord, TraceDigest, TraceEvent, trace_digest

__all__ = [
    "COUNTERS",
    "PROTOCOLS",
    "Constant",
    "CoreFactory",
    "EmitRecord",
    "Exponential",
    "Latency",
    "LinkModel",
    "Metrics",
    "NodeContext",
    "SimConfig",
    "Simulator",
    "TraceDigest",
    "TraceEvent",
    "Uniform",
    "as_latency",
    "trace_digest",
]
