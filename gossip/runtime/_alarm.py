"""One re-armable alarm on the event loop's own clock: how the host wakes for its cores' timers.

A host needs a single wake-up, at the earliest deadline of all its cores' timers, re-armed after
every change. With a sleeping task that costs, per wake-up, a task switch, a cancel scope and an
event through anyio's portable layer; a member at rest wakes once or twice a second for timers, so
that machinery was a large part of its idle CPU. The alarm instead uses each backend's native
mechanism: on asyncio a ``loop.call_at`` handle (the callback runs straight from the loop, no task
at all); on trio one task asleep in a cancel scope whose ``deadline`` is moved (trio re-sorts its
deadline heap; nothing else wakes). Both read the clock anyio reads (``anyio.current_time()``).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable

import sniffio

__all__ = ["Alarm"]


class Alarm:
    """Calls ``callback()`` once the loop's clock reaches the armed deadline.

    :meth:`arm` sets the deadline (``math.inf``: none); arming later than a pending deadline
    keeps the earlier one (the callback re-arms with what is then due, so an early call is
    harmless). :meth:`postpone` moves a pending deadline later, for when the timer it was armed
    for was cancelled: an alarm that rings with nothing due is a wasted wake-up (a SWIM member
    cancels its probe timeout every period, when the ack comes). :meth:`run` must be running (in
    the owner's task group) for trio; on asyncio it only waits to be cancelled.
    """

    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback = callback
        self._trio = sniffio.current_async_library() == "trio"
        if self._trio:
            import trio

            self.now: Callable[[], float] = trio.current_time
            self._scope: trio.CancelScope | None = None
        else:
            self._loop = asyncio.get_running_loop()
            self.now = self._loop.time
            self._handle: asyncio.TimerHandle | None = None
        self._deadline = math.inf

    def arm(self, deadline: float) -> None:
        """Make sure the callback runs no later than ``deadline``."""
        if deadline < self._deadline:
            self._move(deadline)

    @property
    def deadline(self) -> float:
        """The pending deadline (``math.inf``: none)."""
        return self._deadline

    def postpone(self, deadline: float) -> None:
        """Move a pending deadline later, to ``deadline`` (``math.inf``: ring no more)."""
        if deadline > self._deadline:
            self._move(deadline)

    def _move(self, deadline: float) -> None:
        """Ring at ``deadline`` instead of the pending deadline (``math.inf``: ring no more)."""
        self._deadline = deadline
        if self._trio:
            if self._scope is not None:
                self._scope.deadline = deadline
            return
        if self._handle is not None:
            self._handle.cancel()  # a cancelled handle never wakes the loop
        self._handle = None if deadline == math.inf else self._loop.call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._deadline = math.inf
        self._handle = None
        self._callback()

    async def run(self) -> None:
        """Serve the alarm until cancelled."""
        if not self._trio:
            try:
                await asyncio.get_running_loop().create_future()  # until cancelled
            finally:
                if self._handle is not None:
                    self._handle.cancel()
            return
        import trio

        while True:
            with trio.CancelScope(deadline=self._deadline) as scope:
                self._scope = scope
                await trio.sleep_forever()
            self._scope = None
            if scope.cancelled_caught:  # the deadline passed (an outer cancel propagates)
                self._fire()
