"""The wire codec of the sync protocol: round trips, and garbage always a DecodeError."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync import DecodeError
from sync._messages import (
    Ack,
    CatchupDone,
    Delta,
    Digest,
    DigestReply,
    Hello,
    Message,
    Objects,
    ObjectsAck,
    decode_message,
    encode_message,
    payload_size,
)

U64 = (1 << 64) - 1
MESSAGES: list[Message] = [
    Delta(U64, 3, 9, [("k", b"\x01\x02"), ("", b"")]),
    Ack(1, 0, 5),
    Hello(2, 7, None, 0, False),
    Hello(2, 7, 8, 123, True),
    Digest(
        1,
        2,
        [(0, 0, 1, 0, b"\xff" * 8), (3, 17, 0b1010, 0b10, bytes(16))],
        [(5, 1048575, bytes(24))],
    ),
    DigestReply(1, 2, b"\x05\x01"),
    Objects(4, 10, 12, [("a", b"x"), ("b", b"yy")]),
    ObjectsAck(4, 10, 12),
    CatchupDone(4, 99, 1000),
    Hello(2, 7, 8, 123, False, True),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_round_trip(msg: Message) -> None:
    data = encode_message(msg)
    assert 0x48 <= data[0] < 0x70
    assert decode_message(data) == msg


def test_payload_is_only_crdt_bytes() -> None:
    assert payload_size(MESSAGES[0]) == 2
    assert payload_size(MESSAGES[6]) == 3
    assert payload_size(Ack(1, 0, 1)) == 0


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x47\x90",  # a tag outside the range
        b"\x48\x94\x01\x05\x02\x90",  # inverted range
        b"\x48\x94\x01\x00\x02\x91\x92\x01\xc4\x00",  # key not a str
        b"\x49\x93\xff\x00\x01",  # negative epoch
        b"\x4a\x96\x03\x01\xc0\x00\xc2\xc2",  # future protocol version
        b"\x4a\x95\x01\x01\xc0\x00\xc2",  # a version-1 Hello
        b"\x4a\x96\x02\x01\xc0\x00\x01\xc2",  # heard_you not a bool
        b"\x4a\x96\x02\x01\xc0\x00\xc2\x01",  # recovering not a bool
        b"\x4a\x95\x02\x01\xc0\x00\xc2",  # a Hello without its recovering flag
        b"\x4b\x94\x01\x01\x91\x92\x00\x00\x90",  # digest group of 2 fields
        b"\x4b\x94\x01\x01\x91\x95\x01\x00\x03\x00\xc4\x08" + bytes(8) + b"\x90",  # 2 bits, 1 hash
        b"\x4b\x94\x01\x01\x91\x95\x01\x00\x01\x02\xc4\x08"
        + bytes(8)
        + b"\x90",  # single not in mask
        b"\x4b\x94\x01\x01\x90\x91\x93\x05\x01\xc4\x07" + bytes(7),  # a 7-byte item hash
        b"\x4c\x93\x01\x01\x90",  # reply bits not bytes
        b"\x49\x93\x01\x00",  # truncated
        # issue 12, finding 7: a Hello whose "version" nests 999 arrays (1,002 bytes); the
        # error message once formatted it with repr, which raised RecursionError
        bytes.fromhex("4a" + "91" * 1000 + "c0"),
        bytes.fromhex("48" + "91" * 1000 + "c0"),
    ],
)
def test_malformed_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_message(data)


@given(st.binary(max_size=64))
def test_any_bytes_decode_or_raise_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_message(data)


@given(st.integers(0x48, 0x4F), st.binary(max_size=48))
def test_any_body_under_a_valid_tag_decodes_or_raises_decode_error(tag: int, body: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode_message(bytes([tag]) + body)
