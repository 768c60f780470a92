"""Shared helpers of the Node tests: configs on loopback with fast timers, bounded waits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

from sync import NodeConfig

KEY = bytes(range(32))


def config(name: str, *seeds: str, key: bytes | None = KEY, **kw: Any) -> NodeConfig:
    return NodeConfig.local(name=name, seeds=seeds, key=key, **kw)


async def eventually(pred: Callable[[], bool], timeout: float = 10.0, step: float = 0.02) -> None:
    """Wait until ``pred()`` holds; fail (with the timeout) if it never does."""
    with anyio.fail_after(timeout):
        while not pred():
            await anyio.sleep(step)
