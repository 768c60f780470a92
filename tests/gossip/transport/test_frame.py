"""Length-prefixed framing: any chunking of the byte stream yields the same frames; caps hold."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gossip import ConfigError, FrameTooLargeError
from gossip.transport import FrameDecoder, encode_frame


@given(
    frames=st.lists(st.binary(max_size=300), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_any_chunking_yields_the_frames_in_order(frames: list[bytes], cuts: list[int]) -> None:
    wire = b"".join(encode_frame(f) for f in frames)
    points = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    decoder = FrameDecoder(300)
    got: list[bytes] = []
    for lo, hi in itertools.pairwise(points):
        got += decoder.feed(wire[lo:hi])
    assert got == frames
    assert decoder.buffered == 0


def test_oversized_length_prefix_is_rejected_before_buffering() -> None:
    decoder = FrameDecoder(1000)
    with pytest.raises(FrameTooLargeError):
        decoder.feed((2**31).to_bytes(4, "big"))  # the body never arrives: no 2 GiB buffer


def test_frame_at_the_cap_passes_and_one_byte_more_fails() -> None:
    assert FrameDecoder(10).feed(encode_frame(bytes(10))) == [bytes(10)]
    with pytest.raises(FrameTooLargeError):
        FrameDecoder(10).feed(encode_frame(bytes(11)))


def test_truncated_frame_stays_pending() -> None:
    decoder = FrameDecoder(100)
    assert decoder.feed(encode_frame(b"abcdef")[:-2]) == []
    assert decoder.buffered == 8
    assert decoder.feed(b"ef") == [b"abcdef"]


@pytest.mark.parametrize("cap", [0, -1, 2**32])
def test_bad_caps_are_config_errors(cap: int) -> None:
    with pytest.raises(ConfigError):
        FrameDecoder(cap)
