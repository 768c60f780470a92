"""The receive path's shortcuts change nothing a peer or a user can see: a received delta that was
all new is buffered with the bytes it came in (byte-identical to encoding it again), one that was
partly known is still reduced to what was new (RR), a type's ``absorb`` is used when it has one,
and the relay hold decided once per message still counts and drops per object."""

from __future__ import annotations

import json
import random
from typing import Any, Self

import crdts
from gossip._events import Effect, SendStream, StreamReceived
from sync import SyncConfig, SyncEngine, SyncMode
from sync._messages import Ack, Delta, Have, decode_message, encode_message

_Mut = Any  # a function (x, rng, replica, ts) -> the delta of one mutation of x


def _mutations() -> dict[type, list[_Mut]]:
    def put(m: Any, rng: random.Random, r: str, ts: int) -> Any:
        return m.put(r, f"f{rng.randrange(6)}", rng.choice([ts, "v" * rng.randrange(9), 1.5]), ts)

    def remove_field(m: Any, rng: random.Random, r: str, ts: int) -> Any:
        return m.remove(f"f{rng.randrange(6)}")

    return {
        crdts.AWLWWMap: [put, put, put, remove_field],
        crdts.ORSet: [
            lambda s, rng, r, ts: s.add(r, rng.randrange(8)),
            lambda s, rng, r, ts: s.remove(rng.randrange(8)),
        ],
        crdts.GSet: [lambda s, rng, r, ts: s.add(rng.randrange(50))],
        crdts.PNCounter: [
            lambda c, rng, r, ts: c.increment(r, rng.randrange(1, 5)),
            lambda c, rng, r, ts: c.decrement(r, 1),
        ],
        crdts.LWWRegister: [lambda g, rng, r, ts: g.set(r, rng.randrange(100), ts)],
        crdts.MVRegister: [lambda g, rng, r, ts: g.set(r, rng.randrange(100))],
    }


def _deltas(out: list[Effect]) -> list[tuple[str, Delta]]:
    res = []
    for e in out:
        if isinstance(e, SendStream):
            msg = decode_message(e.data)
            if isinstance(msg, Delta):
                res.append((e.dst, msg))
    return res


def _counting_encode(eng: SyncEngine) -> list[int]:
    calls: list[int] = []
    encode = eng._encode

    def counting(x: Any) -> bytes:
        calls.append(1)
        return encode(x)

    eng._encode = counting
    return calls


def test_an_all_new_delta_is_buffered_with_its_received_bytes_byte_identical() -> None:
    # Two writers' random histories over every kind of type reach a receiver b (which has a
    # third neighbour, so it buffers what it receives). A delta that was all new to b is
    # buffered with the very bytes it came in, not encoded again, and those equal encoding it
    # again; every other buffered delta (partly known: a superseding put whose context b has)
    # is encoded once.
    rng = random.Random(7)
    writers = {
        n: SyncEngine(n, SyncConfig(), random.Random(n), epoch=i + 1) for i, n in enumerate("ax")
    }
    b = SyncEngine("b", SyncConfig(), random.Random("b"), epoch=9)
    for w in writers.values():
        w.neighbor_up("b", 0.0)
    for n in ("c", *writers):
        b.neighbor_up(n, 0.0)
    calls = _counting_encode(b)
    received: list[bytes] = []  # what b decoded, by identity
    decode = b._decode

    def recording(data: bytes) -> Any:
        received.append(data)
        return decode(data)

    b._decode = recording
    muts = _mutations()
    keys = [(f"{t.__name__}:{i}", t) for t in muts for i in range(40)]
    reused = encoded = 0
    now = 0.0
    for step in range(400):
        name = rng.choice("ax")
        w = writers[name]
        for _ in range(rng.randrange(1, 4)):
            key, t = rng.choice(keys)
            mut = rng.choice(muts[t])
            ts = step + 1

            def mutator(x: Any, m: _Mut = mut, n: str = name, ts: int = ts) -> Any:
                return m(x, rng, n, ts)

            w.update(key, mutator, create=t)
        now += 1.0
        for dst, msg in _deltas(w.sync_now(now)):
            assert dst == "b"
            before = b.buffer_size
            del calls[:], received[:]
            b.handle(StreamReceived(name, encode_message(msg)), now)
            entries = list(b._buf)[before:]
            as_received = [e for e in entries if any(e.enc is r for r in received)]
            assert len(calls) == len(entries) - len(as_received)
            for e in entries:
                assert e.enc == crdts.encode(e.delta)  # byte-identical to encoding it again
            reused += len(as_received)
            encoded += len(entries) - len(as_received)
            w.handle(StreamReceived("b", encode_message(Ack(msg.epoch, msg.lo, msg.hi))), now)
        b._peers["c"].ack.add(b._base, b.seq)  # c acks everything: the buffer is collected
        b.sync_now(now)
    assert reused > 200 and encoded > 20, (reused, encoded)
    for key, _ in keys:  # b holds the join of both writers' states
        xs = [x for x in (writers["a"].get(key), writers["x"].get(key)) if x is not None]
        if xs:
            assert b.get(key) == (xs[0].join(xs[1]) if len(xs) == 2 else xs[0])


def test_a_partly_known_delta_is_still_reduced_to_what_was_new() -> None:
    # RR: b already holds the put of f1 (same dot); a delta carrying f1 and f2 is buffered and
    # relayed as f2 alone, encoded for what it is, not the bytes it came in
    a = crdts.AWLWWMap()
    d1 = a.put("a", "f1", 1, 1)
    d2 = a.put("a", "f2", 2, 2)
    both = d1.join(d2)
    b = SyncEngine("b", SyncConfig(mode=SyncMode.DELTA_RR))
    b.neighbor_up("c", 0.0)
    b.neighbor_up("a", 0.0)
    data1 = crdts.encode(d1)
    b.handle(StreamReceived("a", encode_message(Delta(5, 1, 2, [("k", data1)]))), 0.0)
    old = b.get("k")
    assert old is not None
    old = old.copy()
    data = crdts.encode(both)
    b.handle(StreamReceived("a", encode_message(Delta(5, 2, 3, [("k", data)]))), 0.0)
    entries = list(b._buf)
    assert [e.enc for e in entries[:1]] == [data1]  # the first was all new: as received
    last = entries[-1]
    assert last.delta == both.diff(old) and last.delta.value == {"f2": 2}
    assert last.enc == crdts.encode(last.delta) != data
    # and that is what c gets
    sent = _deltas(b.sync_now(1.0))
    to_c = [dict(m.objects)["k"] for dst, m in sent if dst == "c"]
    assert to_c and crdts.decode(to_c[0]).value == {"f1": 1, "f2": 2}  # joined interval
    assert crdts.decode(to_c[0]) == d1.join(last.delta)


class Bag:
    """A grow-only set with ``absorb``: a CRDT of this test's own (json codec)."""

    absorbed = 0

    def __init__(self, items: frozenset[int] = frozenset()) -> None:
        self.items = set(items)

    @property
    def value(self) -> frozenset[int]:
        return frozenset(self.items)

    def copy(self) -> Self:
        return type(self)(frozenset(self.items))

    def merge(self, other: Self) -> None:
        self.items |= other.items

    def join(self, other: Self) -> Self:
        x = self.copy()
        x.merge(other)
        return x

    def leq(self, other: Self) -> bool:
        return self.items <= other.items

    def decompose(self) -> list[Self]:
        return [type(self)(frozenset({i})) for i in self.items]

    def diff(self, other: Self) -> Self:
        return type(self)(frozenset(self.items - other.items))

    def absorb(self, d: Self) -> Self | None:
        Bag.absorbed += 1
        new = d.items - self.items
        if not new:
            return None
        self.items |= new
        return d if len(new) == len(d.items) else type(self)(frozenset(new))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Bag) and self.items == other.items

    __hash__ = None  # type: ignore[assignment]


class PlainBag(Bag):
    absorb = None  # type: ignore[assignment]


def _codec(t: type[Bag]) -> tuple[Any, Any]:
    return (lambda x: json.dumps(sorted(x.items)).encode(), lambda b: t(frozenset(json.loads(b))))


def test_a_type_with_absorb_is_joined_by_it_and_one_without_by_leq_diff_merge() -> None:
    for t in (Bag, PlainBag):
        b = SyncEngine("b", SyncConfig(mode=SyncMode.DELTA_RR), codec=_codec(t))
        b.neighbor_up("c", 0.0)
        calls = _counting_encode(b)
        Bag.absorbed = 0
        objs = [("k", b"[1, 2]"), ("k", b"[2, 3]"), ("k", b"[3]"), ("j", b"[5]")]
        b.handle(StreamReceived("a", encode_message(Delta(5, 1, 2, objs))), 0.0)
        assert Bag.absorbed == (2 if t is Bag else 0)  # the first object of k created it
        assert b.value("k") == frozenset({1, 2, 3}) and b.value("j") == frozenset({5})
        got = [(e.key, e.delta.value, e.enc) for e in b._buf]
        assert got == [
            ("k", frozenset({1, 2}), b"[1, 2]"),  # new key: as received
            ("k", frozenset({3}), b"[3]"),  # only what was new, encoded ([3] was a repeat)
            ("j", frozenset({5}), b"[5]"),
        ]
        assert len(calls) == 1


def _mesh(hold: float = 1.0) -> dict[str, SyncEngine]:
    cfg = SyncConfig(relay_hold=hold, resend_timeout=1.0)
    engines = {n: SyncEngine(n, cfg, random.Random(n), epoch=i + 1) for i, n in enumerate("abc")}
    for n, e in engines.items():
        for m in engines:
            if m != n:
                e.neighbor_up(m, 0.0)
    return engines


def test_the_relay_hold_decided_per_message_counts_and_drops_per_object() -> None:
    b = _mesh()["b"]
    # a and c are neighbours of each other (their Have reports say so): b holds a's deltas for c
    b.handle(StreamReceived("a", encode_message(Have([("b", 2, 0), ("c", 3, 0)], 1, 0))), 0.0)
    b.handle(StreamReceived("c", encode_message(Have([("a", 1, 0), ("b", 2, 0)], 3, 0))), 0.0)
    objs = [(f"k{i}", crdts.encode(_one(i))) for i in range(3)]
    b.handle(StreamReceived("a", encode_message(Delta(1, 1, 4, objs))), 0.1)
    assert b.metrics.relays_held == 3 and b.buffer_size == 0  # every neighbour waits
    assert b.objects_pending() == 3
    # c reports holding a's stream up to 4: nothing is relayed, nothing is pending
    b.handle(StreamReceived("c", encode_message(Have([("a", 1, 4), ("b", 2, 0)], 3, 0))), 0.2)
    out = b.sync_now(0.3)
    assert _deltas(out) == [] and b.objects_pending() == 0 and b.metrics.relays_late == 0
    # a second message, never reported by c: relayed late after the hold, all of it at once,
    # as received (all of it was new)
    objs2 = [(f"k{i}", crdts.encode(_one(10 + i))) for i in range(3)]
    b.handle(StreamReceived("a", encode_message(Delta(1, 4, 7, objs2))), 0.5)
    assert b.metrics.relays_held == 6 and b.objects_pending() == 3
    assert _deltas(b.sync_now(1.0)) == []  # still within the hold
    late = _deltas(b.sync_now(1.6))
    assert [dst for dst, _ in late] == ["c"] and b.metrics.relays_late == 3
    assert sorted(late[0][1].objects) == sorted(objs2)


def _one(v: int) -> crdts.GSet:
    g = crdts.GSet()
    g.add(v)
    return g


def test_received_deltas_join_a_lazy_state_before_and_after_everything_stored_is_decoded() -> None:
    from sync._lazy import LazyState

    stored = _one(1)
    state = LazyState({"old": crdts.encode(stored)}, crdts.decode)
    b = SyncEngine("b", SyncConfig(), state=state)
    b.neighbor_up("c", 0.0)
    # "old" is still encoded: the receive path decodes it (its LazyState lookup) and joins
    b.handle(
        StreamReceived("a", encode_message(Delta(5, 1, 2, [("old", crdts.encode(_one(2)))]))), 0.0
    )
    assert not state.raw and b.value("old") == frozenset({1, 2})
    # nothing left to decode: plain dict lookups from now on, with the same result
    objs = [("old", crdts.encode(_one(3))), ("new", crdts.encode(_one(4)))]
    b.handle(StreamReceived("a", encode_message(Delta(5, 2, 3, objs))), 0.0)
    assert b.value("old") == frozenset({1, 2, 3}) and b.value("new") == frozenset({4})
    assert state.decoded == 1 and [e.key for e in b._buf] == ["old", "old", "new"]


def test_a_delta_only_its_origin_neighbours_is_not_buffered_and_still_reaches_a_newcomer() -> None:
    # b's only neighbour is the origin a (BP): a buffer entry would be acknowledged unsent and
    # collected, so none is made; x, b's neighbour before, comes back and is caught up by index.
    from tests.sync._net import Net

    net = Net(["a", "b", "x"])
    net.link("a", "b")
    net.link("b", "x")
    net.round()
    net.unlink("b", "x")
    b = net.engines["b"]
    seq = b.seq
    net.do("a", lambda e, now: (e.update("k", lambda s: s.add(1), create=crdts.GSet), [])[1])
    net.round()
    assert b.value("k") == frozenset({1}) and b.seq == seq and b.buffer_size == 0
    net.link("b", "x")
    for _ in range(5):
        net.round()
    assert net.engines["x"].value("k") == frozenset({1})
