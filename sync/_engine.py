"""The delta-sync engine: a sans-I/O core that keeps a keyspace of CRDT objects in sync with the
current neighbours.

Theory of operation
-------------------
Almeida, Shoker, Baquero, "Delta state replicated data types" (JPDC 2018), **Algorithm 2**: every
change to the local state ``X`` (a local mutation, or a received delta that inflates ``X``) is
appended to a *delta buffer* under a sequence number ``c``. Each round (one timer per engine, never
per object) a neighbour ``j`` is sent the *delta-interval* ``[A(j), c)``: the buffered deltas it
has not acknowledged, joined per object. ``j`` joins what it receives and acknowledges the interval;
``A(j)`` advances only over acknowledged intervals, contiguously (:class:`RangeTracker`). Unacked
intervals are simply sent again next round (retransmission), so loss, duplication and reordering
are harmless: everything is a lattice join. With ``resend_timeout`` set, a chunk already sent
and not yet acknowledged goes again only after an adaptive timeout, and what is in flight can
be bounded (:mod:`sync._flow`). Buffer entries are garbage-collected only once **every current
neighbour** has acknowledged them.

Enes, Almeida, Baquero, Leitão, "Efficient Synchronization of State-based CRDTs" (ICDE 2019), two
optimisations (each selectable, see :class:`SyncMode`):

- **BP** (avoid back-propagation): buffer entries carry their origin; an entry is never sent back to
  the neighbour it came from.
- **RR** (remove redundant state): a received delta ``d`` for an object ``x`` is reduced to
  ``Δ(d, x) = d.diff(x)``, the join of the irreducibles of ``d`` that ``x`` lacks; only that is
  joined and buffered, so already-known state is never forwarded again (cycles in a mesh).

The default mode adds one rule (BP generalised from origins to content): what a neighbour sent us
since our last round to it is subtracted (``diff``) from what we send it, since it still holds it.

Keyspace and messages: objects are named by ``str`` keys; the buffer holds ``(seq, origin, key,
delta)`` entries, so a message batches the objects of an interval and is cut at object
boundaries to stay under ``max_message_bytes``: chunk ``[lo, hi)`` carries every object whose first
entry in the interval is in ``[lo, hi)``, joined over the *whole* interval, so a chunk's claim
"you now have my entries in ``[lo, hi)``" holds once all earlier chunks are acked too.

Catch-up: a new neighbour starts at ``A(j) = c``; everything older is delivered by a catch-up
(:mod:`sync._catchup`: Hello, watermark, object shipping; :mod:`sync._digest`: the Merkle digest
descent), whose traffic grows with the difference, not the keyspace. This module is the delta
buffer and the receive path both protocols share; sending the interval (chunks, resends, flow
control) is :mod:`sync._flow`, the relay hold :mod:`sync._relay`.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import partial
from typing import Any

from gossip._events import (
    Effect,
    Event,
    PacketReceived,
    SendPacket,
    SendStream,
    SetTimer,
    StreamReceived,
    TimerFired,
)
from sync._base import MSG_OVERHEAD, OBJ_OVERHEAD, Codec, Crdt, Entry, Peer
from sync._catchup import CatchupCompleted, CatchupMixin
from sync._config import SyncConfig
from sync._errors import (
    CorruptRecordError,
    DecodeError,
    NotACrdtError,
    ObjectTooLargeError,
    PeerError,
    TypeMismatchError,
    UsageError,
)
from sync._flow import FlowMixin
from sync._lazy import LazyState
from sync._merkle import MerkleIndex
from sync._messages import (
    Ack,
    Delta,
    Digest,
    DigestReply,
    Have,
    Hello,
    Message,
    ObjectEntry,
    Objects,
    ObjectsAck,
    decode_message,
    encode_message,
)
from sync._metrics import SyncMetrics
from sync._ranges import RangeTracker
from sync._relay import Held, RelayMixin
from sync._subscriptions import _MISSING, Change, Subscription, Subscriptions, describe_change

__all__ = ["CatchupCompleted", "Entry", "SyncEngine"]

_ROUND = ("sync", "round")
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
# Encodings of current states kept for reuse (state_bytes): the Merkle item hash, the Node's
# committer and catch-up shipping each need the object's bytes after a change; one encode serves
# all three unless the object changes in between. Bounded: the most recently encoded only.
_STATE_BYTES_CACHE = 4096


class SyncEngine(FlowMixin, RelayMixin, CatchupMixin):
    """A replica's keyspace of CRDT objects and the sync protocol with its neighbours.

    Drive it like every core: ``start(now)``, then ``handle(event, now)`` for sync payloads, its
    timer and :class:`PeerUnreachable`; tell it the neighbour set with :meth:`neighbor_up`,
    :meth:`neighbor_down` or :meth:`set_neighbors`; mutate objects with :meth:`update`. Each call
    returns the effects to carry out.

    ``state`` (optional) is an existing keyspace dict, used **as is** (not copied): after a crash
    that kept the state but lost the engine (buffer, acks), build a new engine over the same dict;
    a new ``epoch`` (drawn afresh when not given) tells the neighbours that this replica's stream
    restarted; a caller passing ``epoch`` must never reuse one. ``state`` may be a
    :class:`~sync._lazy.LazyState` (objects decoded on first use); ``item_hashes`` then gives the
    Merkle item hash of some of its objects (``item_hash(key, crdts.encode(x,
    canonical=True))``, e.g. from the canonical bytes kept on disk; only keys of ``state``), so
    that none of them is decoded to index it.
    """

    protocol = "sync"

    def __init__(
        self,
        replica_id: str,
        config: SyncConfig | None = None,
        rng: random.Random | None = None,
        *,
        state: dict[str, Crdt] | None = None,
        epoch: int | None = None,
        codec: Codec | None = None,
        count_elements: Callable[[Crdt], int] | None = None,
        item_hashes: Mapping[str, int] | None = None,
    ) -> None:
        if not isinstance(replica_id, str) or not replica_id:
            raise UsageError("replica_id must be a non-empty str")
        self.replica_id = replica_id
        self.config = config or SyncConfig()
        # The epoch names this incarnation's delta stream and must differ from every earlier
        # one (a peer's Hello watermark of the old stream would otherwise be taken for the new
        # one, and entries lost with the old buffer would never ship). A caller's rng is one
        # stream per incarnation (the simulator's is); without one, a deterministic default
        # rng would repeat the epoch at each restart, so the epoch comes from the OS instead.
        if epoch is None:
            epoch = (rng or random.SystemRandom()).getrandbits(63)
        self._rng = rng or random.Random(replica_id)
        self.epoch: int = epoch
        # the Merkle item hash needs equal bytes for equal states: the crdts codec's canonical
        # form gives them in one encode; a caller's codec may not, so it is hashed per
        # join-irreducible instead (see _encoded_state)
        self._canonical: Callable[[Crdt], bytes] | None = None
        if codec is None:
            import crdts

            codec = (crdts.encode, crdts.decode)
            self._canonical = partial(crdts.encode, canonical=True)
        self._encode, self._decode = codec
        self._count_elements = count_elements
        self._state: dict[str, Crdt] = {} if state is None else state
        self._mode = self.config.mode
        # Algorithm 2: sequence counter, delta buffer (seq = _base + index), per-neighbour acks.
        # Sequence 0 stands for the state this engine was built with (never buffered): a
        # watermark of 0 vouches for nothing, so a peer must first be caught up by digest.
        self._c = 1
        self._base = 1
        self._buf: deque[Entry] = deque()
        self._peers: dict[str, Peer] = {}
        # What we hold of each peer's stream: addr -> (their epoch, watermark tracker).
        self._recv: OrderedDict[str, tuple[int, RangeTracker]] = OrderedDict()
        self._early_hello: dict[str, Hello] = {}
        self._crdt_types: dict[type, bool] = {}
        # per CRDT type received: its absorb (``None``: leq, diff and merge instead)
        self._absorbs: dict[type, Callable[[Crdt, Crdt], Crdt | None] | None] = {}
        self._recent: OrderedDict[tuple[str, bytes], Crdt] = OrderedDict()
        self._recent_cost = 0  # bytes charged for _recent's entries (see _RECENT_BUDGET)
        # this round's joins of several buffer entries of one object: (key, *seqs) -> (delta, enc)
        self._joined: dict[tuple[Any, ...], tuple[Crdt, bytes]] = {}
        # Modification index: key -> seq of its last change, ordered by seq (move to end). Keys
        # unchanged since construction (seq 0) are left out: a watermark >= 1 covers them.
        self._mod: dict[str, int] = {}
        # c when a change was last indexed without a buffer entry (_index_unbuffered): a
        # watermark at or below it does not cover everything since it, the buffer does not hold it
        self._unbuffered = 0
        # relay_hold: the Delta being received ((epoch, hi, now) of its source's stream), the
        # received deltas waiting to be relayed, and the last Have report sent
        self._rx: tuple[int, int, float] | None = None
        self._relay: dict[str, deque[Held]] = {}  # per source, in arrival order
        # per source: the neighbours its held relays were already released to at once (the
        # source or the link between them went away), so each change is acted on once
        self._released: dict[str, set[str]] = {}
        self._have_marks: list[tuple[str, int, int]] = []
        self._merkle = MerkleIndex()
        if item_hashes:  # known: indexed without encoding (or decoding) those objects
            self._merkle.load(item_hashes)
            if len(item_hashes) < len(self._state):
                self._merkle.touch_all(k for k in self._state if k not in item_hashes)
        else:
            self._merkle.touch_all(self._state)
        self._state_bytes: OrderedDict[str, bytes] = OrderedDict()
        # over a LazyState: objects not decoded yet, whose stored bytes are their state_bytes
        self._lazy = self._state if isinstance(self._state, LazyState) else None
        self._session = 0
        # Built over a kept, non-empty state (a restart): likely stale until a neighbour has
        # caught us up; told in our Hello so that catch-up goes first (see _on_hello).
        self._recovering = bool(self._state)
        self.metrics = SyncMetrics(max_peers=self.config.max_peer_metrics)
        self.subscriptions = Subscriptions()
        # Called with the key of every recorded change of an object, local or received, even one
        # invisible in its value (a context-only inflation): the Node persists those objects.
        self.on_record: Callable[[str], None] | None = None
        self._started = False

    # -- the keyspace ----------------------------------------------------------------------------

    def get(self, key: str) -> Crdt | None:
        """The live object under ``key`` (do not mutate it directly: use :meth:`update`)."""
        return self._state.get(key)

    def value(self, key: str, default: Any = None) -> Any:
        x = self._state.get(key)
        return default if x is None else x.value

    def keys(self) -> Iterator[str]:
        return iter(self._state)

    def __iter__(self) -> Iterator[str]:
        return iter(self._state)

    def __contains__(self, key: object) -> bool:
        return key in self._state

    def __len__(self) -> int:
        return len(self._state)

    @property
    def state(self) -> Mapping[str, Crdt]:
        return self._state

    @property
    def neighbors(self) -> frozenset[str]:
        return frozenset(self._peers)

    # -- local mutations -------------------------------------------------------------------------

    def update(
        self,
        key: str,
        mutator: Callable[[Crdt], Crdt],
        *,
        create: Callable[[], Crdt] | None = None,
    ) -> Crdt:
        """Apply a delta-mutator to object ``key`` and record the delta it returns.

        ``mutator(x)`` must change ``x`` in place and return the delta (the crdts contract). If
        ``key`` is absent, ``create()`` builds its bottom first (else :class:`UsageError`).
        """
        if not isinstance(key, str):
            raise UsageError(f"keys are str, got {type(key).__name__}")
        x = self._state.get(key)
        is_new = x is None
        if x is None:
            if create is None:
                raise UsageError(f"no object {key!r}: pass create= to make it")
            x = create()
        watch = self.subscriptions.wants(key)
        old = _MISSING if is_new else (x.value if watch else None)
        delta = mutator(x)
        if delta is None or not hasattr(delta, "join"):
            raise UsageError("a mutator must return its delta (a CRDT), got " + repr(delta))
        if is_new:
            self._state[key] = x
        self._record(key, delta, None)
        if watch:
            self._notify(key, old, x, None)
        return delta

    def apply(self, key: str, delta: Crdt) -> None:
        """Join an externally computed delta into object ``key`` and record it (local origin)."""
        if not isinstance(key, str):
            raise UsageError(f"keys are str, got {type(key).__name__}")
        x = self._state.get(key)
        if x is not None and type(x) is not type(delta):
            raise UsageError(f"{key!r} holds a {type(x).__name__}, not {type(delta).__name__}")
        watch = self.subscriptions.wants(key)
        old = _MISSING if x is None else (x.value if watch else None)
        if x is None:
            self._state[key] = x = delta.copy()
        elif delta.leq(x):
            return
        else:
            x.merge(delta)
        self._record(key, delta.copy(), None)
        if watch:
            self._notify(key, old, x, None)

    def subscribe(
        self,
        callback: Callable[[Change], object],
        *,
        key: str | None = None,
        prefix: str | None = None,
    ) -> Subscription:
        """Call ``callback(change)`` whenever object ``key`` (or any key starting with
        ``prefix``) changes, locally or from a peer. A raising callback is counted, never fatal."""
        return self.subscriptions.subscribe(callback, key=key, prefix=prefix)

    def _notify(self, key: str, old: Any, x: Crdt, origin: str | None) -> None:
        try:
            change = describe_change(key, old, x.value, origin)
        except Exception as exc:  # a value that cannot be compared: still never fatal
            self.subscriptions.errors += 1
            self.subscriptions.last_error = exc
            self.metrics.callback_errors = self.subscriptions.errors
            return
        if change is not None:
            self.subscriptions.notify(change)
            self.metrics.callback_errors = self.subscriptions.errors

    def state_bytes(self, key: str) -> bytes | None:
        """The encoding of object ``key``'s current state (``None``: no such object), canonical
        with the crdts codec (equal states, equal bytes). Computed once per change of the object
        and shared by the Merkle index, catch-up shipping and the Node's store. An object of a
        :class:`~sync._lazy.LazyState` not decoded yet: its stored bytes (the Node stores these
        bytes, canonical since data dir format 2), without decoding it."""
        b = self._state_bytes.get(key)
        if b is None:
            lazy = self._lazy
            if lazy is not None and lazy.raw:  # not decoded yet: its stored bytes are these
                b = lazy.raw.get(key)
                if b is not None and key not in lazy.failed:
                    return b
                x = self._state.get(key)
            else:  # nothing left to decode: the dict itself (no LazyState.get call)
                x = dict.get(self._state, key)
            if x is None:
                return None
            b = (self._canonical or self._encode)(x)
            cache = self._state_bytes
            cache[key] = b
            if len(cache) > _STATE_BYTES_CACHE:
                cache.popitem(last=False)
        return b

    def _touch(self, key: str) -> None:
        """Object ``key`` changed: its Merkle item hash and cached bytes are stale."""
        self._merkle.touch(key)
        self._state_bytes.pop(key, None)

    def _record(self, key: str, delta: Crdt, origin: str | None, enc: bytes | None = None) -> None:
        """Record one change of object ``key`` (``delta``, encoded as ``enc`` when known) from
        ``origin`` (``None``: local); the receive path records a message's changes at once
        (:meth:`_record_received`)."""
        if origin is not None:
            self._record_received([(key, delta, enc)], origin)
            return
        self._touch(key)
        if self.on_record is not None:
            self.on_record(key)
        if not self._mode.delta:
            return
        if not self._peers:  # nobody to deliver to: a future neighbour gets a catch-up instead
            self._c += 1
            self._mod.pop(key, None)
            self._mod[key] = self._c - 1
            self._gc()
            return
        self._append(key, delta, None, None, None, enc)

    def _record_received(self, changes: list[tuple[str, Crdt, bytes | None]], origin: str) -> None:
        """Record the changes one message from ``origin`` made, in order: ``(key, delta, enc)``,
        ``enc`` the delta's encoding when known (the received bytes, when all of a received
        delta was new), else ``None`` (encoded here). What is the same for every object of a
        message is decided once: the relay hold (one :class:`Held` per message) and the buffer
        entries' ``skip`` and ``src``. ``changes`` is kept (by a hold): not reused by callers."""
        keys = [key for key, _, _ in changes]
        self._merkle.touch_all(keys)
        cached = self._state_bytes
        if cached:
            for key in keys:
                cached.pop(key, None)
        on_record = self.on_record
        if on_record is not None:
            for key in keys:
                on_record(key)
        if not self._mode.delta:
            return
        mod = self._mod
        if not self._peers:  # nobody to deliver to: a future neighbour gets a catch-up instead
            for key, _, _ in changes:
                self._c += 1
                mod.pop(key, None)
                mod[key] = self._c - 1
            self._gc()
            return
        skip: frozenset[str] | None = None
        src: tuple[int, int] | None = None
        peers = self._peers
        # neighbours that will never be sent these changes: the origin (BP), and those the
        # relay hold makes wait for it
        covered = 1 if self._mode.bp and origin in peers else 0
        rx = self._rx
        if rx is not None:
            src = rx[:2]
            later = self._hold_relay(origin)
            if later is not None:
                self._hold(origin, changes, later, rx)
                skip = frozenset(later).union((origin,))
                covered = len(later) + 1
        if covered >= len(peers):
            # Nobody to send them to now (a buffer entry would only be acknowledged unsent and
            # collected): indexed at c like a held relay, for a catch-up by index.
            self._index_unbuffered(keys)
            return
        # _append inlined for the usual case (a delta under the message cap)
        buf = self._buf
        limit = self.config.max_message_bytes - OBJ_OVERHEAD - MSG_OVERHEAD
        encode = self._encode
        for key, delta, enc in changes:
            if enc is None:
                enc = encode(delta)
            if len(enc) + len(key) > limit:
                self._append(key, delta, origin, skip, src, enc)
                continue
            c = self._c
            buf.append(Entry(c, origin, key, delta, enc, skip, src))
            self._c = c + 1
            mod.pop(key, None)
            mod[key] = c

    def _index_unbuffered(self, keys: Iterable[str]) -> None:
        """Index changes that are not (yet) in the buffer (relays held or dropped, changes no
        neighbour is to be sent) at ``c``: a neighbour's watermark of our stream says nothing
        about them, so one at or below ``c`` that comes back is caught up by index (which ships
        these keys), not by resending the buffer (see _on_hello)."""
        mod = self._mod
        c = self._c
        for key in keys:
            mod.pop(key, None)
            mod[key] = c
        self._unbuffered = c

    def _append(  # noqa: PLR0917
        self,
        key: str,
        delta: Crdt,
        origin: str | None,
        skip: frozenset[str] | None,
        src: tuple[int, int] | None = None,
        enc: bytes | None = None,
    ) -> None:
        """Buffer ``delta`` (encoded as ``enc``, or here) under the next sequence number(s)."""
        if enc is None:
            enc = self._encode(delta)
        parts = (
            self._split(delta)
            if len(enc) + len(key) + OBJ_OVERHEAD + MSG_OVERHEAD > self.config.max_message_bytes
            else [(delta, enc)]
        )
        for d, e in parts:  # an oversized delta becomes several entries, each under the cap
            self._buf.append(Entry(self._c, origin, key, d, e, skip, src))
            self._c += 1
        self._mod.pop(key, None)
        self._mod[key] = self._c - 1

    def _split(self, x: Crdt) -> list[tuple[Crdt, bytes]]:
        """Cut an object too big for one message into parts that fit: joins of disjoint sets of
        its join-irreducibles. Each irreducible of a causal type carries only the context of the
        dots it holds, so no part claims more than it carries; the parts join back to ``x``."""
        limit = self.config.max_message_bytes - MSG_OVERHEAD - 2 * OBJ_OVERHEAD - 64
        parts: list[Crdt] = []
        cur: Crdt | None = None
        acc = 0
        # causal types offer coarse parts: the live entries one by one, but the removed dots as
        # runs (decompose lists every dot a context claims, which a forged one makes 10**12)
        coarse = getattr(x, "coarse_parts", None)
        for z in coarse() if coarse is not None else x.decompose():
            size = len(self._encode(z))
            if cur is not None and acc + size > limit:
                parts.append(cur)
                cur, acc = None, 0
            if cur is None:
                cur = z.copy()
            else:
                cur.merge(z)
            acc += size
        if cur is not None:
            parts.append(cur)
        return [(p, self._encode(p)) for p in parts] or [(x, self._encode(x))]

    # -- neighbours ------------------------------------------------------------------------------

    def neighbor_up(self, peer: str, now: float) -> list[Effect]:
        """``peer`` became a neighbour. It starts at ``A(peer) = c``; older state reaches it by a
        catch-up decided when its :class:`Hello` arrives."""
        if peer == "" or peer in self._peers:
            return []
        p = self._peers[peer] = Peer(self._c, self.metrics.peer(peer, own=True))
        out: list[Effect] = []
        if self._mode.delta:
            self._send(out, peer, self._hello_for(peer, p))
            early = self._early_hello.pop(peer, None)
            if early is not None:
                self._on_hello(peer, early, now, out)
        return out

    def neighbor_down(self, peer: str, now: float) -> list[Effect]:
        """``peer`` is no longer a neighbour: forget its ack (so the buffer can be collected) and
        any catch-up in progress. What we received from it is remembered for a later Hello."""
        if self._peers.pop(peer, None) is not None:
            self._gc()
        self._early_hello.pop(peer, None)
        return []

    def set_neighbors(self, peers: Iterable[str], now: float) -> list[Effect]:
        """Make the neighbour set exactly ``peers`` (for fixed overlays)."""
        want = set(peers)
        out: list[Effect] = []
        for p in list(self._peers):
            if p not in want:
                out += self.neighbor_down(p, now)
        for p in sorted(want):
            out += self.neighbor_up(p, now)
        return out

    def on_overlay(self, notification: object, now: float) -> list[Effect]:
        """Feed an overlay notification: HyParView's ``NeighborUp``/``NeighborDown`` (what its
        core emits) become :meth:`neighbor_up`/:meth:`neighbor_down`; anything else is ignored."""
        from gossip.hyparview import NeighborDown, NeighborUp

        if isinstance(notification, NeighborUp):
            return self.neighbor_up(notification.peer, now)
        if isinstance(notification, NeighborDown):
            return self.neighbor_down(notification.peer, now)
        return []

    # -- driver interface -------------------------------------------------------------------------

    def start(self, now: float) -> list[Effect]:
        """Arm the sync timer. The first round comes after a random fraction of the interval
        (from ``rng``), so replicas started together do not sync in lockstep."""
        self._started = True
        first = self.config.sync_interval * (1.0 - self._rng.random())  # in (0, interval]
        return [SetTimer(_ROUND, now + first)]

    def handle(self, event: Event, now: float) -> list[Effect]:
        if isinstance(event, StreamReceived | PacketReceived):
            return self._on_data(event.src, event.data, now)
        if isinstance(event, TimerFired):
            if event.key == _ROUND:
                out = self.sync_now(now)
                out.append(SetTimer(_ROUND, now + self.config.sync_interval))
                return out
            return []
        # PeerUnreachable: frames may be lost; unacked intervals are resent next round anyway.
        return []

    def sync_now(self, now: float) -> list[Effect]:
        """Run one sync round immediately (the timer does this every ``sync_interval``)."""
        self.metrics.rounds += 1
        self._joined.clear()
        out: list[Effect] = []
        if not self._mode.delta:
            self._state_round(out)
            return out
        prehash = self.config.merkle_prehash_per_round
        if prehash and self._merkle.dirty:  # bounded: the index is ready before it is needed
            self._flush_merkle(prehash)
        if self.config.relay_hold:
            self._relay_due(now)
            if self._peers:
                self._report_have(out)
        for peer, p in self._peers.items():
            if not p.got_hello:  # Hellos are resent until the neighbour's own arrives
                self._send(out, peer, self._hello_for(peer, p))
            budget = self.config.max_messages_per_round
            budget -= self._send_interval(peer, p, out, budget, now)
            p.known.clear()
            p.known_own.clear()
            if p.catchup is not None:  # at least one step per round, even behind a big interval
                self._catchup_round(peer, p, now, out, max(1, budget))
            elif p.deferred is not None and now - p.peer_activity > self.config.catchup_timeout:
                self._start_merkle(peer, p, now, out)  # its catch-up of us stalled: go anyway
        self._gc()
        return out

    # -- sending ----------------------------------------------------------------------------------

    def _send(self, out: list[Effect], peer: str, msg: Message, payload: int = 0) -> None:
        data = encode_message(msg)
        m = self.metrics.peer(peer)
        m.sent_msgs += 1
        m.sent_payload_bytes += payload
        m.sent_meta_bytes += len(data) - payload
        out.append(SendPacket(peer, data) if self.config.use_packets else SendStream(peer, data))

    def _count_sent(self, peer: str, objs: Iterable[Crdt]) -> None:
        m = self.metrics.peer(peer)
        for x in objs:
            m.sent_objects += 1
            if self._count_elements is not None:
                m.sent_elements += self._count_elements(x)

    # -- receiving --------------------------------------------------------------------------------

    def _on_data(self, src: str, data: bytes, now: float) -> list[Effect]:
        m = self.metrics.peer(src)
        m.recv_msgs += 1
        try:
            msg = decode_message(data)
        except DecodeError as exc:
            m.recv_meta_bytes += len(data)
            self.metrics.count_error(src, exc)
            return []
        payload = sum(len(e) for _, e in msg.objects) if isinstance(msg, Delta | Objects) else 0
        m.recv_payload_bytes += payload
        m.recv_meta_bytes += len(data) - payload
        out: list[Effect] = []
        try:
            if isinstance(msg, Delta):
                self._on_delta(src, msg, out, now)
            elif isinstance(msg, Ack):
                self._on_ack(src, msg, now)
            elif isinstance(msg, Hello):
                self._on_hello(src, msg, now, out)
            elif isinstance(msg, Digest):
                self._peer_progress(src, now)
                self._on_digest(src, msg, out)
            elif isinstance(msg, DigestReply):
                self._on_digest_reply(src, msg, now, out)
            elif isinstance(msg, Objects):
                self._peer_progress(src, now)
                self._receive_objects(src, msg.objects)
                self._send(out, src, ObjectsAck(msg.session, msg.lo, msg.hi))
            elif isinstance(msg, ObjectsAck):
                self._on_objects_ack(src, msg, now, out)
            elif isinstance(msg, Have):
                self._on_have(src, msg, now)
            else:
                self._on_catchup_done(src, msg, now, out)
        except PeerError as exc:
            self.metrics.count_error(src, exc)
        return out

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

    # -- introspection ----------------------------------------------------------------------------

    @property
    def seq(self) -> int:
        """``c``: the next sequence number of this replica's delta stream."""
        return self._c

    @property
    def buffer_size(self) -> int:
        """Entries in the delta buffer (not yet acknowledged by every neighbour)."""
        return len(self._buf)

    def buffer(self) -> Iterator[tuple[int, str | None, str, Crdt]]:
        """``(seq, origin, key, delta)`` of every buffered entry, oldest first."""
        for e in self._buf:
            yield e.seq, e.origin, e.key, e.delta

    def acks(self) -> dict[str, int]:
        """``A(j)`` per current neighbour."""
        return {peer: p.ack.mark for peer, p in self._peers.items()}

    def objects_pending(self) -> int:
        """Distinct objects not yet acknowledged by some neighbour, plus unsent catch-up objects."""
        pending = {e.key for e in self._buf}
        for q in self._relay.values():
            pending.update(key for h in q for key, _, _ in h.items)
        for p in self._peers.values():
            if p.catchup is not None:
                pending.update(p.catchup.ship[p.catchup.shipped.mark :])
        return len(pending)

    def catching_up(self) -> dict[str, str]:
        """Neighbours with a catch-up in progress, and how (``index`` or ``merkle``)."""
        return {peer: p.catchup.via for peer, p in self._peers.items() if p.catchup is not None}

    def snapshot_metrics(self) -> dict[str, Any]:
        d = self.metrics.as_dict()
        d["buffer_entries"] = self.buffer_size
        d["objects"] = len(self._state)
        d["objects_pending"] = self.objects_pending()
        d["neighbors"] = sorted(self._peers)
        d["callback_errors"] = self.subscriptions.errors
        return d
