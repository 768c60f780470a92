"""The SWIM codec: round trips, the byte budget arithmetic, and garbage from peers."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gossip import TAG_RANGES, DecodeError
from gossip.swim import UnknownTagError
from gossip.swim._messages import (
    Ack,
    Gossip,
    Nack,
    Ping,
    PingReq,
    PushPull,
    Tag,
    Update,
    UpdateKind,
    decode_bare_seq,
    decode_datagram,
    decode_message,
    encode_header,
    encode_message,
    encode_push_pull,
    encode_seq_header,
    encode_update,
)

addrs = st.text(min_size=1, max_size=30)
incs = st.integers(0, 2**64 - 1)
updates = st.one_of(
    st.builds(
        lambda a, i, m: Update(UpdateKind.ALIVE, a, i, meta=m), addrs, incs, st.binary(max_size=64)
    ),
    st.builds(lambda a, i, o: Update(UpdateKind.SUSPECT, a, i, origin=o), addrs, incs, addrs),
    st.builds(lambda a, i, o: Update(UpdateKind.DEAD, a, i, origin=o), addrs, incs, addrs),
    st.builds(lambda a, i: Update(UpdateKind.LEFT, a, i), addrs, incs),
)
seqs = st.integers(0, 2**32 - 1)
packets = st.one_of(
    st.builds(Ping, seqs, st.tuples(updates, updates)),
    st.builds(PingReq, seqs, addrs, st.booleans(), st.lists(updates, max_size=5).map(tuple)),
    st.builds(Ack, seqs, st.lists(updates, max_size=5).map(tuple)),
    st.builds(Nack, seqs),
    st.builds(Gossip, st.lists(updates, max_size=5).map(tuple)),
)


@given(packets)
def test_packet_round_trip(msg: Ping | PingReq | Ack | Nack | Gossip) -> None:
    assert decode_message(encode_message(msg)) == msg


@given(st.lists(updates, max_size=8))
def test_packet_size_is_header_plus_updates(us: list[Update]) -> None:
    msg = Gossip(tuple(us))
    assert len(encode_message(msg)) == len(encode_header(msg)) + sum(
        len(encode_update(u)) for u in us
    )


@given(
    st.booleans(),
    st.booleans(),
    st.lists(st.tuples(addrs, incs, st.integers(0, 3), st.binary(max_size=32)), max_size=10),
)
def test_push_pull_round_trip(
    join: bool, reply: bool, members: list[tuple[str, int, int, bytes]]
) -> None:
    msg = PushPull(join, reply, tuple(members))
    assert decode_message(encode_push_pull(msg)) == msg


@given(st.binary(max_size=200))
def test_garbage_raises_decode_error_only(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_message(data)


@given(st.sampled_from([0x01, 0x02, 0x03, 0x05, 0x06]), st.binary(max_size=60))
def test_garbage_after_a_valid_tag(tag: int, body: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_message(bytes([tag]) + body)


def test_typed_rejections() -> None:
    lo, hi = TAG_RANGES["swim"]
    with pytest.raises(UnknownTagError):
        decode_message(bytes([hi - 1]) + msgpack.packb([1]))
    with pytest.raises(DecodeError):
        decode_message(b"")
    with pytest.raises(DecodeError):
        decode_message(bytes([hi]) + msgpack.packb([1]))  # another protocol's tag
    with pytest.raises(DecodeError):  # negative sequence number
        decode_message(bytes([lo]) + msgpack.packb([-1]))
    with pytest.raises(DecodeError):  # metadata over the limit
        big = Gossip((Update(UpdateKind.ALIVE, "a", 1, meta=b"x" * 600),))
        decode_message(encode_message(big), max_meta=512)
    with pytest.raises(DecodeError):  # a Nack never carries updates
        decode_message(encode_header(Nack(1)) + encode_update(Update(UpdateKind.LEFT, "a", 1)))


@given(seqs, st.sampled_from([Tag.PING, Tag.ACK, Tag.NACK]))
def test_seq_headers_are_written_and_read_without_msgpack_exactly_as_msgpack(
    seq: int, tag: Tag
) -> None:
    head = encode_seq_header(tag, seq)
    assert head == bytes([tag]) + msgpack.packb([seq])  # the bytes on the wire are unchanged
    assert decode_bare_seq(head) == seq
    msg, raw = decode_datagram(head)
    assert raw == [] and msg.seq == seq  # type: ignore[union-attr]


@given(st.binary(max_size=12))
def test_the_bare_header_reader_agrees_with_the_full_decoder(body: bytes) -> None:
    """Any bytes: the fast reader returns the seq the full decoder finds in a header-only ping
    (wider-than-needed integers included), and None for everything else."""
    data = bytes([Tag.PING]) + body
    seq = decode_bare_seq(data)
    try:
        msg, raw = decode_datagram(data)
    except DecodeError:
        assert seq is None
        return
    if seq is not None:
        assert raw == [] and msg == Ping(seq)


def test_the_bare_header_reader_declines_what_it_does_not_fully_read() -> None:
    ping = bytes([Tag.PING]) + msgpack.packb([5])
    assert decode_bare_seq(ping) == 5
    assert decode_bare_seq(bytes([Tag.PING, 0x91, 0xCE, 0, 0, 0, 5])) == 5  # non-minimal width
    assert decode_bare_seq(ping + encode_update(Update(UpdateKind.ALIVE, "a", 1))) is None
    assert decode_bare_seq(bytes([Tag.PING, 0x91, 0xCF]) + bytes(8)) is None  # uint64: full path
    assert decode_bare_seq(bytes([Tag.PING, 0x91, 0xCD, 1])) is None  # truncated
    assert decode_bare_seq(bytes([Tag.PING, 0x91])) is None
    assert decode_bare_seq(bytes([Tag.PING, 0x92, 1, 2])) is None
