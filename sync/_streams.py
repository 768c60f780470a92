"""``changes()``: a change subscription as an async iterator that starts when it is made.

The subscription is taken when ``changes()`` is *called*, not when iteration begins: code that
asks for the stream and then writes (or starts a task that iterates it) sees its own writes, on
asyncio and on trio alike (trio runs new tasks in a random order, so a subscription taken at the
first ``__anext__`` could miss writes made meanwhile). Changes are buffered (``buffer`` items; one
more is dropped and counted by ``on_drop``) until the iterator is closed: by ``aclose()``, by
leaving ``async with``, by breaking out of an ``async for`` over it inside ``async with``, or
when it is garbage collected.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Self

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from sync._subscriptions import Change, Subscription

__all__ = ["ChangeStream"]


class ChangeStream:
    """Every change from the moment it was made, in order (see the module docstring)."""

    def __init__(
        self,
        subscribe: Callable[[Callable[[Change], object]], Subscription],
        *,
        buffer: int,
        on_drop: Callable[[], None],
    ) -> None:
        send, self._recv = anyio.create_memory_object_stream[Change](buffer)

        def deliver(change: Change) -> None:
            try:
                send.send_nowait(change)
            except anyio.WouldBlock:
                on_drop()
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass

        self._send = send
        self._sub = subscribe(deliver)
        # an iterator dropped without being closed still ends its subscription
        self._finalizer = weakref.finalize(self, _stop, self._sub, send)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Change:
        try:
            return await self._recv.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        """Stop the subscription; iteration ends."""
        self._finalizer()
        self._recv.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _stop(sub: Subscription, send: MemoryObjectSendStream[Change]) -> None:
    sub.cancel()
    send.close()
