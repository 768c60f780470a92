"""LWWRegister: a last-writer-wins register that respects causality.

Theory of operation. Causality first, timestamps second: the store is a DotFun
``dot -> (ts, value)`` exactly as in :class:`~crdts.MVRegister`, so a ``set`` supersedes every
write it has *observed*, whatever their timestamps; only writes that are concurrent (neither saw
the other) survive side by side, and among those ``value`` reads the one with the largest
``(ts, replica)``, the same on every replica. A plain ``(ts, value)`` register would instead let a
write made *after* seeing another lose to it when the writer's clock lags; with an :class:`HLC`
both orders agree anyway, and the causal form keeps the semantics of ``AWLWWMap``'s values.

``ts`` is any totally ordered value: an ``int`` or an :class:`~crdts.HLCTimestamp` (the two kinds
are ordered ints first, should a register ever hold both). ``value`` is ``None`` while unset.
"""

from __future__ import annotations

from typing import Any

from crdts._causal import CausalContext, Dot
from crdts._codec import TAGS, Reader, Writer, check_replica, check_ts, check_value, register
from crdts._dotstore import DotFunCausal, causal_codec
from crdts._hlc import HLCTimestamp

__all__ = ["LWWRegister"]


def _rank(item: tuple[Dot, tuple[Any, Any]]) -> tuple[bool, Any, str]:
    (replica, _), (ts, _) = item
    return (type(ts) is HLCTimestamp, ts, replica)


class LWWRegister(DotFunCausal):
    """Last-writer-wins register (causality first, then ``(ts, replica)``)."""

    __slots__ = ()
    KIND = "lwwregister"

    def set(self, replica: str, value: Any, ts: int | HLCTimestamp) -> LWWRegister:
        """Set ``value`` at time ``ts`` on behalf of ``replica``, superseding every write seen;
        returns the delta."""
        check_replica(replica)
        check_value(value)
        check_ts(ts)
        s = self._store
        d = self._cc.make_dot(replica)
        dcc = CausalContext.from_dots((d, *s))
        s.clear()
        entry = (ts, value)
        s[d] = entry
        return LWWRegister._make({d: entry}, dcc)

    @property
    def timestamp(self) -> int | HLCTimestamp | None:
        """The timestamp of the winning write (``None`` while unset)."""
        s = self._store
        if not s:
            return None
        ts: int | HLCTimestamp = max(s.items(), key=_rank)[1][0]
        return ts

    @classmethod
    def _s_value(cls, s: dict[Dot, tuple[Any, Any]]) -> Any:
        if not s:
            return None
        if len(s) == 1:
            for _, v in s.values():
                return v
        return max(s.items(), key=_rank)[1][1]

    @classmethod
    def _v_encode(cls, v: tuple[Any, Any], w: Writer) -> Any:
        return (w.ts(v[0]), v[1])

    @classmethod
    def _v_decode(cls, obj: Any, r: Reader) -> tuple[Any, Any]:
        ts, value = r.array(obj, 2)
        return (r.ts(ts), r.value(value))


_enc, _dec = causal_codec(LWWRegister)
register(LWWRegister, tag=TAGS["LWWRegister"], version=1, encode=_enc, decode=_dec)
