"""HyParView wire format: every message round-trips; garbage is a DecodeError, never a crash."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gossip import DecodeError, protocol_of
from gossip.hyparview import (
    Disconnect,
    ForwardJoin,
    Join,
    JoinAccept,
    Message,
    Neighbor,
    NeighborReply,
    Shuffle,
    ShuffleReply,
    decode,
    encode,
)

addr = st.text(min_size=1, max_size=40)
nat = st.integers(0, 2**40)
i31 = st.integers(0, 2**31 - 1)

messages: st.SearchStrategy[Message] = st.one_of(
    st.builds(Join, nat),
    st.builds(JoinAccept, nat),
    st.builds(ForwardJoin, addr, nat, st.integers(0, 10)),
    st.builds(Neighbor, st.booleans(), nat, i31),
    st.builds(NeighborReply, st.booleans(), nat, i31),
    st.builds(Disconnect, nat, st.booleans()),
    st.builds(Shuffle, addr, st.integers(0, 10), i31, st.lists(addr, max_size=8).map(tuple)),
    st.builds(ShuffleReply, i31, st.lists(addr, max_size=8).map(tuple)),
)


@given(messages)
def test_round_trip_and_tag_range(msg: Message) -> None:
    data = encode(msg)
    assert protocol_of(data) == "hyparview"
    assert decode(data) == msg


@given(st.binary(max_size=64))
def test_garbage_is_a_decode_error(data: bytes) -> None:
    try:
        msg = decode(data)
    except DecodeError:
        return
    assert decode(encode(msg)) == msg  # anything accepted is a well-formed message


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x37",  # a hyparview-range tag with no message
        b"\x20",  # JOIN without body
        b"\x20\xc1",  # reserved msgpack byte
        b"\x20" + msgpack.packb(["x"]),  # epoch not an int
        b"\x20" + msgpack.packb([-1]),  # negative epoch
        b"\x20" + msgpack.packb([1, 2]),  # wrong arity
        b"\x22" + msgpack.packb(["", 0, 1]),  # empty address
        b"\x23" + msgpack.packb([1, 0, 1]),  # priority not a bool
        b"\x26" + msgpack.packb(["a", 1, 1, "notalist"]),
        b"\x26" + msgpack.packb(["a", 1, 1, [1, 2]]),  # ids not strings
        b"\x27" + msgpack.packb({"a": 1}),
    ],
)
def test_malformed_messages_are_rejected(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(data)
