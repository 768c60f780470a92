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
buffer and what records a change; receiving (decode, check, join) is :mod:`sync._receive`,
sending the interval (chunks, resends, flow control) :mod:`sync._flow`, the relay hold
:mod:`sync._relay`.
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
    DecodeError,
    PeerError,
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
    Objects,
    ObjectsAck,
    decode_message,
    encode_message,
)
from sync._metrics import SyncMetrics
from sync._ranges import RangeTracker
from sync._receive import ReceiveMixin
from sync._relay import Held, RelayMixin
from sync._subscriptions import _MISSING, Change, Subscription, Subscriptions, describe_change

__all__ = ["CatchupCompleted", "Entry", "SyncEngine"]

_ROUND = ("sync", "round")
# Encodings of current states kept for reuse (state_bytes): the Merkle item hash, the Node's
# committer and catch-up shipping each need the object's bytes after a change; one encode serves
# all three unless the object changes in between. Bounded: the most recently encoded only.
_STATE_BYTES_CACHE = 4096


class SyncEngine(FlowMixin, RelayMixin, CatchupMixin, ReceiveMixin):
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
