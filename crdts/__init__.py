"""Pure-data delta-state CRDTs: lattices, dot stores, causal contexts and a msgpack codec.

No I/O, no clocks, no global randomness: timestamps and replica ids are arguments.

Every type follows one contract: ``T()`` is bottom; ``join`` (pure), ``merge`` (in place),
``leq``, ``==``, ``copy()``, ``value``, ``decompose()``, ``diff(other)``; mutators apply in place
and return their delta. ``encode``/``decode`` serialise any of them. See ``docs/crdts.md``.

For type authors: the :class:`Lattice` mixin (``bottom``, ``<=``, a default ``join`` and
``absorb`` from your ``copy``/``merge``/``leq``/``diff``), :class:`CausalContext` and
:data:`Dot`, the codec registry :func:`register`/:data:`TAGS` with the
:class:`Writer`/:class:`Reader` helpers (your tags start at 128), :func:`check_value` and the
error classes; ``crdts.testing`` checks your type against
the same law suite (``docs/testing.md``).
"""

from __future__ import annotations

__distribution__ = "deltamesh"  # checked by sync and `python -m deltamesh doctor`

from crdts._awlwwmap import AWLWWMap
from crdts._causal import CausalContext, Dot
from crdts._ccounter import CausalCounter
from crdts._codec import TAGS, Reader, Writer, check_value, decode, encode, register
from crdts._errors import CrdtError, DecodeError, EncodeError, RegistrationError, UsageError
from crdts._gcounter import GCounter
from crdts._gset import GSet
from crdts._hlc import HLC, HLCTimestamp
from crdts._lattice import Lattice
from crdts._lwwregister import LWWRegister
from crdts._mvregister import MVRegister
from crdts._ormap import ORMap
from crdts._orset import ORSet
from crdts._pncounter import PNCounter
from crdts._vclock import Ordering, VectorClock

__all__ = [
    "HLC",
    "TAGS",
    "AWLWWMap",
    "CausalContext",
    "CausalCounter",
    "CrdtError",
    "DecodeError",
    "Dot",
    "EncodeError",
    "GCounter",
    "GSet",
    "HLCTimestamp",
    "LWWRegister",
    "Lattice",
    "MVRegister",
    "ORMap",
    "ORSet",
    "Ordering",
    "PNCounter",
    "Reader",
    "RegistrationError",
    "UsageError",
    "VectorClock",
    "Writer",
    "check_value",
    "decode",
    "encode",
    "register",
]
