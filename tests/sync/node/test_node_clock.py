"""The Node's HLC under a wall clock that jumps (the chaos run's clock faults): a bounded step
back is absorbed (later writes still win, across a restart too); an absurd jump ahead is refused
(``ClockError``, counted) and the clock is not dragged ahead."""

from __future__ import annotations

import time as real_time
from pathlib import Path
from typing import Any

import pytest

import sync._node
from crdts import AWLWWMap
from sync import Node, SyncError

from ._helpers import config

pytestmark = pytest.mark.anyio
DAY_NS = 86_400 * 10**9


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class _ShiftedClock:
    """``time`` as the Node module sees it, with the wall clock shifted by ``offset_ns``."""

    offset_ns = 0

    def time_ns(self) -> int:
        return real_time.time_ns() + self.offset_ns

    def time(self) -> float:
        return real_time.time() + self.offset_ns / 1e9

    def __getattr__(self, name: str) -> Any:
        return getattr(real_time, name)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _ShiftedClock:
    c = _ShiftedClock()
    monkeypatch.setattr(sync._node, "time", c)
    return c


async def test_a_clock_stepping_back_is_absorbed(tmp_path: Path, clock: _ShiftedClock) -> None:
    d = tmp_path / "a"
    async with Node(config("a", data_dir=d)) as a:
        m = a.get("m", AWLWWMap)
        await m.put("k", "first")
        before = m.state().timestamp("k")
        clock.offset_ns = -5 * 10**9  # NTP steps the clock 5 s back
        await m.put("k", "second")
        assert m.value == {"k": "second"}
        assert m.state().timestamp("k") > before
        last = m.state().timestamp("k")
    async with Node(config("a", data_dir=d)) as a2:  # still behind after a restart
        m2 = a2.get("m", AWLWWMap)
        await m2.put("k", "third")
        assert m2.value == {"k": "third"} and m2.state().timestamp("k") > last


async def test_an_absurd_clock_jump_is_refused(tmp_path: Path, clock: _ShiftedClock) -> None:
    async with Node(config("a", data_dir=tmp_path / "a")) as a:
        m = a.get("m", AWLWWMap)
        await m.put("k", "before")
        clock.offset_ns = DAY_NS
        with pytest.raises(SyncError):
            await m.put("k", "a day ahead")
        clock.offset_ns = 0
        await m.put("k", "now")
        ahead_ms = m.state().timestamp("k").wall - real_time.time_ns() // 1_000_000
        assert ahead_ms < 60_000  # the clock was not dragged a day ahead
