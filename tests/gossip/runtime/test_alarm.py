"""The host's alarm: one wake-up at the earliest armed deadline, on asyncio and trio."""

from __future__ import annotations

import math

import anyio
import pytest

from gossip.runtime._alarm import Alarm

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _until(pred: object, limit: float = 10.0) -> None:
    with anyio.fail_after(limit):
        while not pred():  # type: ignore[operator]
            await anyio.sleep(0.01)


async def test_rings_at_the_earliest_deadline_armed() -> None:
    rang: list[float] = []
    async with anyio.create_task_group() as tg:
        alarm = Alarm(lambda: rang.append(alarm.now()))
        tg.start_soon(alarm.run)
        start = alarm.now()
        alarm.arm(start + 3.0)
        alarm.arm(start + 0.05)  # earlier: replaces the pending deadline
        alarm.arm(start + 6.0)  # later: the pending earlier one stays
        await _until(lambda: rang)
        assert start + 0.05 <= rang[0] < start + 3.0
        alarm.arm(alarm.now() + 0.05)  # re-armable after it rang
        await _until(lambda: len(rang) == 2)
        tg.cancel_scope.cancel()


async def test_the_callback_may_re_arm_and_an_unarmed_alarm_stays_quiet() -> None:
    rang: list[float] = []

    def ring() -> None:
        rang.append(alarm.now())
        if len(rang) < 3:
            alarm.arm(alarm.now() + 0.02)

    async with anyio.create_task_group() as tg:
        alarm = Alarm(ring)
        tg.start_soon(alarm.run)
        alarm.arm(math.inf)  # nothing armed
        await anyio.sleep(0.1)
        assert rang == []
        alarm.arm(alarm.now())
        await _until(lambda: len(rang) == 3)
        assert rang == sorted(rang)
        tg.cancel_scope.cancel()


async def test_postpone_moves_a_pending_deadline_later_only() -> None:
    rang: list[float] = []
    async with anyio.create_task_group() as tg:
        alarm = Alarm(lambda: rang.append(alarm.now()))
        tg.start_soon(alarm.run)
        await anyio.sleep(0)  # trio: let run() open its scope
        start = alarm.now()
        alarm.arm(start + 0.03)
        alarm.postpone(start + 0.01)  # earlier than pending: no change
        assert alarm.deadline == start + 0.03
        alarm.postpone(math.inf)  # the timer it was armed for was cancelled
        await anyio.sleep(0.1)
        assert rang == []
        alarm.arm(alarm.now() + 0.02)
        alarm.postpone(alarm.now() + 0.06)
        await _until(lambda: rang)
        assert rang[0] >= start + 0.1 + 0.06 - 0.001
        tg.cancel_scope.cancel()
