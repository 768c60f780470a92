"""Pure-data delta-state CRDTs: lattices, dot stores, causal contexts and a msgpack codec.

No I/O, no clocks, no global randomness: timestamps and replica ids are arguments.
"""

from __future__ import annotations

from crdts._causal import CausalContext, Dot
from crdts._codec import TAGS, check_value, decode, encode, register
from crdts._errors import CrdtError, DecodeError, EncodeError, RegistrationError, UsageError
from crdts._hlc import HLC, HLCTimestamp

__all__ = [
    "HLC",
    "TAGS",
    "CausalContext",
    "CrdtError",
    "DecodeError",
    "Dot",
    "EncodeError",
    "HLCTimestamp",
    "RegistrationError",
    "UsageError",
    "check_value",
    "decode",
    "encode",
    "register",
]
