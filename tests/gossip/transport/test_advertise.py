"""Bind and advertise: the LAN/WAN presets bind every interface and advertise a dialable address;
unusable advertised addresses are clear errors (issue 10)."""

from __future__ import annotations

import anyio
import pytest

from gossip import ConfigError, StreamReceived
from gossip.transport import NetTransport, TransportConfig
from gossip.transport import _advertise as advertise

from .conftest import KEY, net, recv

pytestmark = pytest.mark.anyio


def test_presets_bind_what_the_deployment_needs() -> None:
    assert TransportConfig.lan().host == "0.0.0.0"  # peers are other hosts
    assert TransportConfig.wan().host == "0.0.0.0"
    assert TransportConfig.local().host == "127.0.0.1"  # one machine: loopback only
    assert TransportConfig.lan(host="10.0.0.5").host == "10.0.0.5"


@pytest.mark.parametrize("bad", ["0.0.0.0:7946", "[::]:7946", "10.0.0.5:0"])
def test_an_unusable_advertised_address_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="advertise"):
        TransportConfig.lan(advertise=bad)


def test_advertise_host_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    assert advertise.advertise_host("10.0.0.5", None) == "10.0.0.5"
    assert advertise.advertise_host("0.0.0.0", "10.0.0.5:7946") is None  # used as given
    monkeypatch.setattr(advertise, "primary_ip", lambda v6=False: "10.1.2.3")
    assert advertise.advertise_host("0.0.0.0", None) == "10.1.2.3"
    monkeypatch.setattr(advertise, "primary_ip", lambda v6=False: None)
    with pytest.raises(ConfigError, match="advertise="):
        advertise.advertise_host("0.0.0.0", None)


def test_primary_ip_is_never_loopback_or_wildcard() -> None:
    ip = advertise.primary_ip()
    assert ip is None or not (ip.startswith("127.") or ip == "0.0.0.0")


def test_a_wildcard_bind_with_nothing_to_advertise_fails_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gossip.transport import Keyring

    monkeypatch.setattr(advertise, "primary_ip", lambda v6=False: None)
    with pytest.raises(ConfigError, match="advertise="):
        NetTransport(TransportConfig.lan(), keyring=Keyring([KEY], cluster="test"))


async def test_a_wildcard_bind_advertises_the_derived_address(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The derived address is patched to loopback so that traffic stays on this machine.
    monkeypatch.setattr(advertise, "primary_ip", lambda v6=False: "127.0.0.1")
    async with net(host="0.0.0.0") as wide, net() as other:
        host, _, port = wide.local_addr.rpartition(":")
        assert host == "127.0.0.1" and port != "0"
        await other.send_frame(wide.local_addr, b"\x70hi")
        assert await recv(wide) == StreamReceived(other.local_addr, b"\x70hi")
        with anyio.fail_after(5):
            await wide.send_frame(other.local_addr, b"\x70back")
        assert await recv(other) == StreamReceived(wide.local_addr, b"\x70back")
