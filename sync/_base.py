"""What the parts of the sync engine share: the per-neighbour state, buffer entries,
message-size constants, and the engine attributes and methods the parts rely on.

:class:`~sync.SyncEngine` is assembled from five files, one protocol each: the delta buffer and
receive path (:mod:`sync._engine`), sending the delta-interval (:mod:`sync._flow`), the relay
hold (:mod:`sync._relay`), the catch-up of a new or long-absent neighbour (Hello, watermark,
object shipping: :mod:`sync._catchup`) and its Merkle digest descent (:mod:`sync._digest`).
They share one object's state; :class:`EngineBase` declares it once so each part type-checks
alone.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from sync._config import SyncConfig, SyncMode
from sync._flight import Flight
from sync._merkle import MerkleIndex
from sync._metrics import PeerMetrics, SyncMetrics
from sync._ranges import RangeTracker

if TYPE_CHECKING:
    from gossip._events import Effect
    from sync._catchup import Catchup
    from sync._messages import Hello, Message
    from sync._relay import Held
    from sync._subscriptions import Subscriptions

__all__ = ["MSG_OVERHEAD", "OBJ_OVERHEAD", "Codec", "Crdt", "EngineBase", "Entry", "Peer"]

Crdt = Any  # any type following the crdts contract (join/merge/leq/copy/diff/decompose/value)
Codec = tuple[Callable[[Any], bytes], Callable[[bytes], Any]]

OBJ_OVERHEAD = 8  # bytes of msgpack framing per (key, bytes) entry, for the size estimate
MSG_OVERHEAD = 48  # bytes of a message besides its objects


class Entry:
    """One delta of the buffer: sequence number, origin (``None``: local), object key; ``skip``:
    neighbours that hold it already or get it another way (relay_hold), never sent it; ``src``:
    for a received delta (relay_hold), the source's epoch and the end of the source's interval it
    came in (a neighbour reporting that stream held that far is not sent it, see sync._flow)."""

    __slots__ = ("delta", "enc", "key", "origin", "seq", "skip", "src")

    def __init__(  # noqa: PLR0917
        self,
        seq: int,
        origin: str | None,
        key: str,
        delta: Crdt,
        enc: bytes | None = None,
        skip: frozenset[str] | None = None,
        src: tuple[int, int] | None = None,
    ) -> None:
        self.seq = seq
        self.origin = origin
        self.key = key
        self.delta = delta
        self.enc = enc
        self.skip = skip
        self.src = src


class Peer:
    __slots__ = (
        "ack",
        "catchup",
        "deferred",
        "flight",
        "got_hello",
        "have",
        "have_acked",
        "have_moved",
        "hello_epoch",
        "known",
        "known_own",
        "metrics",
        "peer_activity",
        "sent_hi",
    )

    def __init__(self, mark: int, metrics: PeerMetrics) -> None:
        self.ack = RangeTracker(mark)
        # DEFAULT mode: the join, per object, of what this neighbour sent us since our last round
        # to it. It holds all of that (states only grow), so it need not be sent back.
        self.known: dict[str, Crdt] = {}
        self.known_own: set[str] = set()  # keys of ``known`` holding our own copy (mutable)
        self.catchup: Catchup | None = None
        self.got_hello = False
        self.hello_epoch: int | None = None
        self.metrics = metrics
        # A Merkle catch-up of this neighbour waiting for its own catch-up of us to end (both
        # knew nothing of the other: one descent at a time, see _on_hello); since when.
        self.deferred: float | None = None
        self.peer_activity = 0.0  # last time this neighbour's catch-up of us made progress
        # With resend_timeout: entries below sent_hi were sent (or need not be); the chunks not
        # acknowledged yet, when and how big (sync._flow).
        self.sent_hi = mark
        self.flight = Flight()
        # Its last Have report (relay_hold): its neighbours -> (epoch, watermark of their stream
        # it holds). The keys are its neighbour set.
        self.have: dict[str, tuple[int, int]] = {}
        self.have_acked = -1  # our ack mark for it in our last Have to it
        # per stream in its Have: when its watermark of that stream last moved (same epoch)
        self.have_moved: dict[str, float] = {}


class EngineBase:
    """The state every part of :class:`~sync.SyncEngine` reads (set in ``SyncEngine.__init__``)
    and the engine methods the catch-up parts call."""

    replica_id: str
    config: SyncConfig
    epoch: int
    metrics: SyncMetrics
    subscriptions: Subscriptions
    _rng: random.Random
    _canonical: Callable[[Crdt], bytes] | None
    _encode: Callable[[Crdt], bytes]
    _decode: Callable[[bytes], Crdt]
    _state: dict[str, Crdt]
    _count_elements: Callable[[Crdt], int] | None
    _mode: SyncMode
    _c: int
    _base: int
    _buf: deque[Entry]
    _peers: dict[str, Peer]
    _recv: OrderedDict[str, tuple[int, RangeTracker]]
    _early_hello: dict[str, Hello]
    _mod: dict[str, int]
    _unbuffered: int
    _merkle: MerkleIndex
    _state_bytes: OrderedDict[str, bytes]  # key -> its current state's canonical encoding
    _session: int
    _recovering: bool
    _relay: dict[str, deque[Held]]
    _released: dict[str, set[str]]
    _have_marks: list[tuple[str, int, int]]
    _joined: dict[tuple[Any, ...], tuple[Crdt, bytes]]

    if TYPE_CHECKING:

        def state_bytes(self, key: str) -> bytes | None: ...

        def _send(self, out: list[Effect], peer: str, msg: Message, payload: int = 0) -> None: ...

        def _count_sent(self, peer: str, objs: Iterable[Crdt]) -> None: ...

        def _split(self, x: Crdt) -> list[tuple[Crdt, bytes]]: ...

        def _recv_tracker(self, src: str, epoch: int) -> RangeTracker: ...

        def _index_unbuffered(self, keys: Iterable[str]) -> None: ...

        def _append(  # noqa: PLR0917
            self,
            key: str,
            delta: Crdt,
            origin: str | None,
            skip: frozenset[str] | None,
            src: tuple[int, int] | None = None,
            enc: bytes | None = None,
        ) -> None: ...
