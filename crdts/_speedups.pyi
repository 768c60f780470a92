# Types of the optional compiled module (crdts/_speedups.c); see crdts/_accel.py.
from typing import Any

def cols(
    store: dict[Any, Any],
    canonical: bool,
    want_blob: bool,
    want_counters: bool,
    min_entries: int,
    /,
) -> tuple[Any, ...] | None: ...
def unfront(raw: bytes, n: int, /) -> list[str]: ...
