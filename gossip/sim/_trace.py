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


def trace_digest(trace: Iterable[TraceEvent]) -> str:
    """A SHA-256 over the ``repr`` of every event: equal digests mean equal traces (floats are
    printed exactly by ``repr``, so two runs agree only if they agree bit for bit)."""
    h = hashlib.sha256()
    for ev in trace:
        h.update(repr(tuple(ev)).encode())
        h.update(b"\n")
    return h.hexdigest()
