"""The anyio host that runs sans-I/O protocol cores over a real (or in-memory) transport.

:class:`Host` imports anyio and loads on first access; :class:`HostConfig`,
:class:`HostMetrics` and :class:`TimerTable` are sans-I/O.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gossip.runtime._config import HostConfig, HostMetrics
from gossip.runtime._timers import TimerTable

if TYPE_CHECKING:
    from gossip.runtime._host import Host

_LAZY: dict[str, str] = {"Host": "gossip.runtime._host"}

__all__ = ["Host", "HostConfig", "HostMetrics", "TimerTable"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gossip.runtime' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
