"""The optional compiled hot loops (``crdts._speedups``, built by ``setup.py`` when a C compiler
is there), or ``None``: the pure-Python code then does the same work, slower.

``DELTAMESH_PURE=1`` in the environment makes the library ignore a built module (the test
command runs the law suite both ways: ``scripts/test.sh``). :data:`COMPILED` says which path
this process runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

__all__ = [
    "COMPILED",
    "absorb_put",
    "build_index",
    "canonical",
    "cols",
    "decode_one",
    "diff_scan",
    "dropped_scan",
    "merge_scan",
    "unfront",
]

cols: Callable[[dict[Any, Any], bool, bool, bool, int], tuple[Any, ...] | None] | None = None
unfront: Callable[[bytes, int], list[str]] | None = None
merge_scan: (
    Callable[
        [
            dict[Any, Any],
            dict[Any, Any],
            dict[str, int],
            dict[str, Any],
            dict[str, int],
            dict[str, Any],
            bool,
            bool,
        ],
        tuple[list[Any], list[Any], list[Any] | None],
    ]
    | None
) = None
diff_scan: (
    Callable[[dict[Any, Any], dict[str, int], dict[str, Any]], tuple[dict[Any, Any], list[Any]]]
    | None
) = None
dropped_scan: (
    Callable[
        [dict[Any, Any], dict[Any, Any], dict[str, int], dict[str, Any]],
        tuple[list[tuple[str, int]], list[Any]],
    ]
    | None
) = None
build_index: Callable[[dict[Any, Any]], tuple[dict[str, dict[int, Any]], int]] | None = None
decode_one: Callable[[bytes, int, int], tuple[Any, ...] | None] | None = None
absorb_put: (
    Callable[
        [
            dict[Any, Any],
            dict[str, int],
            dict[str, Any],
            dict[str, dict[int, Any]] | None,
            dict[Any, Any],
            dict[str, int],
            dict[str, Any],
        ],
        Any,
    ]
    | None
) = None
canonical: (
    Callable[[dict[Any, Any], dict[str, int], dict[str, Any], int, int], bytes | None] | None
) = None

if os.environ.get("DELTAMESH_PURE", "") in {"", "0"}:
    try:
        from crdts import _speedups
    except ImportError:  # not built (no compiler at install time): the pure path
        pass
    else:
        cols = _speedups.cols
        unfront = _speedups.unfront
        merge_scan = _speedups.merge_scan
        diff_scan = _speedups.diff_scan
        dropped_scan = _speedups.dropped_scan
        build_index = _speedups.build_index
        canonical = _speedups.canonical
        absorb_put = _speedups.absorb_put
        decode_one = _speedups.decode_one

COMPILED = cols is not None
"""Whether this process encodes and decodes with the compiled loops."""
