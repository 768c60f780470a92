"""A Merkle tree over the keyspace, maintained incrementally, for digest-driven catch-up.

Every object contributes one 64-bit *item hash*, ``mmh3(key, encoded state)``. Keys are placed by
the top bits of ``mmh3(key)`` into a fixed tree of fanout 16 and depth :data:`DEPTH` (16^5 leaves,
enough for millions of objects), and a node's hash is the **sum modulo 2^64** of its items. A sum
(not a hash of the children) makes an update O(depth): subtract the old item, add the new one on
the path; nodes are stored sparsely (only non-empty subtrees exist), the leaves not at all (see
:class:`MerkleIndex`). Hashing is lazy: a change only marks the key dirty; :meth:`flush` rehashes
dirty keys right before a digest is read; the engine also hashes a bounded slice of them each
round, so that a replica built over a large keyspace has its index ready before its first digest
instead of hashing everything in one go when it is asked.

Two replicas whose subtree sums are equal hold (up to a 2^-64 collision) the same objects there; a
catch-up descends only into subtrees that differ, and swaps item hashes once a subtree is small, so
its traffic grows with the difference, not the keyspace.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping

import mmh3

__all__ = ["DEPTH", "FANOUT_BITS", "MerkleIndex", "item_hash", "key_hash"]

FANOUT_BITS = 4
FANOUT = 1 << FANOUT_BITS
DEPTH = 5
_MASK = (1 << 64) - 1
_LENGTHS = tuple(n.to_bytes(4, "big") for n in range(256))  # item_hash's key length prefixes


def key_hash(key: str) -> int:
    return int(mmh3.hash64(key.encode("utf-8", "surrogatepass"), signed=False)[0])


def item_hash(key: str, state: bytes) -> int:
    """The digest of one object: its key and its encoded state (length-prefixed, unambiguous)."""
    kb = key.encode("utf-8", "surrogatepass")
    return int(mmh3.hash64(len(kb).to_bytes(4, "big") + kb + state, signed=False)[0])


def prefix_of(kh: int, level: int) -> int:
    return kh >> (64 - FANOUT_BITS * level) if level else 0


class MerkleIndex:
    """Per-level sparse dicts ``prefix -> [sum, count]`` above the leaves, plus each leaf's keys.

    Sized for a million objects per replica: the leaf level (about one key per leaf at that
    size) is not stored but summed from its keys' items when asked, a leaf holding one key keeps
    the bare ``str`` (not a container), and key hashes are recomputed rather than kept; what
    remains per object is its item hash, its entry in the item multiset and in its leaf.
    """

    __slots__ = ("_dirty", "_item_count", "_items", "_levels", "_pend", "leaf_keys")

    def __init__(self) -> None:
        self._levels: list[dict[int, list[int]]] = [{} for _ in range(DEPTH)]
        # Changes a flush made to the deepest stored level that the levels above do not show
        # yet: parent prefix -> [sum of item deltas (unreduced), keys added]. Applied when a
        # level above is read (:meth:`_settle`): a flush runs every round under write load, a
        # read only during a catch-up, and this holds at most 16^(DEPTH-2) entries.
        self._pend: dict[int, list[int]] = {}
        self.leaf_keys: dict[int, str | list[str]] = {}
        self._items: dict[str, int] = {}
        # item hash -> how many keys have it (a multiset, so a 2^-64 collision is harmless):
        # "do I hold this exact object?" in O(1), however big the subtree it was probed from.
        self._item_count: dict[int, int] = {}
        self._dirty: set[str] = set()

    def touch(self, key: str) -> None:
        """``key``'s state changed (or appeared): rehash it at the next :meth:`flush`."""
        self._dirty.add(key)

    def touch_all(self, keys: Iterable[str]) -> None:
        self._dirty.update(keys)

    @property
    def dirty(self) -> int:
        return len(self._dirty)

    @property
    def levels(self) -> list[dict[int, list[int]]]:
        """Per level above the leaves: ``prefix -> [sum of its items mod 2^64, key count]``."""
        if self._pend:
            self._settle()
        return self._levels

    def _settle(self) -> None:
        """Carry the pending changes of the deepest stored level up to the root."""
        pend, self._pend = self._pend, {}
        levels = [self._levels[lv] for lv in range(DEPTH - 2, -1, -1)]
        for prefix, (delta, grow) in pend.items():
            delta &= _MASK
            p = prefix
            for level in levels:
                node = level.get(p)
                if node is None:
                    level[p] = [delta, grow]
                else:
                    node[0] = (node[0] + delta) & _MASK
                    node[1] += grow
                p >>= FANOUT_BITS

    def __len__(self) -> int:
        return len(self._items)

    def flush(
        self,
        encoded_state: Callable[[str], bytes],
        limit: int | None = None,
        cached: Mapping[str, bytes] | None = None,
    ) -> None:
        """Rehash every dirty key (at most ``limit`` of them), reading its current encoding
        from ``cached`` (encodings the caller keeps, e.g. of recent changes) or else through
        ``encoded_state``.

        One pass for the whole batch (the engine flushes once per round, every key changed in
        it): each key's UTF-8 is hashed twice (its place, its item) but built once, and only
        the deepest stored level is updated per key; what that changes above it is carried up
        once per parent when a level above is read (:meth:`_settle`), not once per key and
        level (this runs for every change of every object: a tenth of a node's CPU under
        write load, as per-key calls)."""
        if not self._dirty:
            return
        dirty: Iterable[str]
        if limit is None or limit >= len(self._dirty):
            dirty, self._dirty = self._dirty, set()
        else:
            pop = self._dirty.pop
            dirty = [pop() for _ in range(limit)]
        items = self._items
        iget = items.get
        counts = self._item_count
        cget = counts.get
        leaves = self.leaf_keys
        h64 = mmh3.hash64
        bottom = self._levels[DEPTH - 1]
        bget = bottom.get
        pend = self._pend
        pget = pend.get
        shift = 64 - FANOUT_BITS * (DEPTH - 1)
        leaf_shift = 64 - FANOUT_BITS * DEPTH
        known = (cached or {}).get
        lengths = _LENGTHS
        for key in dirty:
            try:
                kb = key.encode()  # the fast path; a lone surrogate needs the handler below
            except UnicodeEncodeError:
                kb = key.encode("utf-8", "surrogatepass")
            b = known(key)
            if b is None:
                b = encoded_state(key)
            n = len(kb)
            prefix = lengths[n] if n < 256 else n.to_bytes(4, "big")
            new = h64(prefix + kb + b, signed=False)[0]
            old = iget(key)
            if old == new:
                continue
            kh = h64(kb, signed=False)[0]
            items[key] = new
            counts[new] = cget(new, 0) + 1
            if old is None:
                leaf = kh >> leaf_shift
                bucket = leaves.get(leaf)
                if bucket is None:
                    leaves[leaf] = key
                elif isinstance(bucket, str):
                    leaves[leaf] = [bucket, key]
                else:
                    bucket.append(key)
                delta = new
                grow = 1
            else:
                n = counts[old]
                if n == 1:
                    del counts[old]
                else:
                    counts[old] = n - 1
                delta = (new - old) & _MASK
                grow = 0
            p = kh >> shift
            node = bget(p)
            if node is None:
                bottom[p] = [delta, 1]
            else:
                node[0] = (node[0] + delta) & _MASK
                node[1] += grow
            p >>= FANOUT_BITS
            up = pget(p)
            if up is None:
                pend[p] = [delta, grow]
            else:
                up[0] += delta  # reduced when settled
                up[1] += grow

    def set_item(self, key: str, item: int) -> None:
        """``key``'s item hash is ``item`` (computed by the caller from the canonical encoding
        it just made, e.g. to persist it): no rehash needed, ``key`` is no longer dirty."""
        self._dirty.discard(key)
        self._set(key, item)

    def load(self, items: Mapping[str, int]) -> None:
        """Index many keys whose item hashes are known (e.g. kept beside the states on disk),
        without encoding anything: a bulk build for an empty index (2-3 s of CPU per million keys
        here: each key touches its leaf and the deepest level only; the levels above are summed
        from the one below), else one :meth:`set_item` per key. A ``dict`` given to an empty
        index becomes its item table (not copied: a million entries)."""
        if self._items:
            for key, item in items.items():
                self.set_item(key, item)
            return
        leaves = self.leaf_keys
        lget = leaves.get
        h64 = mmh3.hash64
        shift = 64 - FANOUT_BITS * DEPTH
        sums: dict[int, int] = {}  # deepest stored level: prefix -> sum of its items (unreduced)
        sget = sums.get
        for key, item in items.items():  # the hot loop: key_hash and prefix_of inlined
            leaf = h64(key.encode("utf-8", "surrogatepass"), signed=False)[0] >> shift
            bucket = lget(leaf)
            if bucket is None:
                leaves[leaf] = key
            elif isinstance(bucket, str):
                leaves[leaf] = [bucket, key]
            else:
                bucket.append(key)
            p = leaf >> FANOUT_BITS
            sums[p] = sget(p, 0) + item
        self._items = items if type(items) is dict else dict(items)  # taken as is: memory
        self._item_count = Counter(self._items.values())
        sizes: Counter[int] = Counter()
        for leaf, bucket in leaves.items():
            sizes[leaf >> FANOUT_BITS] += 1 if type(bucket) is str else len(bucket)
        self._levels[DEPTH - 1] = {p: [h & _MASK, sizes[p]] for p, h in sums.items()}
        for level in range(DEPTH - 2, -1, -1):
            above: dict[int, list[int]] = {}
            for prefix, (h, n) in self._levels[level + 1].items():
                node = above.get(prefix >> FANOUT_BITS)
                if node is None:
                    above[prefix >> FANOUT_BITS] = [h, n]
                else:
                    node[0] = (node[0] + h) & _MASK
                    node[1] += n
            self._levels[level] = above
        self._dirty.difference_update(items)

    def _set(self, key: str, new: int) -> None:
        levels = self._levels  # every level updated here: independent of what is pending
        items = self._items
        counts = self._item_count
        leaves = self.leaf_keys
        old = items.get(key)
        if old == new:
            return
        kh = key_hash(key)
        is_new = old is None
        if is_new:
            leaf = prefix_of(kh, DEPTH)
            bucket = leaves.get(leaf)
            if bucket is None:
                leaves[leaf] = key
            elif isinstance(bucket, str):
                leaves[leaf] = [bucket, key]
            else:
                bucket.append(key)
        delta = (new - (old or 0)) & _MASK
        items[key] = new
        counts[new] = counts.get(new, 0) + 1
        if old is not None:
            if counts[old] == 1:
                del counts[old]
            else:
                counts[old] -= 1
        for level in range(DEPTH):
            p = prefix_of(kh, level)
            node = levels[level].get(p)
            if node is None:
                levels[level][p] = [delta, 1]
            else:
                node[0] = (node[0] + delta) & _MASK
                if is_new:
                    node[1] += 1

    def _leaf(self, prefix: int) -> tuple[int, int]:
        bucket = self.leaf_keys.get(prefix)
        if bucket is None:
            return 0, 0
        if isinstance(bucket, str):
            return self._items[bucket], 1
        return sum(self._items[k] for k in bucket) & _MASK, len(bucket)

    def node(self, level: int, prefix: int) -> tuple[int, int]:
        """``(hash, key count)`` of a subtree (``(0, 0)`` when empty). Call :meth:`flush` first."""
        if level == DEPTH:
            return self._leaf(prefix)
        if self._pend and level < DEPTH - 1:
            self._settle()
        n = self._levels[level].get(prefix) if 0 <= level < DEPTH else None
        return (n[0], n[1]) if n is not None else (0, 0)

    def children(self, level: int, prefix: int) -> list[tuple[int, int, int]]:
        """The non-empty children of a subtree: ``(prefix, hash, count)``."""
        if not 0 <= level < DEPTH:
            return []
        out = []
        if level == DEPTH - 1:
            for i in range(FANOUT):
                p = (prefix << FANOUT_BITS) | i
                h, c = self._leaf(p)
                if c:
                    out.append((p, h, c))
            return out
        if self._pend and level + 1 < DEPTH - 1:
            self._settle()
        below = self._levels[level + 1]
        for i in range(FANOUT):
            p = (prefix << FANOUT_BITS) | i
            n = below.get(p)
            if n is not None:
                out.append((p, n[0], n[1]))
        return out

    def keys_under(self, level: int, prefix: int) -> list[str]:
        """Every key in a subtree, in a deterministic order."""
        if not 0 <= level <= DEPTH:
            return []
        if level == DEPTH:
            bucket = self.leaf_keys.get(prefix)
            if bucket is None:
                return []
            return [bucket] if isinstance(bucket, str) else sorted(bucket)
        out: list[str] = []
        for p, _, _ in self.children(level, prefix):
            out.extend(self.keys_under(level + 1, p))
        return out

    def item(self, key: str) -> int:
        return self._items[key]

    def holds(self, item: int) -> bool:
        """Whether some key currently has this item hash (this exact key and state)."""
        return item in self._item_count
