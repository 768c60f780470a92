"""Two replicas of a shopping cart, edited apart, then synced over a lossy channel until they agree.

``python -m examples`` (or ``bash scripts/demo.sh``) runs it. What it shows:

1. **Offline edits.** Alice's phone and laptop each edit their own copy of the cart
   (:class:`crdts.AWLWWMap`), with no network: both change the apples (a conflict), the phone
   removes the milk while the laptop raises its quantity (add-wins: the milk stays), and each adds
   items the other has not seen. Every edit returns a *delta*: a tiny cart holding just that edit.
2. **Back online, over a bad network.** Each replica keeps its deltas in a buffer numbered by
   sequence, and ships the join of everything its peer has not acknowledged (a *delta-interval*,
   Almeida et al. 2018, Algorithm 2) through an in-process channel that **drops, duplicates and
   reorders** messages. The receiver merges (idempotent, so duplicates are harmless) and acks;
   the sender forgets what was acked, and retransmits the rest on its next round.
3. **Convergence.** Both carts end equal, with the winner of every conflict decided the same way
   on both sides: causality first, then the larger ``(HLC timestamp, replica)``.

Everything is deterministic for a given ``--seed``.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from crdts import HLC, AWLWWMap, decode, encode

__all__ = ["Channel", "Replica", "main"]


@dataclass
class Replica:
    """One device: its cart, its clock, and the deltas its peer has not acknowledged yet."""

    name: str
    cart: AWLWWMap = field(default_factory=AWLWWMap)
    clock: HLC = field(init=False)
    buffer: dict[int, AWLWWMap] = field(default_factory=dict)  # seq -> delta
    next_seq: int = 1
    acked: int = 0  # the peer has merged every delta up to this seq
    bytes_sent: int = 0

    def __post_init__(self) -> None:
        self.clock = HLC(self.name)

    def put(self, item: str, qty: int, wall_ms: int) -> AWLWWMap:
        return self._keep(self.cart.put(self.name, item, qty, self.clock.now(wall_ms)))

    def remove(self, item: str) -> AWLWWMap:
        return self._keep(self.cart.remove(item))

    def _keep(self, delta: AWLWWMap) -> AWLWWMap:
        if not delta.is_bottom():
            self.buffer[self.next_seq] = delta
            self.next_seq += 1
        return delta

    def outgoing(self) -> tuple[int, bytes] | None:
        """The delta-interval the peer lacks: the join of the unacknowledged deltas."""
        if not self.buffer:
            return None
        group = AWLWWMap()
        for seq in sorted(self.buffer):
            group.merge(self.buffer[seq])
        wire = encode(group)
        self.bytes_sent += len(wire)
        return max(self.buffer), wire

    def receive(self, wire: bytes) -> None:
        self.cart.merge(decode(wire))

    def ack(self, upto: int) -> None:
        for seq in [s for s in self.buffer if s <= upto]:
            del self.buffer[seq]
        self.acked = max(self.acked, upto)


@dataclass
class Channel:
    """An in-process network that loses, duplicates and reorders messages (seeded)."""

    rng: random.Random
    loss: float
    dup: float
    queue: list[tuple[str, Callable[[], None]]] = field(default_factory=list)
    dropped: int = 0
    delivered: int = 0

    def send(self, what: str, deliver: Callable[[], None]) -> str:
        if self.rng.random() < self.loss:
            self.dropped += 1
            return "lost"
        self.queue.append((what, deliver))
        if self.rng.random() < self.dup:
            self.queue.append((what + " (duplicate)", deliver))
            return "sent twice"
        return "sent"

    def deliver_some(self) -> list[str]:
        """Deliver a random part of what is in flight, in random order."""
        self.rng.shuffle(self.queue)
        k = self.rng.randint(0, len(self.queue))
        now, self.queue = self.queue[:k], self.queue[k:]
        for _, deliver in now:
            deliver()
            self.delivered += 1
        return [what for what, _ in now]


def _show(r: Replica) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(r.cart.value.items())) or "(empty)"


def main(argv: Sequence[str] | None = None, out: Callable[[str], None] = print) -> int:
    """Run the demo; returns the exit status (0: the replicas converged)."""
    p = argparse.ArgumentParser(prog="python -m examples", description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=7, help="seed of the lossy channel")
    p.add_argument("--loss", type=float, default=0.3, help="probability a message is lost")
    p.add_argument("--dup", type=float, default=0.15, help="probability it is duplicated")
    p.add_argument("--max-rounds", type=int, default=50)
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    phone, laptop = Replica("alice-phone"), Replica("alice-laptop")
    t = 1_700_000_000_000  # the devices' wall clocks (ms); the laptop's runs 3 s behind

    out("deltamesh demo: one shopping cart on two devices, edited apart, synced over a bad network")
    out("")
    out("1. Both devices start from the same cart (synced before going offline)")
    phone.put("apple", 2, t)
    phone.put("milk", 1, t + 10)
    for seq, d in list(phone.buffer.items()):
        laptop.cart.merge(d)
        phone.ack(seq)
    out(f"   alice-phone : {_show(phone)}")
    out(f"   alice-laptop: {_show(laptop)}")
    out("")
    out("2. Offline edits (no network)")
    edits: list[tuple[Replica, str, Callable[[], AWLWWMap]]] = [
        (phone, "put apple=3", lambda: phone.put("apple", 3, t + 60_000)),
        (laptop, "put apple=6", lambda: laptop.put("apple", 6, t + 58_000)),
        (phone, "remove milk", lambda: phone.remove("milk")),
        (laptop, "put milk=2 ", lambda: laptop.put("milk", 2, t + 59_000)),
        (phone, "put bread=1", lambda: phone.put("bread", 1, t + 61_000)),
        (laptop, "put pears=4", lambda: laptop.put("pears", 4, t + 62_000)),
        (laptop, "remove pears", lambda: laptop.remove("pears")),
        (phone, "remove tea ", lambda: phone.remove("tea")),
    ]
    for r, what, edit in edits:
        delta = edit()
        size = "no-op (never saw it)" if delta.is_bottom() else f"delta of {len(encode(delta))} B"
        out(f"   {r.name:<12} {what:<13} -> {size}")
    out(f"   alice-phone : {_show(phone)}")
    out(f"   alice-laptop: {_show(laptop)}")
    out("")
    out(
        f"3. Back online: a channel that loses {args.loss:.0%} of messages and duplicates "
        f"{args.dup:.0%}, in any order"
    )
    net = Channel(rng, args.loss, args.dup)
    pair = {phone.name: laptop, laptop.name: phone}
    rounds = 0
    events: list[str] = []  # what happened this round (filled by sends and deliveries)
    while rounds < args.max_rounds:
        if phone.cart == laptop.cart and not phone.buffer and not laptop.buffer:
            break  # equal, and each knows the other has everything
        rounds += 1
        events.clear()
        for src in (phone, laptop):
            msg = src.outgoing()
            if msg is None:
                continue
            upto, wire = msg
            dst = pair[src.name]
            first = src.acked + 1

            def on_ack(src: Replica = src, upto: int = upto) -> None:
                old = src.acked >= upto
                src.ack(upto)
                what = "already known" if old else f"forgets its deltas up to {upto}"
                events.append(f"{src.name} gets ack {upto}: {what}")

            def deliver(
                src: Replica = src,
                dst: Replica = dst,
                wire: bytes = wire,
                upto: int = upto,
                on_ack: Callable[[], None] = on_ack,
            ) -> None:
                before = dst.cart.copy()
                dst.receive(wire)
                new = "cart updated" if dst.cart != before else "nothing new (merge is idempotent)"
                fate = net.send(f"ack {upto} -> {src.name}", on_ack)
                events.append(f"{dst.name} merges deltas ..{upto}: {new}; ack {upto} {fate}")

            fate = net.send(f"deltas ..{upto} -> {dst.name}", deliver)
            events.append(f"{src.name} sends deltas {first}..{upto} ({len(wire)} B): {fate}")
        net.deliver_some()
        out(f"   round {rounds}:")
        for e in events:
            out(f"      {e}")
    out("")
    same = phone.cart == laptop.cart
    out(f"4. After {rounds} rounds ({net.dropped} messages lost, {net.delivered} delivered):")
    out(f"   alice-phone : {_show(phone)}")
    out(f"   alice-laptop: {_show(laptop)}")
    sent = phone.bytes_sent + laptop.bytes_sent
    out(f"   bytes of deltas sent, retransmissions included: {sent}")
    if not same:
        out("   NOT converged (raise --max-rounds)")
        return 1
    v = phone.cart.value
    out("   converged: both carts are equal.")
    out(f"   apple={v.get('apple')}: the concurrent edits were decided by (HLC timestamp, replica)")
    out(f"   milk={v.get('milk')}: the laptop's concurrent update survived the phone's remove")
    out("          (add-wins: a remove deletes only the entries it has seen)")
    out("   pears: removed by the device that had seen it")
    return 0
