"""Packets full of piggybacked updates: the decoder validates every update (raw, before the core
skips those it already knows) and rejects the whole packet for one bad update."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest

from gossip import DecodeError
from gossip.swim._messages import (
    Gossip,
    Tag,
    Update,
    UpdateKind,
    decode_datagram,
    decode_message,
    encode_message,
    raw_to_update,
)


def packet(updates: list[list[Any]]) -> bytes:
    body: bytes = msgpack.packb([]) + b"".join(msgpack.packb(u) for u in updates)
    return bytes([Tag.GOSSIP]) + body


def good(i: int) -> list[Any]:
    return [
        [0, f"m{i}", i, b"meta"],
        [1, f"m{i}", i, "o"],
        [2, f"m{i}", i, "o"],
        [3, f"m{i}", i, ""],
    ][i % 4]


def test_a_full_packet_round_trips() -> None:
    us = tuple(raw_to_update(tuple(good(i))) for i in range(40))
    assert decode_message(encode_message(Gossip(us))) == Gossip(us)
    head, raw = decode_datagram(encode_message(Gossip(us)))
    assert head == Gossip() and [raw_to_update(r) for r in raw] == list(us)


@pytest.mark.parametrize(
    "bad",
    [
        [4, "x", 1, b""],  # unknown kind
        [True, "x", 1, b""],  # a boolean is not a kind
        [0, "", 1, b""],  # empty address
        [0, "x" * 257, 1, b""],  # address too long
        [0, 5, 1, b""],  # address not a string
        [0, "x", -1, b""],  # negative incarnation
        [0, "x", 1.5, b""],  # incarnation not an integer
        [0, "x", 1, "meta"],  # alive carries bytes, not a string
        [0, "x", 1, b"m" * 513],  # metadata over the limit
        [1, "x", 1, ""],  # a suspicion names its origin
        [2, "x", 1, b"o"],  # ... as a string
        [3, "x", 1, 7],  # left: origin, if any, is a string
        [0, "x", 1],  # three fields
        {"k": 1},  # not an array
    ],
)
def test_one_bad_update_among_many_rejects_the_packet(bad: Any) -> None:
    updates = [good(i) for i in range(12)]
    updates[5] = bad
    with pytest.raises(DecodeError):
        decode_datagram(packet(updates), max_meta=512)


def test_unusual_but_valid_updates_are_accepted() -> None:
    """Long metadata and a long origin on a left update are within the rules."""
    updates = [good(i) for i in range(12)]
    updates[3] = [0, "big", 1, b"m" * 400]  # metadata longer than an address, within max_meta
    updates[7] = [3, "gone", 2, "o" * 300]  # a left update's origin is not length-checked
    _, raw = decode_datagram(packet(updates), max_meta=512)
    assert raw_to_update(raw[3]) == Update(UpdateKind.ALIVE, "big", 1, meta=b"m" * 400)
    assert raw_to_update(raw[7]) == Update(UpdateKind.LEFT, "gone", 2)
