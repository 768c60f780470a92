"""Plumtree wire format: every message round-trips; garbage is a DecodeError, never a crash."""

from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gossip import DecodeError, protocol_of
from gossip.plumtree import Gossip, Graft, IHave, Message, Prune, decode, encode

mid = st.integers(0, 2**64 - 1)
rnd = st.integers(0, 1000)
messages: st.SearchStrategy[Message] = st.one_of(
    st.builds(Gossip, mid, rnd, st.binary(max_size=64)),
    st.builds(IHave, st.lists(st.tuples(mid, rnd), max_size=10).map(tuple)),
    st.builds(Graft, mid, rnd),
    st.just(Prune()),
)


@given(messages)
def test_round_trip_and_tag_range(msg: Message) -> None:
    data = encode(msg)
    assert protocol_of(data) == "plumtree"
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
        b"\x47",  # unassigned tag in the plumtree range
        b"\x3b\x00",  # PRUNE with a body
        b"\x38" + msgpack.packb([1, 0, "text not bytes"]),
        b"\x38" + msgpack.packb([-1, 0, b""]),
        b"\x38" + msgpack.packb([1.5, 0, b""]),
        b"\x39" + msgpack.packb([1]),  # odd IHAVE list
        b"\x39" + msgpack.packb([1, "r"]),
        b"\x3a" + msgpack.packb([1]),
        b"\x3a\xc1",
    ],
)
def test_malformed_messages_are_rejected(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(data)
