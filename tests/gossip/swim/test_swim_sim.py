"""SWIM + Lifeguard protocol scenarios in the deterministic simulator (virtual time, seeded)."""

from __future__ import annotations

from gossip import StreamReceived
from gossip.sim import LinkModel, NodeContext, SimConfig, Simulator
from gossip.swim import (
    LeaveCompleted,
    MemberDead,
    MemberJoined,
    MemberLeft,
    MemberReaped,
    MemberRecovered,
    MemberState,
    MemberSuspected,
    SwimConfig,
    SwimCore,
)
from gossip.swim._messages import PushPull, encode_push_pull


def names(n: int) -> list[str]:
    return [f"n{i}" for i in range(n)]


def cluster(
    n: int,
    seed: int = 1,
    config: SwimConfig | None = None,
    link: LinkModel | None = None,
    seeds: tuple[str, ...] = ("n0",),
    trace: bool = False,
) -> Simulator:
    cfg = config or SwimConfig.lan()
    sim = Simulator(seed=seed, config=SimConfig(link=link or LinkModel.lan(), trace=trace))

    def factory(ctx: NodeContext) -> list[SwimCore]:
        return [SwimCore(ctx.addr, cfg, ctx.rng, seeds=seeds)]

    for a in names(n):
        sim.add_node(a, factory)
    assert sim.run_until_true(lambda: all_see(sim, names(n), names(n)), 30.0)
    return sim


def swim(sim: Simulator, addr: str) -> SwimCore:
    return sim.core(addr, SwimCore)


def all_see(sim: Simulator, viewers: list[str], alive: list[str]) -> bool:
    want = set(alive)
    return all(set(swim(sim, v).alive()) == want for v in viewers)


def events(sim: Simulator, kind: type, about: str | None = None) -> list[tuple[float, str, object]]:
    return [
        (r.time, r.node, r.event)
        for r in sim.emitted(protocol="swim")
        if isinstance(r.event, kind) and (about is None or getattr(r.event, "addr", None) == about)
    ]


def test_join_through_a_seed_and_idle_cluster_stays_quiet() -> None:
    sim = cluster(10)
    start = sim.now
    sim.run_for(60.0)
    assert events(sim, MemberSuspected) == []
    assert events(sim, MemberDead) == []
    # Idle: per member per second, about one ping and one ack each way (SWIM's constant load).
    sent = sim.metrics().get("swim", "sent_msgs")
    assert len(events(sim, MemberJoined)) == 10 * 9  # everyone saw everyone join, once
    sim.run_for(60.0)
    per_member_per_s = (sim.metrics().get("swim", "sent_msgs") - sent) / 10 / 60.0
    assert 1.8 <= per_member_per_s <= 2.6
    assert sim.now > start


def test_dead_after_the_suspicion_timeout() -> None:
    sim = cluster(10)
    sim.crash("n5")
    crashed_at = sim.now
    survivors = [a for a in names(10) if a != "n5"]
    assert sim.run_until_true(
        lambda: all(swim(sim, v).member("n5").state == MemberState.DEAD for v in survivors),  # type: ignore[union-attr]
        60.0,
    )
    first_suspect = min(t for t, _, _ in events(sim, MemberSuspected, "n5"))
    first_dead = min(t for t, _, _ in events(sim, MemberDead, "n5"))
    cfg = SwimConfig.lan()
    assert first_suspect - crashed_at <= 2 * 10 * cfg.probe_interval
    # Never sooner than the Lifeguard minimum: suspicion_mult * max(1, log10 n) * interval.
    assert first_dead - first_suspect >= cfg.suspicion_min(10) - 1e-9
    dead_nodes = {who for _, who, _ in events(sim, MemberDead, "n5")}
    assert dead_nodes == set(survivors)
    assert [e for e in events(sim, MemberDead) if e[2].addr != "n5"] == []  # type: ignore[attr-defined]


def test_indirect_probe_saves_a_member_behind_a_broken_link() -> None:
    sim = cluster(8)
    sim.set_link("n0", "n1", LinkModel(latency=0.001, loss=1.0))
    sim.run_for(60.0)
    assert swim(sim, "n0").stats["ping_reqs_sent"] > 0
    assert events(sim, MemberSuspected) == []
    assert all_see(sim, names(8), names(8))


def test_suspect_then_refute() -> None:
    sim = cluster(8)
    others = [a for a in names(8) if a != "n3"]
    sim.partition(["n3"], others)
    assert sim.run_until_true(lambda: bool(events(sim, MemberSuspected, "n3")), 10.0)
    sim.heal()
    sim.run_for(30.0)
    assert swim(sim, "n3").incarnation >= 1  # it raised its incarnation to refute
    assert events(sim, MemberRecovered, "n3")
    assert events(sim, MemberDead) == []
    assert all_see(sim, names(8), names(8))


def test_buddy_system_refutes_faster_than_gossip_alone() -> None:
    def time_to_recover(cfg: SwimConfig) -> float:
        sim = cluster(16, seed=3, config=cfg)
        others = [a for a in names(16) if a != "n3"]
        sim.partition(["n3"], others)
        assert sim.run_until_true(lambda: bool(events(sim, MemberSuspected, "n3")), 20.0)
        # Let the suspicion spread while n3 is cut off; then stop all dedicated gossip so only
        # probes can reach n3 (ping carrying the suspicion, or piggybacks on whatever it gets).
        healed = sim.now
        sim.heal()
        assert sim.run_until_true(lambda: swim(sim, "n3").incarnation >= 1, 30.0)
        return sim.now - healed

    lifeguard = SwimConfig(gossip_interval=0.0)
    plain = SwimConfig(gossip_interval=0.0, buddy_system=False)
    assert time_to_recover(lifeguard) <= time_to_recover(plain)


def test_partition_then_heal_merges_again() -> None:
    sim = cluster(10, seeds=("n0", "n5"))
    a, b = names(10)[:5], names(10)[5:]
    sim.partition(a, b)
    # Long enough for each side to declare the other dead and reap it.
    assert sim.run_until_true(lambda: all_see(sim, a, a) and all_see(sim, b, b), 60.0)
    sim.run_for(45.0)
    assert events(sim, MemberReaped)
    sim.heal()
    assert sim.run_until_true(lambda: all_see(sim, names(10), names(10)), 120.0)


def test_restart_comes_back_with_a_higher_incarnation() -> None:
    sim = cluster(8)
    sim.crash("n3")
    survivors = [a for a in names(8) if a != "n3"]
    assert sim.run_until_true(
        lambda: all(swim(sim, v).member("n3").state == MemberState.DEAD for v in survivors),  # type: ignore[union-attr]
        60.0,
    )
    dead_inc = swim(sim, "n0").member("n3").incarnation  # type: ignore[union-attr]
    restarted = sim.now
    sim.restart("n3")  # a fresh core at incarnation 0 that joins through its seed
    assert sim.run_until_true(lambda: all_see(sim, names(8), names(8)), 60.0)
    assert swim(sim, "n3").incarnation > dead_inc
    rejoined = [who for t, who, _ in events(sim, MemberJoined, "n3") if t >= restarted]
    assert set(rejoined) == set(survivors)


def test_graceful_leave() -> None:
    sim = cluster(8)
    sim.call("n4", "swim", lambda now: swim(sim, "n4").leave(now))
    sim.run_for(10.0)
    assert [e for _, who, e in events(sim, LeaveCompleted) if who == "n4"] == [LeaveCompleted(True)]
    rest = [a for a in names(8) if a != "n4"]
    assert {who for _, who, _ in events(sim, MemberLeft, "n4")} == set(rest)
    assert all(swim(sim, v).member("n4").state == MemberState.LEFT for v in rest)  # type: ignore[union-attr]
    assert events(sim, MemberSuspected) == []
    sim.crash("n4")  # the driver stops the node after LeaveCompleted
    sim.run_for(20.0)
    assert events(sim, MemberDead) == []


def test_reaping_and_tombstones() -> None:
    sim = cluster(6)
    sim.crash("n2")
    survivors = [a for a in names(6) if a != "n2"]
    assert sim.run_until_true(
        lambda: all(swim(sim, v).member("n2").state == MemberState.DEAD for v in survivors),  # type: ignore[union-attr]
        60.0,
    )
    inc = swim(sim, "n0").member("n2").incarnation  # type: ignore[union-attr]
    # While tombstoned, a stale full state that still says "alive" cannot bring it back.
    stale = encode_push_pull(PushPull(False, True, (("n2", inc, int(MemberState.ALIVE), b""),)))
    sim.call("n0", "swim", lambda now: swim(sim, "n0").handle(StreamReceived("n1", stale), now))
    assert swim(sim, "n0").member("n2").state == MemberState.DEAD  # type: ignore[union-attr]
    ttl = SwimConfig.lan().gossip_to_the_dead_time
    assert sim.run_until_true(
        lambda: all(swim(sim, v).member("n2") is None for v in survivors), ttl + 30.0
    )
    reaped = {who for _, who, _ in events(sim, MemberReaped, "n2")}
    assert reaped == set(survivors)
    assert all_see(sim, survivors, survivors)


def test_member_flapping_under_load() -> None:
    sim = cluster(16, seed=5, link=LinkModel(latency=0.001, loss=0.1))
    flapper = "n7"
    for _ in range(6):  # 2 minutes: 10 s slow (handling each message 0.6 s late), 10 s fine
        sim.set_slow(flapper, 0.6)
        sim.run_for(10.0)
        sim.set_slow(flapper, 0.0)
        sim.run_for(10.0)
    sim.run_for(30.0)
    healthy = [a for a in names(16) if a != flapper]
    # No healthy member ever saw another healthy one dead (the flapper's own view lags behind its
    # backlog, so what it concludes while overloaded is its business); at the end all are back.
    wrong = [
        (t, who, e)
        for t, who, e in events(sim, MemberDead)
        if who in healthy and e.addr != flapper  # type: ignore[attr-defined]
    ]
    assert wrong == []
    assert all_see(sim, names(16), names(16))
    assert events(sim, MemberSuspected, flapper)  # it did flap


def test_lifeguard_local_health_rises_on_a_slow_member() -> None:
    sim = cluster(12, seed=2)
    sim.set_slow("n4", 1.5)
    seen = 0
    for _ in range(40):
        sim.run_for(1.0)
        seen = max(seen, swim(sim, "n4").awareness)
    assert seen >= 2
    assert max(swim(sim, a).awareness for a in names(12) if a != "n4") <= 1


def test_same_seed_same_run() -> None:
    def digest(seed: int) -> str:
        sim = cluster(6, seed=seed, link=LinkModel(latency=0.001, loss=0.05), trace=True)
        sim.crash("n2")
        sim.run_for(40.0)
        return sim.trace_digest()

    assert digest(11) == digest(11)
    assert digest(11) != digest(12)


def test_healthy_probers_of_a_crashed_member_keep_their_local_health() -> None:
    # Lifeguard: every relay of a healthy prober nacks the silent target in time, so a real
    # crash must not raise the prober's local health multiplier (nacks that land after the
    # period ends count as missing: +3 per failed probe, and slower probing afterwards).
    sim = cluster(12, seed=3)
    sim.run_for(35.0)  # the join gossip has drained
    t0 = sim.now
    sim.crash("n5")
    worst = 0
    while sim.now < t0 + 15.0:
        sim.run_for(0.1)
        worst = max(worst, *(swim(sim, a).awareness for a in names(12) if a != "n5"))
    own = [
        ev
        for _, node, ev in events(sim, MemberSuspected, "n5")
        if isinstance(ev, MemberSuspected) and ev.by == node
    ]
    assert own  # some member's own probe failed
    assert worst == 0


def test_a_suspicion_spreads_within_a_gossip_interval_per_hop() -> None:
    # From the first suspicion to the median member's: the epidemic's first hops. With the
    # dedicated gossip ticking at a random phase per member (memberlist's ticker), a hop waits
    # U(0, gossip_interval); one that waits a whole interval every hop takes >= 0.2 s here.
    spreads = []
    for seed in range(1, 7):
        sim = cluster(20, seed=seed)
        sim.run_for(35.0)
        sim.crash("n7")
        sim.run_for(10.0)
        firsts: dict[str, float] = {}
        for t, node, _ in events(sim, MemberSuspected, "n7"):
            firsts.setdefault(node, t)
        times = sorted(firsts.values())
        assert len(times) == 19
        spreads.append(times[len(times) // 2] - times[0])
    assert sum(spreads) / len(spreads) < 0.2


def test_fewer_than_two_datagrams_per_member_at_rest_and_crashes_still_found_fast() -> None:
    """A member heard from during the last period is not pinged (its datagram showed it alive):
    12 members at rest send fewer than SWIM's 2 datagrams per member per second (one ping, one
    ack), without a false suspicion, and a crash is still dead at every survivor within one
    period of the suspicion timeout after its first suspicion."""
    cfg = SwimConfig.lan()
    sim = cluster(12, seed=5, config=cfg)
    sim.run_for(40.0)  # the join gossip has drained
    packets = sum(swim(sim, a).stats["packets_sent"] for a in names(12))
    sim.run_for(120.0)
    rate = (sum(swim(sim, a).stats["packets_sent"] for a in names(12)) - packets) / 12 / 120.0
    assert rate < 1.9  # 2.0 when every turn is a ping
    assert sum(swim(sim, a).stats["probes_skipped"] for a in names(12)) > 0
    assert events(sim, MemberSuspected) == [] and events(sim, MemberDead) == []
    min_s = cfg.suspicion_min(12)
    for victim in ("n3", "n8"):
        t0 = sim.now
        sim.crash(victim)
        sim.run_for(30.0)
        own = [t for t, node, ev in events(sim, MemberSuspected, victim) if ev.by == node]  # type: ignore[attr-defined]
        dead = {node: t for t, node, _ in events(sim, MemberDead, victim)}
        survivors = [a for a in names(12) if sim.is_alive(a)]
        assert sorted(dead) == sorted(survivors)
        # Found within a few periods; dead everywhere at the suspicion timeout (the
        # confirmations came in time) plus one gossip hop or so.
        assert min(own) - t0 < 6.0
        assert max(dead.values()) - min(own) < min_s + 0.1
    assert [ev.addr for _, _, ev in events(sim, MemberDead)] == ["n3"] * 11 + ["n8"] * 10  # type: ignore[attr-defined]
    assert {ev.addr for _, _, ev in events(sim, MemberSuspected)} == {"n3", "n8"}  # type: ignore[attr-defined]


def test_push_pull_links_are_closed_after_the_exchange_when_asked() -> None:
    """A host running SWIM alone closes each push-pull's link once the reply came (memberlist
    closes its push-pull connection): no link lingers with keepalives, membership is the same."""

    def links(sim: Simulator) -> int:
        return sum(len(sim.connections(a)) for a in names(8))

    cfg = SwimConfig(push_pull_interval=5.0, close_push_pull_links=True)
    sim = cluster(8, seed=2, config=cfg)
    sim.run_for(61.0)  # about 12 exchanges per member
    assert links(sim) <= 2 * 2  # only exchanges still under way, if any
    pulls = sum(swim(sim, a).stats["streams_received"] for a in names(8))
    assert pulls >= 8 * 10
    sim.crash("n3")
    sim.run_for(30.0)
    survivors = [a for a in names(8) if a != "n3"]
    assert all_see(sim, survivors, survivors)
    dead = [ev for _, _, ev in events(sim, MemberDead)]
    assert len(dead) == 7 and all(isinstance(ev, MemberDead) and ev.addr == "n3" for ev in dead)
    # Left open (the default), the links accumulate: one per pair that ever exchanged.
    sim = cluster(8, seed=2, config=SwimConfig(push_pull_interval=5.0))
    sim.run_for(61.0)
    assert links(sim) > 2 * 8
