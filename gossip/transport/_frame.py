"""Stream framing: each frame is a 4-byte big-endian length followed by that many body bytes.

:class:`FrameDecoder` is the sans-I/O reading side: feed it whatever bytes a socket returned and it
yields complete frame bodies. It checks the length prefix against the cap *before* buffering the
body, so a peer announcing a 2 GiB frame costs us four bytes, not two gigabytes.
"""

from __future__ import annotations

import struct

from gossip._errors import ConfigError, FrameTooLargeError

__all__ = ["LENGTH_PREFIX", "FrameDecoder", "encode_frame"]

LENGTH_PREFIX = 4  # bytes
_LEN = struct.Struct(">I")


def encode_frame(body: bytes) -> bytes:
    """Length prefix + ``body``."""
    return _LEN.pack(len(body)) + body


class FrameDecoder:
    """Incremental decoder of length-prefixed frames with a per-frame size cap (bytes of body)."""

    __slots__ = ("_buf", "max_size")

    def __init__(self, max_size: int) -> None:
        if max_size <= 0 or max_size >= 2**32:
            raise ConfigError(f"max_size must be in 1..2**32-1 bytes, got {max_size}")
        self.max_size = max_size
        self._buf = bytearray()

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf)

    def feed(self, data: bytes, limit: int | None = None) -> list[bytes]:
        """Add ``data``; return the frames it completed, in order (at most ``limit``: the rest
        stays buffered, unchecked, for a later call, e.g. once a handshake raised the cap).

        Raises :class:`FrameTooLargeError` as soon as a length prefix exceeds the cap; the stream
        is then out of sync and must be closed.
        """
        self._buf += data
        frames: list[bytes] = []
        buf = self._buf
        pos = 0
        while len(buf) - pos >= LENGTH_PREFIX and (limit is None or len(frames) < limit):
            (size,) = _LEN.unpack_from(buf, pos)
            if size > self.max_size:
                raise FrameTooLargeError(
                    f"frame of {size} bytes exceeds the cap of {self.max_size}"
                )
            end = pos + LENGTH_PREFIX + size
            if end > len(buf):
                break
            frames.append(bytes(buf[pos + LENGTH_PREFIX : end]))
            pos = end
        if pos:
            del buf[:pos]
        return frames
