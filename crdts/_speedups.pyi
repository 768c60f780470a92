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
def merge_scan(
    xs: dict[Any, Any],
    ys: dict[Any, Any],
    xvv: dict[str, int],
    xcloud: dict[str, Any],
    yvv: dict[str, int],
    ycloud: dict[str, Any],
    want_added: bool,
    scan: bool,
    /,
) -> tuple[list[Any], list[Any], list[Any] | None]: ...
def diff_scan(
    xs: dict[Any, Any], yvv: dict[str, int], ycloud: dict[str, Any], /
) -> tuple[dict[Any, Any], list[Any]]: ...
def dropped_scan(
    xs: dict[Any, Any], ys: dict[Any, Any], xvv: dict[str, int], xcloud: dict[str, Any], /
) -> tuple[list[tuple[str, int]], list[Any]]: ...
def build_index(store: dict[Any, Any], /) -> tuple[dict[str, dict[int, Any]], int]: ...
def canonical(
    store: dict[Any, Any], vv: dict[str, int], cloud: dict[str, Any], tag: int, version: int, /
) -> bytes | None: ...
def decode_one(data: bytes, tag: int, max_version: int, /) -> tuple[Any, ...] | None: ...
def absorb_put(
    xs: dict[Any, Any],
    xvv: dict[str, int],
    xcloud: dict[str, Any],
    dix: dict[str, dict[int, Any]] | None,
    ds: dict[Any, Any],
    dvv: dict[str, int],
    dcloud: dict[str, Any],
    /,
) -> Any: ...
