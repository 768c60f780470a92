"""The Node's LinkGate: only frames carrying object state (sync Delta, Objects) wait for the
commit (the durability boundary); acks, Hellos and membership frames go at once."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from sync._gate import LinkGate
from sync._messages import (
    Ack,
    CatchupDone,
    Delta,
    Have,
    Hello,
    Objects,
    ObjectsAck,
    encode_message,
)

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
OBJECTS = encode_message(Objects(1, 0, 1, [("k", b"x")]))


async def test_acks_and_hellos_pass_a_pending_commit_and_state_waits_for_it() -> None:
    inner = _Recorder()
    committed = anyio.Event()

    async def before_send() -> None:
        await committed.wait()

    gate = LinkGate(inner, before_send=before_send)  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        tg.start_soon(gate.send_frames, "p1", [DELTA])
        tg.start_soon(gate.send_frames, "p2", [OBJECTS])
        await gate.send_frames("p3", [ACK, HELLO])
        await gate.send_frames("p4", [b"\x01membership"])
        await anyio.wait_all_tasks_blocked()
        assert inner.sent == [ACK, HELLO, b"\x01membership"]  # the state frames wait
        committed.set()
    assert sorted(inner.sent[3:]) == sorted([DELTA, OBJECTS])


async def test_receipts_and_membership_frames_overtake_the_state_frames_of_a_batch() -> None:
    inner = _Recorder()
    committed = anyio.Event()

    async def before_send() -> None:
        await committed.wait()

    have = encode_message(Have([("a", 1, 2)], 3, 4))
    oack = encode_message(ObjectsAck(1, 0, 1))
    done = encode_message(CatchupDone(1, 1, 5))
    member = b"\x01membership"
    gate = LinkGate(inner, before_send=before_send)  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        tg.start_soon(gate.send_frames, "p", [HELLO, OBJECTS, ACK, done, have, DELTA, oack, member])
        await anyio.wait_all_tasks_blocked()
        # the Hello was queued before any state; the receipts and membership go at once
        assert inner.sent == [HELLO, ACK, have, oack, member]
        committed.set()
    # the rest keeps its order behind the commit: CatchupDone after the Objects it vouches for
    assert inner.sent[5:] == [OBJECTS, done, DELTA]
