"""The cluster keyring: sealing, key ids, cluster binding, rotation, explicit plaintext."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gossip import AuthenticationError, ConfigError, DecodeError, UsageError
from gossip.transport import Keyring, key_id
from gossip.transport._keyring import SEAL_OVERHEAD

K1, K2, K3 = bytes(32), bytes(range(32)), bytes(range(32, 64))


@pytest.mark.parametrize("cipher", ["chacha20-poly1305", "aes-256-gcm"])
@given(payload=st.binary(max_size=2000))
def test_seal_open_roundtrip(cipher: str, payload: bytes) -> None:
    ring = Keyring([K1], cluster="c", cipher=cipher)  # type: ignore[arg-type]
    sealed = ring.seal(b"packet", payload)
    assert len(sealed) == len(payload) + SEAL_OVERHEAD
    assert payload not in sealed or len(payload) < 4  # encrypted, not just signed
    opened = ring.open(b"packet", sealed)
    assert opened.plaintext == payload and opened.key_id == key_id(K1)


def test_nonces_are_fresh() -> None:
    ring = Keyring([K1])
    assert ring.seal(b"packet", b"same") != ring.seal(b"packet", b"same")


@pytest.mark.parametrize(
    "other",
    [
        Keyring([K2], cluster="c"),  # another key
        Keyring([K1], cluster="d"),  # the same key, another cluster
    ],
)
def test_another_cluster_cannot_open(other: Keyring) -> None:
    ring = Keyring([K1], cluster="c")
    with pytest.raises(AuthenticationError):
        ring.open(b"packet", other.seal(b"packet", b"x"))


def test_kind_is_bound() -> None:
    ring = Keyring([K1])
    with pytest.raises(AuthenticationError):
        ring.open(b"hello", ring.seal(b"packet", b"x"))


@given(pos=st.integers(min_value=0), flip=st.integers(min_value=1, max_value=255))
def test_any_flipped_byte_is_rejected(pos: int, flip: int) -> None:
    ring = Keyring([K1])
    sealed = bytearray(ring.seal(b"packet", b"payload"))
    sealed[pos % len(sealed)] ^= flip
    with pytest.raises((AuthenticationError, DecodeError)):
        ring.open(b"packet", bytes(sealed))


@given(cut=st.integers(min_value=0, max_value=SEAL_OVERHEAD + 6))
def test_truncated_is_rejected(cut: int) -> None:
    ring = Keyring([K1])
    sealed = ring.seal(b"packet", b"payload")
    with pytest.raises((AuthenticationError, DecodeError)):
        ring.open(b"packet", sealed[:cut])


def test_rotation_rollout() -> None:
    """add on every node, then use on every node, then remove the old key everywhere."""
    a, b = Keyring([K1]), Keyring([K1])
    a.add(K2)
    b.add(K2)
    a.use(K2)  # a seals with K2, b still with K1: both open both
    assert b.open(b"p", a.seal(b"p", b"x")).key_id == key_id(K2)
    assert a.open(b"p", b.seal(b"p", b"y")).key_id == key_id(K1)
    b.use(K2)
    old_from_b = Keyring([K1]).seal(b"p", b"stale")
    a.remove(K1)
    b.remove(K1)
    assert a.key_ids == [key_id(K2)]
    assert a.open(b"p", b.seal(b"p", b"z")).plaintext == b"z"
    with pytest.raises(AuthenticationError):
        a.open(b"p", old_from_b)


def test_rotate_is_add_then_use() -> None:
    ring = Keyring([K1])
    ring.rotate(K3)
    assert ring.primary_id == key_id(K3) and set(ring.key_ids) == {key_id(K1), key_id(K3)}


def test_misuse_is_typed() -> None:
    ring = Keyring([K1])
    with pytest.raises(UsageError):
        ring.remove(K1)  # the primary
    with pytest.raises(UsageError):
        ring.use(K2)  # not installed
    with pytest.raises(ConfigError):
        ring.add(b"short")
    with pytest.raises(ConfigError):
        Keyring([])
    with pytest.raises(ConfigError):
        Keyring([K1], cluster="")
    with pytest.raises(ConfigError):
        Keyring([K1], cipher="rot13")  # type: ignore[arg-type]


def test_plaintext_is_explicit_and_incompatible_with_keys() -> None:
    plain, keyed = Keyring.plaintext(), Keyring([K1])
    assert not plain.encrypted and keyed.encrypted
    assert plain.open(b"p", plain.seal(b"p", b"x")).plaintext == b"x"
    with pytest.raises(AuthenticationError):
        keyed.open(b"p", plain.seal(b"p", b"x"))
    with pytest.raises(AuthenticationError):
        plain.open(b"p", keyed.seal(b"p", b"x"))
    with pytest.raises(UsageError):
        plain.add(K1)
    assert "plaintext" in repr(plain) and "keys=1" in repr(keyed)


def test_generated_keys_differ_and_fit() -> None:
    k, j = Keyring.generate_key(), Keyring.generate_key()
    assert len(k) == 32 and k != j


def test_kept_associated_data_still_binds_kind_key_cluster_and_destination() -> None:
    """The associated data is built once per (kind, key, destination, cluster) and kept: a
    second message with any of them changed must still fail, and the cache stays bounded."""
    k1, k2 = Keyring.generate_key(), Keyring.generate_key()
    ring = Keyring([k1, k2], cluster="one")
    for _ in range(2):  # the second round runs on kept associated data
        sealed = ring.seal(b"packet", b"x", bind=b"a:1")
        assert ring.open(b"packet", sealed, bind=b"a:1").plaintext == b"x"
        with pytest.raises(AuthenticationError):
            ring.open(b"packet", sealed, bind=b"b:1")
        with pytest.raises(AuthenticationError):
            ring.open(b"stream", sealed, bind=b"a:1")
    ring.use(k2)
    by_k2 = ring.seal(b"packet", b"y", bind=b"a:1")
    assert by_k2[1:5] == key_id(k2) and ring.open(b"packet", by_k2, bind=b"a:1").plaintext == b"y"
    ring.cluster = "two"  # a relabelled keyring must not reuse the old label's data
    with pytest.raises(AuthenticationError):
        ring.open(b"packet", by_k2, bind=b"a:1")
    for i in range(5000):
        ring.seal(b"packet", b"z", bind=b"peer:%d" % i)
    assert len(ring._aad_cache) <= 4096
