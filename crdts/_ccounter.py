"""CausalCounter: a counter that can live inside an ``ORMap`` (and be reset by removing its key).

Theory of operation (Almeida et al. 2018 §7.3, "causal counter"; riak_dt's ``emcntr``). The store
is a DotFun ``dot -> total``: each replica keeps one live dot carrying its running total
(increments minus decrements). An increment creates a fresh dot holding the old total plus ``n``
and supersedes the replica's previous dot. Because it is a causal type, removing the counter's key
from a map removes exactly the dots that remove observed: increments concurrent with the removal
survive (add-wins, like riak_dt and Akka). ``value`` is the sum of the totals.
"""

from __future__ import annotations

from typing import Any

from crdts._causal import CausalContext, Dot
from crdts._codec import TAGS, Reader, Writer, check_replica, register
from crdts._dotstore import DotFunCausal, causal_codec
from crdts._errors import UsageError

__all__ = ["CausalCounter"]

_LIMIT = 1 << 63


class CausalCounter(DotFunCausal):
    """Increment/decrement counter over dots. ``value``: an ``int``."""

    __slots__ = ()
    KIND = "counter"

    def increment(self, replica: str, n: int = 1) -> CausalCounter:
        """Add ``n >= 0`` on behalf of ``replica``; returns the delta (bottom if ``n == 0``)."""
        return self._add(replica, n, 1)

    def decrement(self, replica: str, n: int = 1) -> CausalCounter:
        """Subtract ``n >= 0`` for ``replica``; returns the delta (bottom if ``n == 0``)."""
        return self._add(replica, n, -1)

    def _add(self, replica: str, n: int, sign: int) -> CausalCounter:
        check_replica(replica)
        if type(n) is not int or n < 0:
            raise UsageError(f"n must be an int >= 0, not {n!r}")
        if n == 0:
            return CausalCounter()
        s: dict[Dot, int] = self._store
        mine = [d for d in s if d[0] == replica]
        total = sum(s[d] for d in mine) + sign * n
        if not -_LIMIT <= total < _LIMIT:
            raise UsageError("a replica's counter total must fit in 64 bits")
        d = self._cc.make_dot(replica)
        for od in mine:
            del s[od]
        s[d] = total
        mine.append(d)
        return CausalCounter._make({d: total}, CausalContext.from_dots(mine))

    @classmethod
    def _s_value(cls, s: dict[Dot, int]) -> int:
        return sum(s.values())

    @classmethod
    def _v_encode(cls, v: int, w: Writer) -> Any:
        return v

    @classmethod
    def _v_decode(cls, obj: Any, r: Reader) -> int:
        return r.integer(obj, -_LIMIT, _LIMIT - 1)


_enc, _dec = causal_codec(CausalCounter)
register(CausalCounter, tag=TAGS["CausalCounter"], version=1, encode=_enc, decode=_dec)
