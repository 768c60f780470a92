"""Handshake messages, version negotiation, datagram layout, session ciphers, replay guard."""

from __future__ import annotations

import contextlib

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gossip import (
    AuthenticationError,
    ConfigError,
    DecodeError,
    PeerError,
    ReplayError,
    UsageError,
    VersionError,
)
from gossip.transport import (
    Hello,
    Keyring,
    ReplayGuard,
    TransportConfig,
    format_addr,
    negotiate,
    parse_addr,
)
from gossip.transport._handshake import open_hello, seal_hello
from gossip.transport._packet import open_packet, seal_packet
from gossip.transport._replay import stamp
from gossip.transport._session import derive_session

RING = Keyring([bytes(32)], cluster="c")
NOW = 1_700_000_000.0


@given(
    a=st.tuples(st.integers(1, 9), st.integers(0, 5)),
    b=st.tuples(st.integers(1, 9), st.integers(0, 5)),
)
def test_negotiate_picks_the_highest_common_version(a: tuple[int, int], b: tuple[int, int]) -> None:
    ours, theirs = (a[0], a[0] + a[1]), (b[0], b[0] + b[1])
    common = set(range(ours[0], ours[1] + 1)) & set(range(theirs[0], theirs[1] + 1))
    if common:
        assert negotiate(ours, theirs) == max(common) == negotiate(theirs, ours)
    else:
        with pytest.raises(VersionError, match="version mismatch"):
            negotiate(ours, theirs)


def test_hello_roundtrip_and_replay() -> None:
    hello = Hello(versions=(1, 2), epoch=7, addr="10.0.0.1:7946", nonce=Hello.fresh_nonce())
    guard = ReplayGuard(window=30)
    sealed = seal_hello(RING, hello, NOW)
    got, kid = open_hello(RING, sealed, guard, NOW + 1)
    assert got == hello and kid == RING.primary_id
    with pytest.raises(ReplayError, match="replay"):
        open_hello(RING, sealed, guard, NOW + 2)
    with pytest.raises(AuthenticationError):  # a hello is not a welcome
        open_hello(RING, seal_hello(RING, hello, NOW), guard, NOW, welcome=True)


def test_malformed_handshake_body_is_a_decode_error() -> None:
    guard = ReplayGuard()
    for body in (b"\xc1", b"\x93\x01\x02\x03", b"\x81\xa1x\x01"):
        sealed = RING.seal(b"hello", stamp(body, NOW))
        with pytest.raises(DecodeError):
            open_hello(RING, sealed, guard, NOW)


def test_packet_roundtrip_carries_source() -> None:
    guard = ReplayGuard()
    sealed = seal_packet(RING, "1.2.3.4:5", "1.2.3.4:6", b"\x01ping", NOW)
    src, payload = open_packet(RING, sealed, "1.2.3.4:6", guard, NOW)
    assert (src, payload) == ("1.2.3.4:5", b"\x01ping")


def test_packet_is_bound_to_its_destination() -> None:
    """A datagram sealed for one node fails authentication at every other (issue 12, item 2)."""
    sealed = seal_packet(RING, "1.2.3.4:5", "1.2.3.4:6", b"\x01ping", NOW)
    for elsewhere in ("1.2.3.4:7", "1.2.3.4:60", ""):
        with pytest.raises(AuthenticationError):
            open_packet(RING, sealed, elsewhere, ReplayGuard(), NOW)


def test_kept_address_encodings_change_nothing_on_the_wire() -> None:
    """Addresses' encodings are kept between datagrams: a second datagram (and one with another
    source) is sealed, bound and refused exactly as the first; a source over 255 bytes is still
    a usage error every time."""
    guard = ReplayGuard()
    for src in ("1.2.3.4:5", "1.2.3.4:5", "[::1]:5"):
        sealed = seal_packet(RING, src, "1.2.3.4:6", b"\x01ping", NOW)
        assert open_packet(RING, sealed, "1.2.3.4:6", guard, NOW) == (src, b"\x01ping")
        with pytest.raises(AuthenticationError):
            open_packet(RING, sealed, "1.2.3.4:7", ReplayGuard(), NOW)
    for _ in range(2):
        with pytest.raises(UsageError):
            seal_packet(RING, "h" * 251 + ":7946", "1.2.3.4:6", b"\x01ping", NOW)


def test_replay_guard_window_and_capacity() -> None:
    guard = ReplayGuard(window=10, max_entries=3)
    guard.check(b"n1", NOW, NOW)
    with pytest.raises(ReplayError, match="replay"):
        guard.check(b"n1", NOW, NOW + 5)
    with pytest.raises(ReplayError, match="stale"):
        guard.check(b"n2", NOW - 11, NOW)
    with pytest.raises(ReplayError, match="stale"):
        guard.check(b"n3", NOW + 11, NOW)  # from the future: as suspicious
    for i in range(3):
        guard.check(b"m%d" % i, NOW + 1 + i, NOW + 1)
    assert len(guard) == 3  # the oldest (n1) was evicted ...
    with pytest.raises(ReplayError, match="stale"):
        guard.check(b"n1", NOW, NOW + 1)  # ... and can still not be replayed
    guard.check(b"later", NOW + 30, NOW + 30)  # everything else expired
    assert len(guard) == 1


def test_session_ciphers_pair_up_and_detect_reordering() -> None:
    c_send, c_recv = derive_session(RING, RING.primary_id or b"", b"t" * 32, client=True)
    s_send, s_recv = derive_session(RING, RING.primary_id or b"", b"t" * 32, client=False)
    f1, f2 = c_send.seal(b"one"), c_send.seal(b"two")
    assert s_recv.open(f1) == b"one"
    with pytest.raises(AuthenticationError):
        s_recv.open(f1)  # replayed: the counter moved on
    assert c_recv.open(s_send.seal(b"back")) == b"back"
    other_send, _ = derive_session(RING, RING.primary_id or b"", b"x" * 32, client=True)
    _, fresh_recv = derive_session(RING, RING.primary_id or b"", b"t" * 32, client=False)
    with pytest.raises(AuthenticationError):
        fresh_recv.open(other_send.seal(b"spliced"))  # from another connection
    assert f2  # (sealed, never delivered: a dropped frame also breaks the next one)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("127.0.0.1:80", ("127.0.0.1", 80)), ("[::1]:7946", ("::1", 7946)), ("h:0", ("h", 0))],
)
def test_addresses(text: str, parsed: tuple[str, int]) -> None:
    assert parse_addr(text) == parsed and format_addr(*parsed) == text


@pytest.mark.parametrize("bad", ["", "host", ":80", "h:x", "::1:80", "h:70000"])
def test_bad_addresses(bad: str) -> None:
    with pytest.raises(ConfigError):
        parse_addr(bad)


def test_config_validation_and_presets() -> None:
    assert TransportConfig.wan().max_packet_size == 1400
    assert TransportConfig.local(port=5).port == 5
    assert TransportConfig.lan() == TransportConfig(host="0.0.0.0")
    for bad in (
        {"port": 70000},
        {"max_packet_size": 0},
        {"max_packet_size": 66_000},
        {"max_frame_size": 0},
        {"connect_timeout": 0},
        {"versions": (2, 1)},
        {"advertise": "nope"},
        {"inbox_size": 0},
    ):
        with pytest.raises(ConfigError):
            TransportConfig(**bad)


@pytest.mark.parametrize("keyring", [RING, Keyring.plaintext(cluster="c")], ids=["keyed", "plain"])
@given(data=st.binary(max_size=200))
def test_arbitrary_bytes_only_ever_raise_peer_errors(keyring: Keyring, data: bytes) -> None:
    """Whatever a peer sends, decoding fails with a typed PeerError (never a crash)."""
    guard = ReplayGuard()
    for attempt in (
        lambda: open_packet(keyring, data, "1.2.3.4:6", guard, NOW),
        lambda: open_hello(keyring, data, guard, NOW),
        lambda: open_hello(keyring, data, guard, NOW, welcome=True),
    ):
        with contextlib.suppress(PeerError):
            attempt()


_FIELDS = st.sampled_from(["vmin", "vmax", "epoch", "addr", "nonce", "echo", "version", "error"])
_VALUES = (
    st.integers(-(2**63), 2**64 - 1)
    | st.binary(max_size=20)
    | st.text(max_size=5)
    | st.none()
    | st.booleans()
)
_MAPS = st.dictionaries(_FIELDS | st.text(max_size=3), _VALUES, max_size=8).map(
    lambda d: msgpack.packb(d, use_bin_type=True)
)


@given(body=st.binary(max_size=200) | _MAPS)
def test_authentic_but_malformed_handshakes_are_decode_errors(body: bytes) -> None:
    plain = Keyring.plaintext(cluster="c")
    for welcome in (False, True):
        kind = b"welcome" if welcome else b"hello"
        with contextlib.suppress(DecodeError):
            open_hello(
                plain, plain.seal(kind, stamp(body, NOW)), ReplayGuard(), NOW, welcome=welcome
            )
