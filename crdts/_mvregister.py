"""MVRegister: the multi-value register.

Theory of operation (Shapiro et al. 2011; the DotFun form of Almeida et al. 2018 §7.2). The store
is a DotFun ``dot -> value``. ``set`` creates a fresh dot and supersedes every dot it has seen, so
after a set the register holds one value; concurrent sets (neither saw the other's dot) all
survive until a later set supersedes them. ``value`` is the ``frozenset`` of surviving values.
"""

from __future__ import annotations

from typing import Any

from crdts._causal import CausalContext
from crdts._codec import TAGS, check_replica, check_value, register
from crdts._dotstore import DotFunCausal, causal_codec

__all__ = ["MVRegister"]


class MVRegister(DotFunCausal):
    """Multi-value register. ``value``: the ``frozenset`` of concurrently set values."""

    __slots__ = ()
    KIND = "mvregister"

    def set(self, replica: str, value: Any) -> MVRegister:
        """Set ``value`` on behalf of ``replica``, superseding every value seen; returns the
        delta."""
        check_replica(replica)
        check_value(value)
        s = self._store
        d = self._cc.make_dot(replica)
        dcc = CausalContext.from_dots((d, *s))
        s.clear()
        s[d] = value
        return MVRegister._make({d: value}, dcc)

    @classmethod
    def _s_value(cls, s: dict[Any, Any]) -> frozenset[Any]:
        return frozenset(s.values())


_enc, _dec = causal_codec(MVRegister)
register(MVRegister, tag=TAGS["MVRegister"], version=1, encode=_enc, decode=_dec)
