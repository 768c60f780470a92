"""The receive path of :class:`~sync.SyncEngine`: every object of every ``Delta`` (and of a
catch-up's shipment) is checked, decoded and joined here.

Theory of operation
-------------------
A received object is ``(key, bytes)``. It is dropped, counted as a peer error, when it is too
big, does not decode, is not a CRDT, or names an object of another type; a byte-identical repeat
of one joined lately (in a mesh each delta comes from its origin and is relayed by the others) is
not decoded again. What is left is joined by the mode's rule: under RR (the default)
``x.absorb(d)`` joins ``d`` into the state ``x`` and returns ``Δ(d, x)``, the part of ``d`` that
``x`` lacked, which alone is recorded and relayed (when all of ``d`` was new that is ``d``
itself, relayed with the bytes it came in); the classic modes buffer a delta that inflates the
state whole; STATE joins whole states and buffers nothing. The changes of one message are
recorded at once (:meth:`~sync.SyncEngine._record_received`), and subscribers are told after.
A received delta is never mutated: the known filter and the repeat cache share it, the state
takes a copy.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gossip._events import Effect
from sync._base import Crdt, EngineBase, Peer
from sync._errors import (
    CorruptRecordError,
    DecodeError,
    NotACrdtError,
    ObjectTooLargeError,
    TypeMismatchError,
)
from sync._lazy import LazyState
from sync._messages import Ack, Delta, ObjectEntry
from sync._ranges import RangeTracker
from sync._subscriptions import _MISSING

__all__ = ["ReceiveMixin"]

# Received (key, bytes) remembered to skip decoding the same delta again when it arrives from
# several neighbours (in a mesh each delta comes from its origin and is forwarded by the others;
# RR makes the forwarded copy byte-identical when it is the whole delta). Small deltas only.
# The decoded delta is kept for the DEFAULT mode's "known" filter; it is never mutated (RR
# copies it into the state, buffers it as is, and sends copies).
# Bounded by the memory it retains, not by entries: a decoded delta holds ~0.7 KiB of Python
# objects plus 10-35x its encoded size (measured over the crdts types), so 8192 entries kept
# ~10 MiB of 30-byte map puts and could keep ~1 GiB of 4 KiB deltas. Each entry is charged
# _RECENT_ENTRY_COST + _RECENT_EXPANSION * its encoded size against _RECENT_BUDGET; the
# duplicates it exists for arrive within a round or two, so a budget of a few thousand small
# deltas loses few hits.
_RECENT_BUDGET = 4 * 1024 * 1024  # bytes (estimated retained memory)
_RECENT_ENTRY_COST = 768  # bytes: the key tuple, dict slot and the decoded object's skeleton
_RECENT_EXPANSION = 32  # decoded bytes per encoded byte (upper end of the measured 10-35x)
_RECENT_MAX_BYTES = 4096  # encoded bytes: a bigger delta is not remembered
# What a received object must provide to be stored (the crdts contract). A codec may also
# decode value types (crdts registers HLCTimestamp): such an object must never reach the state.
_CONTRACT = ("join", "merge", "leq", "copy", "diff", "decompose", "value")


class ReceiveMixin(EngineBase):
    """The receive path of :class:`~sync.SyncEngine` (see the module docstring)."""

    if TYPE_CHECKING:
        _recent: OrderedDict[tuple[str, bytes], Crdt]
        _recent_cost: int
        _crdt_types: dict[type, bool]
        _absorbs: dict[type, Callable[[Crdt, Crdt], Crdt | None] | None]
        _lazy: LazyState | None
        _rx: tuple[int, int, float] | None
        on_record: Callable[[str], None] | None

        def _record_received(
            self, changes: list[tuple[str, Crdt, bytes | None]], origin: str
        ) -> None: ...

        def _touch(self, key: str) -> None: ...

        def _notify(self, key: str, old: Any, x: Crdt, origin: str | None) -> None: ...

    def _on_delta(self, src: str, msg: Delta, out: list[Effect], now: float = 0.0) -> None:
        if not self._mode.delta or (msg.hi == 0 and msg.lo == 0):
            self._receive_objects(src, msg.objects)
            return
        if self.config.relay_hold:
            self._rx = (msg.epoch, msg.hi, now)
            try:
                self._receive_objects(src, msg.objects)
            finally:
                self._rx = None
        else:
            self._receive_objects(src, msg.objects)
        self._recv_tracker(src, msg.epoch).add(msg.lo, msg.hi)
        self._send(out, src, Ack(msg.epoch, msg.lo, msg.hi))

    def _recv_tracker(self, src: str, epoch: int) -> RangeTracker:
        entry = self._recv.get(src)
        if entry is None or entry[0] != epoch:
            entry = (epoch, RangeTracker())
            self._recv[src] = entry
        self._recv.move_to_end(src)
        while len(self._recv) > self.config.remembered_peers:
            self._recv.popitem(last=False)
        return entry[1]

    def _receive_objects(self, src: str, objs: list[ObjectEntry]) -> None:
        # The hot loop of a node under write load (every object of every Delta): locals for
        # what it calls per object, and each object's current state looked up once (a
        # LazyState lookup is a Python call) and carried to the join below.
        m = self.metrics.peer(src)
        decoded: list[tuple[str, Crdt, Crdt | None, bytes]] = []
        cap = self.config.max_object_bytes
        seen: list[tuple[str, Crdt]] = []  # byte-identical to one joined before: skip the join
        recent = self._recent
        decode = self._decode
        state_get = self._state_getter()
        crdt_types = self._crdt_types
        count_error = self.metrics.count_error
        # only with RR, where a delta the state already holds is dropped anyway (classic delta
        # buffers every delta it receives, repeats included, and that is what it is measured on)
        dedup = _RECENT_MAX_BYTES if self._mode.rr and self._mode.delta else -1
        cost = self._recent_cost  # _recent's charge (see _RECENT_BUDGET), kept in a local
        budget = _RECENT_BUDGET
        entry_cost = _RECENT_ENTRY_COST
        expansion = _RECENT_EXPANSION
        crdt_type: type | None = None  # the last type found to be a CRDT (one per message, usually)
        try:
            for key, data in objs:
                n = len(data)
                if n > cap:
                    count_error(src, ObjectTooLargeError(f"{key!r}: {n} bytes > {cap}"))
                    continue
                tag = (key, data) if n <= dedup else None
                if tag is not None:
                    hit = recent.get(tag)
                    if hit is not None:
                        self.metrics.duplicates_skipped += 1
                        seen.append((key, hit))
                        continue
                try:
                    d = decode(data)
                except Exception as exc:  # the CRDT codec's DecodeError (or worse): count, skip
                    count_error(src, DecodeError(f"object {key!r}: {exc}"))
                    continue
                t = type(d)
                if t is not crdt_type:
                    if not (crdt_types.get(t) or self._is_crdt_type(t)):
                        count_error(src, NotACrdtError(f"{key!r}: a {t.__name__} is not a CRDT"))
                        continue
                    crdt_type = t
                try:
                    x = state_get(key)
                except CorruptRecordError as exc:  # our stored state of it does not decode: skip
                    count_error(src, exc)
                    continue
                if x is not None and type(x) is not t:
                    why = f"{key!r}: {t.__name__} for {type(x).__name__}"
                    count_error(src, TypeMismatchError(why))
                    continue
                decoded.append((key, d, x, data))
                if tag is not None:  # joined just below (states only grow: a repeat adds nothing)
                    recent[tag] = d
                    cost += entry_cost + expansion * (len(key) + n)
                    while cost > budget:
                        (old_key, old), _ = recent.popitem(last=False)
                        cost -= entry_cost + expansion * (len(old_key) + len(old))
        finally:
            self._recent_cost = cost
        m.recv_objects += len(decoded) + len(seen)
        if self._mode.known_filter:
            p = self._peers.get(src)
            if p is not None:
                self._note_known(p, [(key, d) for key, d, _, _ in decoded])
                if seen:
                    self._note_known(p, seen)
        if not decoded:
            return
        mode = self._mode
        if mode.rr and mode.delta:
            self._join_rr(src, decoded)
        elif not mode.delta:
            self._join_state(src, decoded)
        else:
            self._join_classic(src, decoded)

    def _state_getter(self) -> Callable[[str], Crdt | None]:
        """``state.get`` for one message's objects: ``dict.get`` itself (a C call) once a
        :class:`LazyState` has nothing left to decode (its ``raw`` only ever shrinks), or
        when the state is a plain dict; else the LazyState's own (a Python call)."""
        lazy = self._lazy
        if lazy is not None and not lazy.raw:
            return dict.get.__get__(lazy)  # type: ignore[no-any-return]
        return self._state.get

    @staticmethod
    def _note_known(p: Peer, objs: list[tuple[str, Crdt]]) -> None:
        """The known filter: join what ``p`` sent us into what it holds, per key."""
        known = p.known
        kget = known.get
        own = p.known_own
        for key, d in objs:
            k = kget(key)
            if k is None:
                known[key] = d  # shared: a received delta is never mutated
            else:
                if key not in own:  # copy on the second write in a round only
                    k = known[key] = k.copy()
                    own.add(key)
                k.merge(d)

    def _join_rr(self, src: str, decoded: list[tuple[str, Crdt, Crdt | None, bytes]]) -> None:
        """RR: join what each received delta adds (``x.absorb(d)``: ``Δ(d, x)``, joined in
        place) and record only that. When all of ``d`` was new, ``absorb`` returns ``d``
        itself, and the bytes it came in are its buffer entry's encoding (relayed as received,
        not encoded again). A received delta is never mutated (the known filter and the
        repeat cache share it): the state takes a copy, absorb only reads it."""
        state = self._state
        state_get = self._state_getter()
        subs = self.subscriptions
        any_subs = bool(subs)  # no subscription: no callback runs here to add one
        absorbs = self._absorbs
        changes: list[tuple[str, Crdt, bytes | None]] = []
        notes: list[tuple[str, Any, Crdt]] = []
        for key, d, x, data in decoded:
            if x is None:
                x = state_get(key)  # an earlier object of this message may have created it
                if x is None:
                    x = state[key] = d.copy()
                    changes.append((key, d, data))
                    if any_subs and subs.wants(key):
                        notes.append((key, _MISSING, x))
                    continue
            watch = any_subs and subs.wants(key)
            old = x.value if watch else None
            absorb = absorbs[type(d)]
            if absorb is not None:
                delta = absorb(x, d)
                if delta is None:
                    continue
            else:  # a type without absorb: the same in three steps
                if d.leq(x):
                    continue
                delta = d.diff(x)  # RR: only what x lacks is joined and forwarded
                x.merge(delta)
            changes.append((key, delta, data if delta is d else None))
            if watch:
                notes.append((key, old, x))
        if changes:
            self._record_received(changes, src)
        for key, old, x in notes:
            self._notify(key, old, x, src)

    def _join_state(self, src: str, decoded: list[tuple[str, Crdt, Crdt | None, bytes]]) -> None:
        """STATE mode: join whole states; nothing is buffered."""
        state_get = self._state.get
        subs = self.subscriptions
        for key, d, x, _ in decoded:
            if x is None:  # an earlier object of this message may have created it
                x = state_get(key)
            watch = bool(subs) and subs.wants(key)
            if x is None:
                self._state[key] = d
                old = _MISSING
            elif d.leq(x):
                continue
            else:
                old = x.value if watch else None
                x.merge(d)
            self._touch(key)
            if self.on_record is not None:
                self.on_record(key)
            if watch:
                self._notify(key, old, self._state[key], src)

    def _join_classic(self, src: str, decoded: list[tuple[str, Crdt, Crdt | None, bytes]]) -> None:
        """Classic delta / BP without RR: a delta-group that inflates X is buffered whole (as
        received: its bytes are the entries' encodings)."""
        subs = self.subscriptions
        inflating: list[tuple[str, Crdt, Any, Crdt | None]] = []
        for key, d, _, _ in decoded:
            x = self._state.get(key)
            if x is None or not d.leq(x):
                watch = bool(subs) and subs.wants(key)
                old = _MISSING if x is None else (x.value if watch else None)
                inflating.append((key, d, old, x))
        if not inflating:
            return
        for key, d, _old, x in inflating:
            if x is None:  # an earlier object of this message may have created it
                x = self._state.get(key)
            if x is None:
                self._state[key] = d.copy()
            else:
                x.merge(d)
        self._record_received([(key, d, data) for key, d, _, data in decoded], src)
        if subs:
            for key, _, old, _x in inflating:
                if subs.wants(key):
                    self._notify(key, old, self._state[key], src)

    def _is_crdt_type(self, t: type) -> bool:
        """Whether ``t`` follows the CRDT contract (cached per type: this is the receive path)."""
        ok = self._crdt_types.get(t)
        if ok is None:
            ok = self._crdt_types[t] = all(hasattr(t, name) for name in _CONTRACT)
            # Lattice.absorb (join and return what was new, in one pass) where the type has it
            self._absorbs[t] = getattr(t, "absorb", None) if ok else None
        return ok
