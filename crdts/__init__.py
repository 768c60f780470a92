"""Pure-data delta-state CRDTs: lattices, dot stores, causal contexts and a msgpack codec.

No I/O, no clocks, no global randomness: timestamps and replica ids are arguments.
"""

from __future__ import annotations

__all__: list[str] = []
