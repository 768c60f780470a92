"""The datagram half of the real transport: one non-blocking UDP socket, read by the event loop.

Datagrams are best effort, so this keeps them as cheap as the platform allows: a send is one
``sendto`` on the non-blocking socket (a full buffer loses the datagram, as a congested network
would), and a received datagram is handed to ``on_datagram`` from the loop's readiness callback
(asyncio: a native ``DatagramProtocol``; trio: one task draining the socket whenever it is
readable). There is no queue, lock or task switch per datagram: at rest a member's work is a few
datagrams a second, and that machinery cost more CPU than the protocol itself.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import sniffio

__all__ = ["UdpEndpoint"]

_DRAIN = 64  # datagrams read per readiness wake-up on trio, before yielding to other tasks
_MAX_DATAGRAM = 65_535


class UdpEndpoint:
    """A bound UDP socket whose datagrams go to ``on_datagram`` while :meth:`run` runs."""

    def __init__(self, sock: socket.socket, on_datagram: Callable[[bytes], None]) -> None:
        sock.setblocking(False)
        self.socket = sock
        self._on_datagram = on_datagram
        self._asyncio: asyncio.DatagramTransport | None = None
        self._trio = False
        self._starting = False
        self._closed = False

    @classmethod
    def bind(cls, host: str, port: int, on_datagram: Callable[[bytes], None]) -> UdpEndpoint:
        """Bind ``host:port`` (raises ``OSError`` as ``bind`` does)."""
        family, _, _, _, addr = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind(addr)
        except OSError:
            sock.close()
            raise
        return cls(sock, on_datagram)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def local_port(self) -> int:
        return int(self.socket.getsockname()[1])

    def sendto(self, data: bytes, host: str, port: int) -> bool:
        """Write one datagram now; False if the OS refused it (buffer full, ICMP error)."""
        try:
            self.socket.sendto(data, (host, port))
        except OSError:
            return False
        return True

    async def run(self) -> None:
        """Deliver datagrams until :meth:`close` (or until cancelled)."""
        if sniffio.current_async_library() == "trio":
            await self._run_trio()
        else:
            await self._run_asyncio()

    async def _run_asyncio(self) -> None:
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[None] = loop.create_future()
        on_datagram = self._on_datagram

        class _Protocol(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: object) -> None:
                on_datagram(data)

            def error_received(self, exc: Exception) -> None:
                pass  # an ICMP error for an earlier send: best effort, nothing to do

            def connection_lost(self, exc: Exception | None) -> None:
                if not lost.done():
                    lost.set_result(None)

        if self._closed:
            return
        # From here the socket belongs to the endpoint: close() leaves closing it to us (closing
        # it under the endpoint being made would register a dead descriptor with the loop).
        self._starting = True
        try:
            transport, _ = await loop.create_datagram_endpoint(_Protocol, sock=self.socket)
        except BaseException:
            self.socket.close()
            raise
        finally:
            self._starting = False
        self._asyncio = transport
        if self.closed:  # close() came while the endpoint was being made
            transport.close()
            return
        try:
            await lost
        finally:
            transport.close()

    async def _run_trio(self) -> None:
        import trio

        self._trio = True
        sock, on_datagram = self.socket, self._on_datagram
        while not self._closed:
            try:
                await trio.lowlevel.wait_readable(sock)
            except (trio.ClosedResourceError, OSError):
                return
            for _ in range(_DRAIN):
                try:
                    data = sock.recv(_MAX_DATAGRAM)
                except BlockingIOError:
                    break
                except OSError:
                    if sock.fileno() < 0:
                        return  # closed
                    continue  # e.g. ECONNREFUSED from an earlier send: not fatal
                on_datagram(data)

    def close(self) -> None:
        """Stop delivering and close the socket; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._asyncio is not None:
            self._asyncio.close()  # closes the socket too
            return
        if self._starting:
            return  # run() closes the endpoint it is making
        if self._trio:
            import trio

            trio.lowlevel.notify_closing(self.socket)
        self.socket.close()
