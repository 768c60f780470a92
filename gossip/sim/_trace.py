"""What a run records: the event trace (for determinism checks and debugging) and emitted events."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import NamedTuple


class TraceEvent(NamedTuple):
    """One thing that happened, at virtual ``time`` on ``node``.

    ``kind`` is one of ``send`` (``(transport, dst, payload)``), ``recv`` (``(transport, src,
    payload)``), ``drop`` (``(transport, src, dst, reason, payload)``), ``timer`` (``(protocol,
    key)``), ``emit`` (``(protocol, event)``), ``unreachable`` (``(peer, reason)``), ``call``
    (``(protocol,)``), ``close`` (``(peer,)``), ``start``/``crash``/``restart`` (``(epoch,)``),
    ``partition``/``heal`` (a description). ``transport`` is ``"packet"`` or ``"stream"``.
    """

    time: float
    node: str
    kind: str
    detail: tuple[object, ...]


class EmitRecord(NamedTuple):
    """An :class:`~gossip.Emit` effect of a core, as the simulator kept it."""

    time: float
    node: str
    epoch: int
    protocol: str
    event: object


class TraceDigest:
    """A trace sink that keeps only a running SHA-256 (and, if asked, the events too): the
    determinism check of a run too big to keep its trace. Its digest equals
    :func:`trace_digest` of the same events."""

    __slots__ = ("_h", "events")

    def __init__(self, *, keep: bool) -> None:
        self._h = hashlib.sha256()
        self.events: list[TraceEvent] | None = [] if keep else None

    def append(self, ev: TraceEvent) -> None:
        self._h.update(repr(tuple(ev)).encode())
        self._h.update(b"\n")
        if self.events is not None:
            self.events.append(ev)

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def trace_digest(trace: Iterable[TraceEvent]) -> str:
    """A SHA-256 over the ``repr`` of every event: equal digests mean equal traces (floats are
    printed exactly by ``repr``, so two runs agree only if they agree bit for bit)."""
    h = hashlib.sha256()
    for ev in trace:
        h.update(repr(tuple(ev)).encode())
        h.update(b"\n")
    return h.hexdigest()
