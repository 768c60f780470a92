"""The Node's LinkGate: only frames carrying object state wait for the commit (the durability
boundary); acks, Hellos and membership frames go at once, and frame order is kept."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from sync._gate import LinkGate
from sync._messages import Ack, Delta, Hello, encode_message
from sync._node import _carries_state

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class _Recorder:
    """The transport under the gate: records what reaches it."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send_frames(self, dst: str, frames: Sequence[bytes]) -> None:
        self.sent.extend(frames)


ACK = encode_message(Ack(1, 0, 1))
HELLO = encode_message(Hello(1, 1, None, 0, False))
DELTA = encode_message(Delta(1, 0, 1, [("k", b"x")]))


def test_only_deltas_and_objects_carry_state() -> None:
    assert _carries_state(DELTA)
    assert not _carries_state(ACK) and not _carries_state(HELLO)
    assert not _carries_state(b"") and not _carries_state(b"\x01swim")


async def test_acks_go_at_once_and_state_waits_for_the_commit() -> None:
    inner = _Recorder()
    committed = anyio.Event()

    async def before_send() -> None:
        await committed.wait()

    gate = LinkGate(inner, before_send=before_send, needs_commit=_carries_state)  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        tg.start_soon(gate.send_frames, "peer", [ACK, HELLO, DELTA, ACK])
        await gate.send_frames("other", [HELLO])
        await anyio.wait_all_tasks_blocked()
        # the ack and Hello before the delta went, the delta (and what follows it) waits
        assert sorted(inner.sent) == sorted([ACK, HELLO, HELLO])
        committed.set()
    assert inner.sent[3:] == [DELTA, ACK]


async def test_without_a_selector_every_frame_waits() -> None:
    inner = _Recorder()
    committed = anyio.Event()

    async def before_send() -> None:
        await committed.wait()

    gate = LinkGate(inner, before_send=before_send)  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        tg.start_soon(gate.send_frames, "peer", [ACK])
        await anyio.wait_all_tasks_blocked()
        assert inner.sent == []
        committed.set()
    assert inner.sent == [ACK]
