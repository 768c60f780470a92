"""The Merkle digest descent of a catch-up: find the objects a neighbour lacks by comparing
hashes of the keyspace's subtrees, probing only those that differ.

Theory of operation
-------------------
Each object contributes an item hash ``mmh3(key, encode(x, canonical=True))`` to a fixed fanout-16
tree keyed by ``mmh3(key)`` (:class:`~sync.MerkleIndex`); a node's hash is the sum of its items.
The catching-up side sends probes (:class:`~sync._messages.Digest`): sibling subtrees packed as one
group (level, parent prefix, a 16-bit mask, 8 bytes a hash), a one-object sibling flagged so that
it is checked as an item and needs no further round trip, and the item hashes of small subtrees
(at most ``merkle_leaf_threshold`` keys). The peer answers one bit per hash ("differs" / "I do not
hold it"); the descent goes on into differing subtrees and queues differing objects for shipping
(:mod:`sync._catchup`). Traffic grows with the difference, not the keyspace: per changed object
about one group of 16 hashes at the depth where changes become sparse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mmh3

from gossip._events import Effect
from sync._base import MSG_OVERHEAD, EngineBase, Peer
from sync._errors import ProtocolViolationError
from sync._merkle import DEPTH, FANOUT_BITS
from sync._messages import Digest, DigestReply

if TYPE_CHECKING:
    from sync._catchup import Catchup

__all__ = ["DigestMixin"]

_MASK64 = (1 << 64) - 1


class DigestMixin(EngineBase):
    """The Merkle descent part of :class:`~sync.SyncEngine` (see the module docstring)."""

    if TYPE_CHECKING:

        def _new_catchup(self, p: Peer, via: str, now: float) -> Catchup: ...

        def _maybe_finish(self, peer: str, p: Peer, out: list[Effect]) -> None: ...

        def _ship(
            self, peer: str, cu: Catchup, out: list[Effect], budget: int, *, resend: bool = True
        ) -> None: ...

    def _start_merkle(self, peer: str, p: Peer, now: float, out: list[Effect]) -> None:
        p.deferred = None
        cu = self._new_catchup(p, "merkle", now)
        self._merkle_start(cu)
        self._pump_digest(peer, cu, out)
        self._maybe_finish(peer, p, out)

    def _encoded_state(self, key: str) -> bytes:
        """Bytes that are equal exactly when object ``key``'s states are: its canonical encoding
        (crdts' codec), else the sum of the hashes of its join-irreducibles (a caller's codec
        need not be canonical, but the irreducible decomposition is unique, and an
        irreducible's encoding has one element). Every replica of a cluster uses the same codec,
        so they agree on which."""
        if self._canonical is not None:
            b = self.state_bytes(key)
            assert b is not None  # the index holds only keys of the state
            return b
        total = 0
        for z in self._state[key].decompose():
            total += mmh3.hash64(self._encode(z), signed=False)[0]
        return (total & _MASK64).to_bytes(8, "big")

    def _flush_merkle(self, limit: int | None = None) -> None:
        """Rehash the keys changed since the last flush (at most ``limit``): their canonical
        bytes straight from the state_bytes cache when there (the committer or the previous
        reader encoded them), else through :meth:`_encoded_state`."""
        cached = self._state_bytes if self._canonical is not None else None
        self._merkle.flush(self._encoded_state, limit, cached)

    def _merkle_start(self, cu: Catchup) -> None:
        self._flush_merkle()
        h, count = self._merkle.node(0, 0)
        cu.digest_done = False
        if count == 0:
            cu.digest_done = True  # nothing here to push
        else:
            cu.queue_nodes.append((0, 0, h, self._single_key(0, 0, count)))

    def _single_key(self, level: int, prefix: int, count: int) -> str | None:
        """The key of a one-object subtree (its hash is that object's item hash), else None."""
        return self._merkle.keys_under(level, prefix)[0] if count == 1 else None

    def _pump_digest(self, peer: str, cu: Catchup, out: list[Effect]) -> None:
        """Send the queued probes, in messages bounded by ``max_message_bytes``.

        Siblings travel as one group (a bit mask and 8 bytes per hash); a one-object sibling is
        flagged so the peer checks it as an item, which saves a round trip for it."""
        limit = self.config.max_message_bytes - MSG_OVERHEAD
        mask_low = (1 << FANOUT_BITS) - 1
        while cu.queue_nodes or cu.queue_items:
            siblings: dict[tuple[int, int], dict[int, tuple[int, str | None]]] = {}
            item_keys: list[list[str]] = []
            items: list[tuple[int, int, bytes]] = []
            acc = 0
            while cu.queue_nodes and acc < limit:
                lv, pf, h, key = cu.queue_nodes.pop()
                g = siblings.setdefault((lv, pf >> FANOUT_BITS), {})
                acc += 8 if g else 24
                g[pf & mask_low] = (h, key)
            while cu.queue_items and acc < limit:
                level, prefix = cu.queue_items.pop()
                keys = self._merkle.keys_under(level, prefix)
                item = self._merkle.item
                items.append((level, prefix, b"".join(item(k).to_bytes(8, "big") for k in keys)))
                item_keys.append(keys)
                acc += 16 + 8 * len(keys)
            groups: list[tuple[int, int, int, int, bytes]] = []
            entries: list[tuple[int, int] | str] = []
            for (lv, parent), children in siblings.items():
                mask = single = 0
                hashes = bytearray()
                for i in sorted(children):
                    h, key = children[i]
                    mask |= 1 << i
                    hashes += h.to_bytes(8, "big")
                    if key is None:
                        entries.append((lv, (parent << FANOUT_BITS) | i))
                    else:
                        single |= 1 << i
                        entries.append(key)
                groups.append((lv, parent, mask, single, bytes(hashes)))
            for keys in item_keys:
                entries.extend(keys)
            req = cu.next_req
            cu.next_req += 1
            msg = Digest(cu.session, req, groups, items)
            cu.outstanding[req] = (msg, entries)
            self._send(out, peer, msg)

    def _on_digest(self, src: str, msg: Digest, out: list[Effect]) -> None:
        """Answer a probe, one bit per hash: a subtree that differs from ours, an item (or a
        one-object subtree) we do not hold."""
        self._flush_merkle()
        node = self._merkle.node
        holds = self._merkle.holds
        bits = bytearray((msg.entries() + 7) // 8)
        n = 0
        for lv, parent, mask, single, hashes in msg.groups:
            k = 0
            for i in range(mask.bit_length()):
                if not mask >> i & 1:
                    continue
                h = int.from_bytes(hashes[k : k + 8], "big")
                k += 8
                if single >> i & 1:
                    differs = not holds(h)
                else:
                    differs = node(lv, (parent << FANOUT_BITS) | i)[0] != h
                if differs:
                    bits[n >> 3] |= 1 << (n & 7)
                n += 1
        for _lv, _pf, hashes in msg.items:
            for k in range(0, len(hashes), 8):
                if not holds(int.from_bytes(hashes[k : k + 8], "big")):
                    bits[n >> 3] |= 1 << (n & 7)
                n += 1
        self._send(out, src, DigestReply(msg.session, msg.req, bytes(bits)))

    def _on_digest_reply(self, src: str, msg: DigestReply, now: float, out: list[Effect]) -> None:
        p = self._peers.get(src)
        cu = None if p is None else p.catchup
        if p is None or cu is None or cu.session != msg.session:
            return  # stale: a restarted or finished session
        probe = cu.outstanding.pop(msg.req, None)
        if probe is None:
            return  # a duplicate reply
        entries = probe[1]
        bits = msg.bits
        if len(bits) != (len(entries) + 7) // 8:
            cu.outstanding[msg.req] = probe
            raise ProtocolViolationError(f"{len(bits)} bytes of bits for {len(entries)} hashes")
        cu.last_progress = now
        self._flush_merkle()
        threshold = self.config.merkle_leaf_threshold
        ship: list[str] = []
        for n, e in enumerate(entries):
            if not bits[n >> 3] >> (n & 7) & 1:
                continue
            if isinstance(e, str):
                if e in self._state:
                    ship.append(e)  # the peer does not hold this object as we have it
                continue
            lv, pf = e
            _, count = self._merkle.node(lv, pf)
            if count == 0:
                continue
            if count <= threshold or lv == DEPTH:
                cu.queue_items.append((lv, pf))
                continue
            for cp, ch, ccount in self._merkle.children(lv, pf):
                cu.queue_nodes.append((lv + 1, cp, ch, self._single_key(lv + 1, cp, ccount)))
        cu.add_ship(ship)
        self._pump_digest(src, cu, out)
        if not cu.outstanding and not cu.queue_nodes and not cu.queue_items:
            cu.digest_done = True
        # Only what was never sent: objects in flight are not sent again on every reply (the
        # round retransmits whatever stays unacked).
        self._ship(src, cu, out, self.config.max_messages_per_round, resend=False)
        self._maybe_finish(src, p, out)
