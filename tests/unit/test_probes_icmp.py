"""ICMP result arithmetic, request sequencing and socket permissions.

Real echo exchanges are in the functional tests (loopback and network
namespaces); these need no network.
"""

import asyncio

from icmplib import exceptions as icmp_exceptions
import pytest

from ceilometer_ha.probes import icmp
from ceilometer_ha.probes import icmp_session
from ceilometer_ha.probes import results
from tests.unit import fakes


@pytest.mark.parametrize(
    "received, loss, reachable",
    [(4, 0.0, True), (2, 0.5, True), (1, 0.75, False), (0, 1.0, False)],
)
def test_loss_and_reachability(received, loss, reachable):
    result = fakes.ping_result("192.0.2.10", received=received)
    assert result.loss_ratio == loss
    assert result.reachable(0.5) is reachable


def test_unsent_requests_count_as_lost():
    result = results.PingResult("192.0.2.10", 4, 0, 0, reason="unreachable")
    assert result.loss_ratio == 1.0
    assert not result.reachable(1.0)


def test_every_request_of_a_socket_has_its_own_sequence():
    targets = {f"a{i}": f"127.0.{i // 250}.{i % 250 + 1}" for i in range(700)}
    chunks = icmp._chunks(targets, 100)
    assert all(len(c) * 100 <= icmp_session.MAX_SEQUENCES for c in chunks)
    assert sum(len(c) for c in chunks) == 700
    assert [a for c in chunks for a in c] == list(targets)


def test_contract_bound():
    prober = icmp.IcmpProber(count=4, interval=0.1, timeout=0.5)
    assert prober.bound == pytest.approx(0.8)
    with pytest.raises(ValueError):
        icmp.IcmpProber(count=0)


class _RefusedSocket:
    def __init__(self, address=None, privileged=True):
        raise icmp_exceptions.SocketPermissionError(privileged)


def test_no_socket_allowed_names_the_sysctl(monkeypatch):
    monkeypatch.setattr(icmp.icmp_sockets, "ICMPv4Socket", _RefusedSocket)
    monkeypatch.setattr(icmp.icmp_sockets, "ICMPv6Socket", _RefusedSocket)
    cycle = icmp.IcmpProber(count=2).ping(["192.0.2.10", "2001:db8::1"])
    for result in cycle.results.values():
        assert result.packets_sent == 0
        assert result.loss_ratio == 1.0
        assert "net.ipv4.ping_group_range" in result.reason
        assert "CAP_NET_RAW" in result.reason


def test_ip_literals_need_no_resolver():
    assert asyncio.run(icmp._resolve("::0001", 0.5)) == "::1"
    assert asyncio.run(icmp._resolve("2001:DB8::1", 0.5)) == "2001:db8::1"


def test_refused_datagram_sockets_fall_back_to_raw(monkeypatch):
    opened = []

    class DatagramRefused:
        def __init__(self, address=None, privileged=True):
            opened.append(privileged)
            if not privileged:
                raise icmp_exceptions.SocketPermissionError(privileged)

    monkeypatch.setattr(icmp.icmp_sockets, "ICMPv4Socket", DatagramRefused)
    prober = icmp.IcmpProber()
    assert prober.socket_kind == "datagram"
    assert isinstance(prober._open_socket(4), DatagramRefused)
    assert prober.socket_kind == "raw"
    prober._open_socket(4)
    assert opened == [False, True, True]  # raw first once it worked


class _NoIpv6Socket:
    def __init__(self, address=None, privileged=True):
        raise icmp_exceptions.ICMPSocketError("Address family not supported")


def test_a_family_without_sockets_fails_only_its_addresses(monkeypatch):
    monkeypatch.setattr(icmp.icmp_sockets, "ICMPv6Socket", _NoIpv6Socket)
    monkeypatch.setattr(icmp.icmp_sockets, "ICMPv4Socket", _RefusedSocket)
    cycle = icmp.IcmpProber(count=2).ping(["192.0.2.10", "2001:db8::1"])
    assert cycle.results["2001:db8::1"].reason.startswith(
        "socket error: IPv6: Address family not supported"
    )
    assert "ping_group_range" in cycle.results["192.0.2.10"].reason
