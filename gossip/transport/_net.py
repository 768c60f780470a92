"""The real network transport: datagrams over UDP, frames over TCP, with anyio (asyncio or trio).

Both sockets share one port. Every datagram is sealed with the cluster keyring (``_packet.py``);
every TCP connection starts with the sealed handshake (``_handshake.py``) and then carries frames
sealed with its session keys (``_session.py``). One connection per peer pair is used both ways:
a connection is registered under the address the peer advertised in its handshake (or the
address we dialled), and ``send_frame`` reuses whatever is registered. If both ends dial each
other at the same moment, two connections exist; each end sends on the first one it registered,
so frame order per direction is kept, and both connections stay usable.

Everything a peer can get wrong (bad magic, a failed handshake, a wrong key, an oversized frame,
a tampered frame, a replayed datagram) is counted in :attr:`NetTransport.metrics` by reason and
dropped; a connection that misbehaves is closed. Nothing a peer sends can raise out of the
transport. Strangers are bounded too (``docs/security.md``): half-open connections per source
address and in all (the oldest is dropped to make room), established connections, the bytes of
unfinished frames all links buffer together, and silent links (keepalives every third of
``idle_timeout``; a link that hears nothing for ``idle_timeout`` is closed).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import anyio
import anyio.abc
from anyio.abc import SocketAttribute
from anyio.streams.stapled import MultiListener

from gossip._errors import (
    AuthenticationError,
    ConfigError,
    DecodeError,
    FrameTooLargeError,
    MessageTooLargeError,
    PeerError,
    ReplayError,
    TransportError,
    UnreachableError,
    VersionError,
)
from gossip._events import Addr, PacketReceived, PeerUnreachable, StreamReceived
from gossip.transport._addr import format_addr, parse_addr
from gossip.transport._advertise import advertise_host
from gossip.transport._config import TransportConfig
from gossip.transport._frame import FrameDecoder, encode_frame
from gossip.transport._handshake import (
    CONFIRM,
    MAGIC,
    MAX_HELLO_SIZE,
    Hello,
    negotiate,
    open_hello,
    seal_hello,
    transcript,
)
from gossip.transport._interface import Incoming, StreamIncoming
from gossip.transport._kernel import udp_drops
from gossip.transport._keyring import TAG_SIZE, Keyring
from gossip.transport._metrics import TransportMetrics
from gossip.transport._packet import open_packet, packet_overhead, seal_packet
from gossip.transport._replay import ReplayGuard
from gossip.transport._session import StreamCipher, derive_session
from gossip.transport._udp import UdpEndpoint

__all__ = ["NetTransport", "drop_reason"]

log = logging.getLogger("gossip.transport")

_READ_CHUNK = 262144  # bytes per socket read at most (what asyncio reads at once: no split)
_BROKEN = (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream)
_KERNEL_POLL = 0.05  # seconds: read the kernel's drop count at most this often
_DESTS_KEPT = 4096  # parsed destination addresses kept (one per peer)
_KEEPALIVE_DEFAULT = 20.0  # seconds between keepalives when idle_timeout is 0 (disabled)


class _RefusedError(Exception):
    """The server answered our hello with a refusal (not a peer error: a clear reason)."""


def source_of(stream: anyio.abc.SocketStream) -> str:
    """The per-source bucket of an inbound connection: its IP address (IPv6: its /64, which one
    host usually owns whole)."""
    try:
        host = str(stream.extra(SocketAttribute.remote_address)[0])
        ip = ipaddress.ip_address(host)
    except (ValueError, TypeError, IndexError, anyio.TypedAttributeLookupError):
        return "?"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def socket_addr(stream: anyio.abc.SocketStream, attribute: Any) -> str:
    """``"ip:port"`` of one end of a TCP connection (IPv4-mapped IPv6 written as IPv4), or ``""``.

    The client names the server's end as it connected to it, the server its own end as it
    accepted: without NAT both see the same address, whatever name the client dialled."""
    try:
        host, port = stream.extra(attribute)[:2]
        ip = ipaddress.ip_address(str(host).split("%")[0])
    except (ValueError, TypeError, anyio.TypedAttributeLookupError):
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return format_addr(str(ip), int(port))


def drop_reason(exc: PeerError) -> str:
    """The :data:`~gossip.transport.DROP_REASONS` entry that counts ``exc``."""
    if isinstance(exc, ReplayError):
        return "stale" if str(exc).startswith("stale") else "replay"
    if isinstance(exc, AuthenticationError):
        return "auth"
    if isinstance(exc, FrameTooLargeError):
        return "oversize"
    if isinstance(exc, VersionError):
        return "version"
    if isinstance(exc, _BufferBudgetError):
        return "buffer"
    return "malformed"


class _Reader:
    """Frames from a byte stream: the magic preamble, then length-prefixed frames.

    ``budget`` (once the connection is authenticated) is the transport's account of the bytes of
    unfinished frames all links hold; ``last_read`` the time of the last bytes received."""

    __slots__ = (
        "budget",
        "buffered",
        "decoder",
        "evicted",
        "last_read",
        "metrics",
        "pending",
        "stream",
    )

    def __init__(self, stream: anyio.abc.ByteStream, max_size: int, metrics: TransportMetrics):
        self.stream = stream
        self.decoder = FrameDecoder(max_size)
        self.pending: deque[bytes] = deque()
        self.metrics = metrics
        self.budget: _Budget | None = None
        self.buffered = 0  # bytes of an unfinished frame, as last accounted in the budget
        self.evicted = False  # closed by the budget to make room (its read loop says so)
        self.last_read = anyio.current_time()

    async def _chunk(self) -> bytes:
        chunk = await self.stream.receive(_READ_CHUNK)
        self.metrics.bytes_in += len(chunk)
        self.last_read = anyio.current_time()
        return chunk

    def _account(self) -> None:
        if self.budget is not None:
            now = self.decoder.buffered
            self.budget.used += now - self.buffered
            self.buffered = now

    async def read_magic(self) -> bool:
        head = b""
        while len(head) < len(MAGIC):
            head += await self._chunk()
        if head[: len(MAGIC)] != MAGIC:
            return False
        self.pending.extend(self.decoder.feed(head[len(MAGIC) :], 1))
        return True

    async def next_frame(self, *, single: bool = False) -> bytes:
        """The next frame. ``single``: parse no further than it (handshake messages: what follows
        them is checked against the cap that applies after the handshake)."""
        limit = 1 if single else None
        if not self.pending and self.decoder.buffered:  # frames left behind by a single read
            self.pending.extend(self.decoder.feed(b"", limit))
        while not self.pending:
            self.pending.extend(self.decoder.feed(await self._chunk(), limit))
            self._account()
            if self.budget is not None and self.budget.used > self.budget.limit:
                self.budget.over(self)
        return self.pending.popleft()

    def release(self) -> None:
        """The connection is gone: its unfinished frame no longer counts."""
        if self.budget is not None:
            self.budget.used -= self.buffered
            self.buffered = 0
            self.budget = None


class _BufferBudgetError(PeerError):
    """This link held the largest unfinished frame when all links together held too much."""


@dataclass(eq=False, slots=True)
class _Budget:
    """Bytes of unfinished frames held by all authenticated links, against a limit. Over it, the
    link holding the most is closed (counted ``buffer``): a flood of half-sent frames costs the
    flooder its links, while a peer sending ordinary frames holds next to nothing."""

    limit: int
    evict: Callable[[_Reader], None]  # closes another link's connection (from a task)
    readers: set[_Reader] = field(default_factory=set)
    used: int = 0

    def over(self, reader: _Reader) -> None:
        while self.used > self.limit and self.readers:
            victim = max(self.readers, key=lambda r: r.buffered)
            self.readers.discard(victim)
            victim.release()
            victim.evicted = True
            if victim is reader:  # counted by its read loop
                raise _BufferBudgetError("too many bytes of unfinished frames buffered")
            victim.metrics.drop("buffer")
            self.evict(victim)


@dataclass(eq=False, slots=True)
class _Conn:
    stream: anyio.abc.ByteStream
    reader: _Reader
    peer: Addr
    epoch: int
    send: StreamCipher
    recv: StreamCipher
    # fast_acquire: an idle link is written without first yielding to the event loop (the
    # write itself still checkpoints)
    lock: anyio.Lock = field(default_factory=lambda: anyio.Lock(fast_acquire=True))
    dead: bool = False
    last_send: float = 0.0  # anyio clock: when we last wrote to it (keepalives)


@dataclass(eq=False, slots=True)
class _Dial:
    """An outbound connect in progress; concurrent senders to the same peer wait for it."""

    done: anyio.Event = field(default_factory=anyio.Event)
    conn: _Conn | None = None
    error: UnreachableError | None = None


class NetTransport:
    """UDP + TCP transport of one node (see :class:`~gossip.transport.Transport`).

    ``keyring`` is required: pass ``Keyring([key], cluster=...)``, or ``Keyring.plaintext()`` to
    run unprotected on purpose. ``epoch`` is this node's restart epoch (it should grow across
    restarts; the default is the wall clock in milliseconds).
    """

    def __init__(
        self,
        config: TransportConfig | None = None,
        *,
        keyring: Keyring,
        epoch: int | None = None,
    ) -> None:
        if not isinstance(keyring, Keyring):
            raise ConfigError(
                "keyring= is required: Keyring([key], cluster=...) or, explicitly, "
                "Keyring.plaintext()"
            )
        self.config = config if config is not None else TransportConfig()
        # The host to advertise, settled before binding so a bad setting fails here, clearly.
        self._advertise_host = advertise_host(self.config.host, self.config.advertise)
        self.keyring = keyring
        self.epoch = epoch if epoch is not None else time.time_ns() // 1_000_000
        self._metrics = TransportMetrics()
        self._guard = ReplayGuard(
            window=self.config.replay_window, max_entries=self.config.replay_cache_size
        )
        self._conns: dict[Addr, list[_Conn]] = {}
        self._dials: dict[Addr, _Dial] = {}
        self._n_conns = 0  # established connections, all peers
        self._budget = _Budget(self.config.max_buffered_bytes, self._evict_reader)
        self._inbox_send, self._inbox_recv = anyio.create_memory_object_stream[Incoming](
            self.config.inbox_size
        )
        self._addr: Addr = ""
        self._tg: anyio.abc.TaskGroup | None = None
        self._udp: UdpEndpoint | None = None
        self._packet_handler: Callable[[PacketReceived], None] | None = None
        self._frame_handler: Callable[[StreamIncoming], None] | None = None
        self._listener: MultiListener[anyio.abc.SocketStream] | None = None
        # Inbound connections not yet authenticated, oldest first: stream -> (source, scope).
        self._handshaking: dict[anyio.abc.SocketStream, tuple[str, anyio.CancelScope]] = {}
        self._per_source: dict[str, int] = {}  # half-open connections per source address
        self._packet_cap = self.config.max_packet_size + packet_overhead("x" * 255)
        self._kernel_read = -_KERNEL_POLL  # monotonic time of the last kernel drop count read
        self._closed = False
        self._accepting = True  # see set_accepting
        self._dests: dict[Addr, tuple[str, int]] = {}  # parsed datagram destinations, kept

    # -- properties ------------------------------------------------------------------------

    @property
    def local_addr(self) -> Addr:
        if not self._addr:
            raise TransportError("transport not started: use 'async with'")
        return self._addr

    @property
    def metrics(self) -> TransportMetrics:
        """The counters; reading them also refreshes ``dropped["kernel"]`` (datagrams the kernel
        dropped because the receive buffer was full, where the platform reports it: Linux)."""
        self._read_kernel_drops()
        return self._metrics

    def _read_kernel_drops(self) -> None:
        now = time.monotonic()
        if self._udp is None or now - self._kernel_read < _KERNEL_POLL:
            return
        self._kernel_read = now
        try:
            fileno, family = self._udp.socket.fileno(), int(self._udp.socket.family)
        except OSError:
            return
        drops = udp_drops(fileno, family)
        if drops:
            self._metrics.dropped["kernel"] = drops

    @property
    def max_packet_size(self) -> int:
        return self.config.max_packet_size

    @property
    def max_frame_size(self) -> int:
        return self.config.max_frame_size

    @property
    def buffered_bytes(self) -> int:
        """Bytes of unfinished frames all authenticated links hold now (at most
        ``max_buffered_bytes`` plus one read)."""
        return self._budget.used

    def connected_peers(self) -> list[Addr]:
        """Peers with at least one established connection."""
        return [peer for peer, conns in self._conns.items() if conns]

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._tg is not None or self._closed:
            raise TransportError("a transport is started once")
        await self._bind()
        tg = anyio.create_task_group()
        await tg.__aenter__()
        self._tg = tg
        assert self._listener is not None
        tg.start_soon(self._serve, tg)
        assert self._udp is not None
        tg.start_soon(self._udp.run)
        tg.start_soon(self._idle_loop)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        await self.aclose()
        assert self._tg is not None
        self._tg.cancel_scope.cancel()  # we are leaving: stop every background task now
        # The body's exception is not handed to the task group (it would come out wrapped in an
        # exception group): returning None lets it propagate unchanged.
        await self._tg.__aexit__(None, None, None)
        return None

    async def aclose(self) -> None:
        """Close every connection and both sockets; idempotent.

        The background tasks end on their own as their sockets close (cancelling them here would
        also cancel the body of the caller's ``async with``, which shares their cancel scope).
        """
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            for conns in list(self._conns.values()):
                for conn in list(conns):
                    await self._kill(conn)
            for stream in list(self._handshaking):
                await stream.aclose()
            self._read_kernel_drops()
            if self._listener is not None:
                await self._listener.aclose()
            if self._udp is not None:
                self._udp.close()
            self._inbox_send.close()
            self._inbox_recv.close()  # wakes readers blocked on a full inbox

    async def _serve(self, tg: anyio.abc.TaskGroup) -> None:
        assert self._listener is not None
        for listener in self._listener.listeners:
            assert isinstance(listener, anyio.abc.SocketListener)  # what create_tcp_listener makes
            tg.start_soon(self._accept_loop, listener, tg)

    async def _accept_loop(
        self, listener: anyio.abc.SocketListener, tg: anyio.abc.TaskGroup
    ) -> None:
        while True:
            try:
                stream = await listener.accept()
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                return  # the listener was closed by aclose()
            except OSError as exc:
                # EMFILE and friends: out of descriptors (a flood?). Keep serving the links we
                # have, back off, and try again rather than bring the node down.
                log.warning("accept failed: %s", exc)
                await anyio.sleep(0.1)
                continue
            if not self._accepting:  # closed before any byte of ours: no handshake completes
                self._metrics.drop("offline")
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
                continue
            tg.start_soon(self._handle_inbound, stream)

    def set_accepting(self, accepting: bool) -> None:
        """Accept inbound connections (the default), or not: each one is then closed as soon as
        the kernel hands it over, before the handshake (counted as dropped ``offline``), and the
        inbound handshakes in progress are cancelled. For a node taken offline (the Node's
        ``go_offline``): peers see a refused link, not one that completes and then stays
        silent. Datagrams and established links are the caller's to drop or close."""
        self._accepting = accepting
        if not accepting:
            for _source, scope in list(self._handshaking.values()):
                scope.cancel()

    async def _bind(self) -> None:
        cfg = self.config
        attempts = 20 if cfg.port == 0 else 1  # an ephemeral TCP port may be taken for UDP
        for attempt in range(attempts):
            try:
                listener = await anyio.create_tcp_listener(local_host=cfg.host, local_port=cfg.port)
            except OSError as exc:
                raise TransportError(f"cannot listen on {cfg.host}:{cfg.port}: {exc}") from exc
            port = listener.extra(SocketAttribute.local_port)
            try:
                udp = UdpEndpoint.bind(cfg.host, port, self._on_datagram)
            except OSError as exc:
                await listener.aclose()
                if attempt == attempts - 1:
                    raise TransportError(f"cannot bind UDP {cfg.host}:{port}: {exc}") from exc
                continue
            self._listener, self._udp = listener, udp
            self._addr = cfg.advertise or format_addr(self._advertise_host or cfg.host, port)
            return

    def _check_open(self) -> None:
        if self._closed or self._tg is None:
            raise TransportError("transport is closed" if self._closed else "transport not started")

    # -- packets ---------------------------------------------------------------------------

    async def send_packet(self, dst: Addr, data: bytes) -> None:
        self.send_packet_nowait(dst, data)

    def send_packet_nowait(self, dst: Addr, data: bytes) -> None:
        """Seal and write one datagram now (best effort; see :class:`DirectPackets`)."""
        self._check_open()
        if len(data) > self.config.max_packet_size:
            raise MessageTooLargeError(
                f"packet of {len(data)} bytes exceeds max_packet_size={self.config.max_packet_size}"
            )
        dest = self._dests.get(dst)
        if dest is None:
            try:
                dest = parse_addr(dst)
            except ConfigError:
                return  # best effort: a packet to a malformed address is lost
            if len(self._dests) >= _DESTS_KEPT:
                self._dests.clear()
            self._dests[dst] = dest
        host, port = dest
        wire = seal_packet(self.keyring, self._addr, dst, data, time.time())
        assert self._udp is not None
        if not self._udp.sendto(wire, host, port):
            self._metrics.packets_out_failed += 1
            return
        self._metrics.packets_out += 1
        self._metrics.bytes_out += len(wire)

    def deliver_packets_to(self, handler: Callable[[PacketReceived], None] | None) -> None:
        """Hand accepted datagrams to ``handler`` as they arrive instead of queueing them for
        :meth:`receive` (see :class:`DirectPackets`); ``None`` queues them again."""
        self._packet_handler = handler

    def _on_datagram(self, data: bytes) -> None:
        """One datagram off the socket, in the event loop's readiness callback."""
        metrics = self._metrics
        metrics.bytes_in += len(data)
        if len(data) > self._packet_cap:
            metrics.drop("oversize")
            return
        try:
            src, payload = open_packet(self.keyring, data, self._addr, self._guard, time.time())
            if len(payload) > self.config.max_packet_size:
                raise FrameTooLargeError("datagram payload over max_packet_size")
        except PeerError as exc:
            metrics.drop(drop_reason(exc))
            return
        except Exception:  # a decoding bug must not let a peer stop our receive path
            log.exception("unexpected error decoding a datagram; dropped")
            metrics.drop("malformed")
            return
        metrics.packets_in += 1
        event = PacketReceived(src, payload)
        handler = self._packet_handler
        if handler is not None:
            try:
                handler(event)
            except Exception:  # the handler's bug; the socket keeps being read
                log.exception("the packet handler failed; datagram dropped")
            return
        try:
            self._inbox_send.send_nowait(event)
        except anyio.WouldBlock:
            metrics.packets_in -= 1
            metrics.drop("backpressure")
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            metrics.packets_in -= 1

    # -- receiving -------------------------------------------------------------------------

    async def receive(self) -> Incoming:
        try:
            return await self._inbox_recv.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise TransportError("transport is closed") from None

    # -- streams: connecting ---------------------------------------------------------------

    async def _handle_inbound(self, stream: anyio.abc.SocketStream) -> None:
        """Accept one connection: handshake (bounded in time and size), then read frames."""
        conn: _Conn | None = None
        source = source_of(stream)
        # Unauthenticated connections cost a socket each until their timeout. Bound them per
        # source and in all; when a bound is reached, the *oldest* half-open connection makes
        # room: a peer that really speaks the protocol completes within a round trip, so holding
        # slots takes a stranger a steady stream of fresh connections, not a few idle ones.
        if self._per_source.get(source, 0) >= self.config.max_handshakes_per_source:
            self._evict_half_open(source)
        if len(self._handshaking) >= self.config.max_handshakes:
            self._evict_half_open(None)
        scope = anyio.CancelScope(deadline=anyio.current_time() + self.config.handshake_timeout)
        self._handshaking[stream] = (source, scope)
        self._per_source[source] = self._per_source.get(source, 0) + 1
        try:
            with scope:
                conn = await self._server_handshake(stream)
            if scope.cancelled_caught:
                self._metrics.drop("handshake")
        except PeerError as exc:
            self._metrics.drop(drop_reason(exc))
        except _BROKEN:
            if not self._closed:
                self._metrics.drop("handshake")
        except UnreachableError:
            pass  # we closed while the handshake was running
        except Exception:  # a decoding bug must not let a peer kill the listener
            log.exception("unexpected error in an inbound handshake; connection dropped")
            self._metrics.drop("malformed")
        finally:
            self._handshaking.pop(stream, None)
            left = self._per_source.get(source, 1) - 1
            if left > 0:
                self._per_source[source] = left
            else:
                self._per_source.pop(source, None)
        if conn is None:
            with anyio.CancelScope(shield=True):
                await stream.aclose()
            return
        self._metrics.connections_accepted += 1
        await self._read_loop(conn)

    def _evict_half_open(self, source: str | None) -> None:
        """Cancel the oldest half-open handshake (of ``source``, or of anyone); it is counted as
        ``handshake`` when its task ends."""
        for src, scope in self._handshaking.values():
            if (source is None or src == source) and not scope.cancel_called:
                scope.cancel()
                return

    async def _server_handshake(self, stream: anyio.abc.SocketStream) -> _Conn | None:
        reader = _Reader(stream, MAX_HELLO_SIZE, self._metrics)
        if not await reader.read_magic():
            raise DecodeError("bad magic")
        hello_body = await reader.next_frame(single=True)
        hello, kid = open_hello(self.keyring, hello_body, self._guard, time.time())
        ours = self.config.versions
        nonce = Hello.fresh_nonce()  # our challenge: the client's confirm depends on it

        async def refuse(error: str) -> None:
            # Tell the client why, so it can report a clear error (the fields a version 1
            # client reads are all there), then close.
            refusal = Hello(
                versions=ours,
                epoch=self.epoch,
                addr=self._addr,
                nonce=nonce,
                dst=hello.addr,
                echo=hello.nonce,
                error=error,
            )
            wire = encode_frame(seal_hello(self.keyring, refusal, time.time(), welcome=True))
            await stream.send(wire)
            self._metrics.bytes_out += len(wire)

        try:
            version = negotiate(ours, hello.versions)
        except VersionError as exc:
            await refuse(str(exc))
            raise
        here = socket_addr(stream, SocketAttribute.local_address)
        if hello.dst not in (self._addr, here):
            # Sealed by a key holder, but for another node: a hello replayed from elsewhere.
            self._metrics.drop("misdirected")
            await refuse(f"this hello is for {hello.dst!r}; this node is {self._addr!r} ({here})")
            return None
        newer = [c for c in self._conns.get(hello.addr, ()) if c.epoch > hello.epoch]
        if newer:
            # A live link from a later restart of that address: this is a stale incarnation.
            # (Only while such a link lives: a claimed epoch never locks the address out.)
            self._metrics.drop("epoch")
            await refuse(f"a later restart of {hello.addr} is connected (epoch {newer[0].epoch})")
            return None
        if self._n_conns >= self.config.max_connections:
            self._metrics.drop("connections")
            await refuse(f"too many connections (max_connections={self.config.max_connections})")
            return None
        welcome = Hello(
            versions=ours,
            epoch=self.epoch,
            addr=self._addr,
            nonce=nonce,
            dst=hello.addr,
            echo=hello.nonce,
            version=version,
        )
        welcome_body = seal_hello(self.keyring, welcome, time.time(), welcome=True)
        wire = encode_frame(welcome_body)
        await stream.send(wire)
        self._metrics.bytes_out += len(wire)
        salt = transcript(hello_body, welcome_body)
        send, recv = derive_session(self.keyring, kid, salt, client=False)
        # The confirm proves the client holds the key and received this welcome (our fresh
        # challenge): until it arrives, nothing is registered, so a replayed hello gains nothing.
        if recv.open(await reader.next_frame(single=True)) != CONFIRM:
            raise AuthenticationError("the handshake confirm does not match")
        reader.decoder.max_size = self.config.max_frame_size + TAG_SIZE
        conn = _Conn(stream, reader, hello.addr, hello.epoch, send, recv)
        await self._register(conn)
        return conn

    async def _dial(self, dst: Addr) -> _Conn:
        try:
            host, port = parse_addr(dst)
        except ConfigError as exc:
            raise UnreachableError(f"cannot reach {dst!r}: {exc}") from None
        stream: anyio.abc.SocketStream | None = None
        ours = self.config.versions
        try:
            with anyio.fail_after(self.config.connect_timeout):
                stream = await anyio.connect_tcp(host, port)
                reader = _Reader(stream, MAX_HELLO_SIZE, self._metrics)
                nonce = Hello.fresh_nonce()
                hello_kid = self.keyring.primary_id or b""  # the key that seals our hello
                # The server's end as we reached it (its advertised address if we cannot tell):
                # a server accepts only hellos naming its own address, so a hello recorded on
                # its way to one node is refused by every other.
                there = socket_addr(stream, SocketAttribute.remote_address) or dst
                hello = Hello(
                    versions=ours, epoch=self.epoch, addr=self._addr, nonce=nonce, dst=there
                )
                hello_body = seal_hello(self.keyring, hello, time.time())
                wire = MAGIC + encode_frame(hello_body)
                await stream.send(wire)
                self._metrics.bytes_out += len(wire)
                welcome_body = await reader.next_frame(single=True)
                welcome, _ = open_hello(
                    self.keyring, welcome_body, self._guard, time.time(), welcome=True
                )
                if welcome.echo != nonce:
                    raise AuthenticationError("the welcome does not answer our hello")
                if welcome.error:
                    negotiate(ours, welcome.versions)  # VersionError: a clear message
                    raise _RefusedError(welcome.error)
                if not ours[0] <= welcome.version <= ours[1]:
                    raise VersionError(f"peer chose version {welcome.version}, we speak {ours}")
                if welcome.dst != self._addr:
                    raise AuthenticationError("the welcome answers a hello from someone else")
                salt = transcript(hello_body, welcome_body)
                send, recv = derive_session(self.keyring, hello_kid, salt, client=True)
                confirm = encode_frame(send.seal(CONFIRM))
                await stream.send(confirm)
                self._metrics.bytes_out += len(confirm)
        except (TimeoutError, PeerError, _RefusedError, *_BROKEN) as exc:
            self._metrics.connect_failures += 1
            if isinstance(exc, PeerError):
                self._metrics.drop(drop_reason(exc))
            if stream is not None:
                with anyio.CancelScope(shield=True):
                    await stream.aclose()
            if isinstance(exc, anyio.EndOfStream):
                detail = "the peer closed the connection during the handshake (wrong key?)"
            elif isinstance(exc, TimeoutError):
                detail = f"no connection within {self.config.connect_timeout} s"
            elif isinstance(exc, _RefusedError):
                detail = f"refused: {exc}"
            else:
                detail = str(exc) or type(exc).__name__
            raise UnreachableError(f"cannot reach {dst}: {detail}") from exc
        reader.decoder.max_size = self.config.max_frame_size + TAG_SIZE
        conn = _Conn(stream, reader, dst, welcome.epoch, send, recv)
        # We reached the address we dialled and it proved itself: its epoch is the truth, even
        # against links that merely *claimed* that address with another epoch.
        await self._register(conn, authoritative=True)
        self._metrics.connections_opened += 1
        assert self._tg is not None
        self._tg.start_soon(self._read_loop, conn)
        return conn

    async def _register(self, conn: _Conn, *, authoritative: bool = False) -> None:
        """Make ``conn`` usable for sending to its peer. A newer restart epoch replaces the links
        of older ones; a link we dialled replaces links of any other epoch."""
        if self._closed:
            await self._kill(conn)
            raise UnreachableError("transport is closed")
        peer = conn.peer
        conns = self._conns.setdefault(peer, [])
        stale = [
            c for c in conns if c.epoch < conn.epoch or (authoritative and c.epoch != conn.epoch)
        ]
        if stale:
            for old in stale:
                await self._kill(old)
            await self._report(peer, "the peer restarted (new epoch)")
        self._conns.setdefault(peer, []).append(conn)
        self._n_conns += 1
        conn.last_send = anyio.current_time()
        conn.reader.budget = self._budget
        self._budget.readers.add(conn.reader)

    async def _report(self, peer: Addr, reason: str) -> None:
        if self._closed:
            return
        if self._frame_handler is not None:
            self._hand_over(PeerUnreachable(peer, reason))
            return
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
            await self._inbox_send.send(PeerUnreachable(peer, reason))

    def deliver_frames_to(self, handler: Callable[[StreamIncoming], None] | None) -> None:
        """Hand received frames and ``PeerUnreachable`` to ``handler`` from the read loops instead
        of queueing them for :meth:`receive` (see :class:`DirectFrames`); ``None`` queues them
        again. What is queued already goes to ``handler`` first, so the order is kept."""
        self._frame_handler = handler
        if handler is None:
            return
        packets: list[Incoming] = []
        while True:
            try:
                item = self._inbox_recv.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
            if isinstance(item, PacketReceived):
                packets.append(item)  # not ours to hand over: queued again, in order
            else:
                self._hand_over(item)
        for packet in packets:
            with contextlib.suppress(anyio.WouldBlock, anyio.BrokenResourceError):
                self._inbox_send.send_nowait(packet)

    def _hand_over(self, item: StreamIncoming) -> None:
        handler = self._frame_handler
        assert handler is not None
        try:
            handler(item)
        except Exception:  # the handler's bug; the link keeps being read
            log.exception("the frame handler failed; %s dropped", type(item).__name__)

    async def _kill(self, conn: _Conn) -> bool:
        """Close ``conn`` and forget it; True if it was the peer's sending connection."""
        if conn.dead:
            return False
        conn.dead = True
        conns = self._conns.get(conn.peer, [])
        was_primary = bool(conns) and conns[0] is conn
        if conn in conns:
            conns.remove(conn)
            self._n_conns -= 1
        if not conns:
            self._conns.pop(conn.peer, None)
        self._budget.readers.discard(conn.reader)
        conn.reader.release()
        self._metrics.connections_closed += 1
        with anyio.CancelScope(shield=True):
            await conn.stream.aclose()
        return was_primary

    def _evict_reader(self, reader: _Reader) -> None:
        """The buffer budget picked another link than the one reading: close it (its own read
        loop then reports it)."""
        for conns in self._conns.values():
            for conn in conns:
                if conn.reader is reader and self._tg is not None:
                    self._tg.start_soon(self._close_evicted, conn)
                    return

    async def _close_evicted(self, conn: _Conn) -> None:
        with anyio.CancelScope(shield=True):
            await conn.stream.aclose()  # its read loop ends with the reason below

    async def _idle_loop(self) -> None:
        """Keepalives and the idle timeout: every link gets an (empty) frame when it has been
        quiet for a third of ``idle_timeout``, so a link that hears nothing for the whole of it
        is dead or held by someone who does not speak: close it. With ``idle_timeout=0`` links
        are never closed for silence, but keepalives still go out (peers may time out)."""
        limit = self.config.idle_timeout or _KEEPALIVE_DEFAULT * 3
        while not self._closed:
            await anyio.sleep(limit / 4)
            # (The kernel's drop count is read when someone reads the metrics, not here: a
            # member at rest spent a few percent of its CPU re-reading /proc for nobody.)
            now = anyio.current_time()
            for conns in list(self._conns.values()):
                for conn in list(conns):
                    if self.config.idle_timeout and now - conn.reader.last_read > limit:
                        assert self._tg is not None
                        self._tg.start_soon(self._close_idle, conn)
                    elif now - conn.last_send >= limit / 3 and not conn.lock.locked():
                        assert self._tg is not None
                        self._tg.start_soon(self._keepalive, conn)

    async def _close_idle(self, conn: _Conn) -> None:
        if conn.dead:
            return
        self._metrics.drop("idle")
        if await self._kill(conn):
            await self._report(conn.peer, f"the link was silent for {self.config.idle_timeout} s")

    async def _keepalive(self, conn: _Conn) -> None:
        async with conn.lock:
            if conn.dead:
                return
            wire = encode_frame(conn.send.seal(b""))
            conn.last_send = anyio.current_time()
            with anyio.move_on_after(self.config.idle_timeout or _KEEPALIVE_DEFAULT * 3):
                try:
                    await conn.stream.send(wire)
                except _BROKEN:
                    return  # the read loop reports the broken link
                self._metrics.bytes_out += len(wire)

    # -- streams: sending and reading ------------------------------------------------------

    async def _connection(self, dst: Addr) -> _Conn:
        """The connection to send on: always the peer's first registered one, so that frames of
        one sender keep their order even when the peer dialled us while we dialled it."""
        conns = self._conns.get(dst)
        if conns:
            return conns[0]
        dial = self._dials.get(dst)
        if dial is None:
            dial = self._dials[dst] = _Dial()
            try:
                dial.conn = await self._dial(dst)
            except UnreachableError as exc:
                dial.error = exc
                raise
            finally:
                del self._dials[dst]
                dial.done.set()
        else:  # someone is already connecting: share the outcome
            await dial.done.wait()
        conns = self._conns.get(dst)
        if conns:
            return conns[0]
        raise dial.error or UnreachableError(f"the connection to {dst} closed at once")

    async def send_frame(self, dst: Addr, data: bytes) -> None:
        await self.send_frames(dst, (data,))

    async def send_frames(self, dst: Addr, frames: Sequence[bytes]) -> None:
        """Send several frames to ``dst`` in order, with one write (see ``send_frame``)."""
        self._check_open()
        cap = self.config.max_frame_size
        for data in frames:
            if len(data) > cap:
                raise MessageTooLargeError(
                    f"frame of {len(data)} bytes exceeds max_frame_size={cap}"
                )
        if not frames:
            return
        conn = await self._connection(dst)
        async with conn.lock:
            if conn.dead:
                raise UnreachableError(f"the connection to {dst} is closed")
            # Sealing happens under the lock: the counter nonces must follow the write order.
            wire = b"".join(encode_frame(conn.send.seal(data)) for data in frames)
            conn.last_send = anyio.current_time()
            try:
                await conn.stream.send(wire)
            except _BROKEN as exc:
                await self._kill(conn)
                raise UnreachableError(f"sending to {dst} failed: {exc!r}") from exc
        self._metrics.frames_out += len(frames)
        self._metrics.bytes_out += len(wire)

    async def close_stream(self, peer: Addr) -> None:
        for conn in list(self._conns.get(peer, [])):
            async with conn.lock:  # frames already being written go out first
                with anyio.CancelScope(shield=True):
                    with contextlib.suppress(*_BROKEN):
                        await conn.stream.send_eof()
                await self._kill(conn)

    async def _read_loop(self, conn: _Conn) -> None:
        reason = "the peer closed the connection"
        try:
            while True:
                body = await conn.reader.next_frame()
                payload = conn.recv.open(body)
                if not payload:
                    continue  # a keepalive (no core sends empty payloads: they hold a tag)
                self._metrics.frames_in += 1
                if self._frame_handler is not None:
                    self._hand_over(StreamReceived(conn.peer, payload))
                else:
                    await self._inbox_send.send(StreamReceived(conn.peer, payload))
        except PeerError as exc:
            self._metrics.drop(drop_reason(exc))
            reason = f"the peer sent a bad frame ({drop_reason(exc)})"
            if isinstance(exc, _BufferBudgetError):
                reason = "the links together buffered too much, this one the most"
        except anyio.EndOfStream:
            pass
        except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            reason = f"the connection broke ({type(exc).__name__})"
            if conn.reader.evicted:
                reason = "the links together buffered too much, this one the most"
        except Exception as exc:  # a bug must not let a peer kill the transport
            log.exception("unexpected error reading from %s; connection dropped", conn.peer)
            reason = f"the connection failed ({type(exc).__name__})"
        if await self._kill(conn):
            await self._report(conn.peer, reason)
