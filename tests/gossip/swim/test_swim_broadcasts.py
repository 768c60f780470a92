"""The transmit-limited broadcast queue: order, budget, limits, invalidation."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gossip.swim._broadcasts import BroadcastQueue


def upd(addr: str, version: int = 0, size: int = 10) -> bytes:
    """A fake encoded update of exactly ``size`` bytes, recognisable by addr and version."""
    body = f"{addr}:{version}".encode()
    assert len(body) <= size
    return body.ljust(size, b".")


class SortedQueue:
    """The reference: re-sort everything on every take (the former implementation)."""

    def __init__(self) -> None:
        self.items: dict[str, list[object]] = {}  # addr -> [encoded, transmits, order]
        self.order = 0

    def queue(self, addr: str, encoded: bytes) -> None:
        self.order += 1
        self.items[addr] = [encoded, 0, self.order]

    def take(self, budget: int, limit: int, skip: str | None = None) -> list[bytes]:
        if not self.items or budget <= 0:
            return []
        out: list[bytes] = []
        ranked = sorted(self.items.items(), key=lambda kv: (kv[1][1], -kv[1][2]))  # type: ignore[operator]
        for addr, item in ranked:
            enc, transmits, _ = item
            assert isinstance(enc, bytes) and isinstance(transmits, int)
            if budget < 8:
                break
            if addr == skip or len(enc) > budget:
                continue
            out.append(enc)
            budget -= len(enc)
            item[1] = transmits + 1
            if transmits + 1 >= limit:
                del self.items[addr]
        return out


def test_newest_first_among_equally_sent() -> None:
    q = BroadcastQueue()
    for a in ("a", "b", "c"):
        q.queue(a, upd(a))
    assert q.take(25, limit=5) == [upd("c"), upd("b")]  # 2 fit in 25 bytes: the newest two


def test_least_sent_first() -> None:
    q = BroadcastQueue()
    q.queue("a", upd("a"))
    q.queue("b", upd("b"))
    assert q.take(10, limit=5) == [upd("b")]  # b is newest; now sent once
    assert q.take(10, limit=5) == [upd("a")]  # a has been sent less
    q.queue("c", upd("c"))
    assert q.take(100, limit=5) == [upd("c"), upd("b"), upd("a")]  # 0 sends; then b newer than a


def test_limit_drops_an_update_after_that_many_sends() -> None:
    q = BroadcastQueue()
    q.queue("a", upd("a"))
    assert [q.take(100, limit=3) for _ in range(4)] == [[upd("a")]] * 3 + [[]]
    assert len(q) == 0 and "a" not in q


def test_a_newer_update_replaces_the_pending_one_with_fresh_counts() -> None:
    q = BroadcastQueue()
    q.queue("a", upd("a", 0))
    q.queue("b", upd("b", 0))
    assert q.take(100, limit=3) == [upd("b", 0), upd("a", 0)]
    q.queue("a", upd("a", 1))  # supersedes a:0, which must never be sent again
    assert len(q) == 2
    assert q.take(100, limit=3) == [upd("a", 1), upd("b", 0)]
    assert q.take(100, limit=3) == [upd("a", 1), upd("b", 0)]
    assert q.take(100, limit=3) == [upd("a", 1)]  # b reached 3 sends; a:1 is at 3 now too
    assert q.take(100, limit=3) == []


def test_budget_skips_what_does_not_fit_and_takes_smaller_ones_after() -> None:
    q = BroadcastQueue()
    q.queue("small", upd("small", size=10))
    q.queue("big", upd("big", size=40))
    # big is newer but does not fit in 30: small still goes.
    assert q.take(30, limit=5) == [upd("small", size=10)]
    assert q.take(7, limit=5) == []  # below the smallest possible update
    assert q.take(45, limit=5) == [upd("big", size=40)]  # 5 bytes left: nothing else fits
    assert q.take(50, limit=5) == [upd("big", size=40), upd("small", size=10)]


def test_skip_leaves_the_named_member_untouched() -> None:
    q = BroadcastQueue()
    q.queue("a", upd("a"))
    q.queue("b", upd("b"))
    assert q.take(100, limit=1, skip="b") == [upd("a")]
    assert q.take(100, limit=1) == [upd("b")]  # b was not counted as sent


def test_watched_member_finishing_is_reported() -> None:
    q = BroadcastQueue(watch="me")
    q.queue("me", upd("me"))
    q.queue("x", upd("x"))
    seen = []
    q.take(100, limit=1, skip="me")
    seen.append(q.watch_finished)
    q.take(100, limit=1)
    seen.append(q.watch_finished)
    q.queue("me", upd("me", 1))  # a new update about us: not finished any more
    seen.append(q.watch_finished)
    assert seen == [False, True, False]


ops = st.lists(
    st.one_of(
        st.tuples(st.just("q"), st.sampled_from("abcdefgh"), st.integers(8, 30)),
        st.tuples(
            st.just("t"),
            st.integers(0, 120),
            st.integers(1, 4),
            st.sampled_from([None, "a", "b"]),
        ),
    ),
    max_size=80,
)


@given(ops)
def test_same_takes_as_resorting_the_whole_queue(program: list[tuple[object, ...]]) -> None:
    """Whatever the mix of sizes, replacements, budgets, limits and skips, the incremental queue
    takes exactly what a full sort by (transmits, newest) would take, in the same order."""
    q, ref = BroadcastQueue(), SortedQueue()
    version = 0
    for op in program:
        if op[0] == "q":
            _, addr, size = op
            assert isinstance(addr, str) and isinstance(size, int)
            version += 1
            enc = upd(addr, version % 100, size)
            q.queue(addr, enc)
            ref.queue(addr, enc)
        else:
            _, budget, limit, skip = op
            assert isinstance(budget, int) and isinstance(limit, int)
            assert skip is None or isinstance(skip, str)
            assert q.take(budget, limit, skip) == ref.take(budget, limit, skip)
        assert len(q) == len(ref.items)
        assert sorted(a for a in "abcdefgh" if a in q) == sorted(ref.items)


def test_many_replacements_stay_bounded_and_ordered() -> None:
    """Stale heap entries from replaced updates are dropped (compaction), order unchanged."""
    q, ref = BroadcastQueue(), SortedQueue()
    for i in range(400):
        addr = "abcdefgh"[i % 8]
        enc = upd(addr, i % 100, 8 + i % 13)
        q.queue(addr, enc)
        ref.queue(addr, enc)
        if i % 50 == 49:
            assert q.take(60, 6) == ref.take(60, 6)
    assert q._entries <= 2 * len(q) + 64
    while len(ref.items):
        assert q.take(100, 6) == ref.take(100, 6)
    assert len(q) == 0
