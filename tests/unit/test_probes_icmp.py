"""ICMP result arithmetic, request sequencing and socket permissions.

Real echo exchanges are in the functional tests (loopback and network
namespaces); these need no network.
"""

import asyncio
import errno
import logging
import os
import socket
import threading
import time

from icmplib import exceptions as icmp_exceptions
import pytest

from ceilometer_ha.probes import icmp
from ceilometer_ha.probes import icmp_session
from ceilometer_ha.probes import names
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
    resolver = names.Resolver(FakeLookup())
    assert asyncio.run(resolver.resolve("::0001", 0.5)) == "::1"
    assert asyncio.run(resolver.resolve("2001:DB8::1", 0.5)) == "2001:db8::1"


class FakeLookup:
    """``socket.getaddrinfo`` of a resolver that answers ``ip``, fails
    with OSError when ``ip`` is None, and hangs while ``hung`` is set."""

    def __init__(self, ip=None):
        self.ip = ip
        self.calls = 0
        self.hung = threading.Event()
        self.released = threading.Event()

    def __call__(self, host, port, family=0, type=0):
        self.calls += 1
        ip = self.ip  # the answer of the moment it was asked
        if self.hung.is_set():
            self.released.wait(10)
        if ip is None:
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure")
        return [(socket.AF_INET, type, 17, "", (ip, 0))]


def test_a_name_keeps_its_last_address_when_the_resolver_fails(caplog):
    lookup = FakeLookup("198.51.100.7")
    resolver = names.Resolver(lookup)
    assert asyncio.run(resolver.resolve("storage.test", 0.5)) == (
        "198.51.100.7"
    )
    lookup.ip = None
    for _ in range(3):
        assert asyncio.run(resolver.resolve("storage.test", 0.5)) == (
            "198.51.100.7"
        )
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1  # once per outage, not per cycle
    assert "pinging 198.51.100.7, its last address" in warnings[0].message
    lookup.ip = "198.51.100.8"
    assert asyncio.run(resolver.resolve("storage.test", 0.5)) == (
        "198.51.100.8"
    )


class SlowLookup(FakeLookup):
    """A resolver that answers, but only after ``delay`` seconds (its
    first server dead, say)."""

    def __init__(self, ip, delay):
        super().__init__(ip)
        self.delay = delay
        self.answered = threading.Event()

    def __call__(self, host, port, family=0, type=0):
        time.sleep(self.delay)
        try:
            return super().__call__(host, port, family, type)
        finally:
            self.answered.set()


def test_a_slow_resolver_is_said_once_not_at_every_late_answer(caplog):
    lookup = SlowLookup("198.51.100.7", 0.0)
    resolver = names.Resolver(lookup)
    assert asyncio.run(resolver.resolve("storage.test", 0.05))
    lookup.delay = 0.2
    for _ in range(4):
        lookup.answered.clear()
        assert asyncio.run(resolver.resolve("storage.test", 0.05)) == (
            "198.51.100.7"
        )
        assert lookup.answered.wait(10)
    said = [r.message for r in caplog.records if r.levelno >= logging.INFO]
    assert len([m for m in said if "Cannot resolve" in m]) == 1, said
    assert not [m for m in said if m.startswith("storage.test resolves")]
    lookup.delay = 0.0
    with caplog.at_level(logging.INFO):
        assert asyncio.run(resolver.resolve("storage.test", 0.5))
    assert "resolves again in time" in caplog.records[-1].message


def test_a_name_that_never_resolved_is_unresolvable():
    resolver = names.Resolver(FakeLookup(None))
    with pytest.raises(LookupError, match="Temporary failure"):
        asyncio.run(resolver.resolve("storage.test", 0.5))


def test_a_hung_resolver_is_asked_once_and_its_late_answer_kept():
    lookup = FakeLookup("198.51.100.7")
    lookup.hung.set()
    resolver = names.Resolver(lookup)
    try:
        with pytest.raises(LookupError, match="no answer within 0.05 s"):
            asyncio.run(resolver.resolve("storage.test", 0.05))
        for _ in range(2):
            with pytest.raises(LookupError, match="no answer yet"):
                asyncio.run(resolver.resolve("storage.test", 0.05))
        assert lookup.calls == 1  # one thread held, not one per cycle
        # Later look-ups fail: only the late answer can resolve it.
        lookup.ip = None
        lookup.hung.clear()
    finally:
        lookup.released.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            assert asyncio.run(resolver.resolve("storage.test", 0.5)) == (
                "198.51.100.7"
            )
            break
        except LookupError:
            time.sleep(0.01)
    else:
        raise AssertionError("the late answer never came")
    # Asked again, a new look-up fails: the late answer was kept.
    calls = lookup.calls
    assert asyncio.run(resolver.resolve("storage.test", 0.5)) == (
        "198.51.100.7"
    )
    assert lookup.calls == calls + 1


def _bounded(resolver, name, timeout):
    """``resolver.resolve(name, timeout)``, given up after 10 s."""
    return asyncio.run(asyncio.wait_for(resolver.resolve(name, timeout), 10))


def test_a_look_up_still_running_is_not_waited_for_again():
    """A hung resolver: each later cycle takes the last address at once
    (an hour's timeout would otherwise be waited out) and adds nothing
    to the look-up it leaves running."""
    lookup = FakeLookup("198.51.100.7")
    resolver = names.Resolver(lookup)
    assert _bounded(resolver, "storage.test", 0.5) == "198.51.100.7"
    lookup.hung.set()
    lookup.ip = "198.51.100.8"
    try:
        assert _bounded(resolver, "storage.test", 0.05) == "198.51.100.7"
        for _ in range(50):
            assert _bounded(resolver, "storage.test", 3600) == ("198.51.100.7")
        assert lookup.calls == 2
    finally:
        lookup.released.set()


class NamesThatHang:
    """``socket.getaddrinfo`` that hangs for the names in ``hung`` until
    ``released``, and answers ``ip`` for any other."""

    def __init__(self, hung, ip):
        self.hung, self.ip = set(hung), ip
        self.released = threading.Event()

    def __call__(self, host, port, family=0, type=0):
        if host in self.hung:
            self.released.wait(60)  # past _bounded's 10 s
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure")
        return [(socket.AF_INET, type, 17, "", (self.ip, 0))]


def test_names_whose_look_ups_hang_hold_up_no_other():
    hung = [f"hung-{n}.test" for n in range(6)]
    lookup = NamesThatHang(hung, "198.51.100.9")
    resolver = names.Resolver(lookup)
    try:
        for name in hung:
            with pytest.raises(LookupError, match="no answer within"):
                _bounded(resolver, name, 0.05)
        assert _bounded(resolver, "storage.test", 3600) == "198.51.100.9"
    finally:
        lookup.released.set()


def test_a_name_that_never_resolved_is_not_probed(caplog):
    prober = icmp.IcmpProber(count=2, resolver=FakeLookup(None))
    for _ in range(2):
        result = prober.ping(["storage.test"]).results["storage.test"]
        assert not result.probed
        assert result.packets_sent == 0
        assert result.reason.startswith("unresolvable: ")
    errors = [r.message for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1, errors  # once, not every cycle
    assert errors[0].startswith("Cannot probe storage.test: unresolvable")


def test_a_name_whose_look_up_hangs_is_logged_once(caplog):
    """Its reason alternates: no answer within the timeout, then no
    answer yet to the look-up still running."""
    lookup = FakeLookup(None)
    lookup.hung.set()
    prober = icmp.IcmpProber(count=1, timeout=0.05, resolver=lookup)
    try:
        reasons = {
            prober.ping(["storage.test"]).results["storage.test"].reason
            for _ in range(4)
        }
    finally:
        lookup.released.set()
    assert len(reasons) == 2, reasons
    errors = [r.message for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1, errors


def _send_error(code):
    """icmplib's error for a send refused with errno ``code``."""
    try:
        try:
            raise PermissionError(code, os.strerror(code))
        except PermissionError:
            # As icmplib raises it: the cause only as __context__.
            raise icmp_exceptions.SocketBroadcastError()  # noqa: B904
    except icmp_exceptions.ICMPLibError as exc:
        return exc


def test_a_send_refused_by_the_hosts_firewall_is_not_a_loss():
    reason, here = icmp_session._send_failure(_send_error(errno.EPERM))
    assert (reason, here) == (
        "send refused by this host's firewall (EPERM)",
        True,
    )
    reason, here = icmp_session._send_failure(_send_error(errno.EACCES))
    assert (reason, here) == ("unreachable: Permission denied", False)


def test_missing_replies_are_said_when_some_came():
    session = icmp_session.EchoSession(
        None, {"a": "198.51.100.2", "b": "198.51.100.3", "c": "::1"}, 4, 0, 0
    )
    replies = {"a": [0.2] * 4, "b": [0.3], "c": []}
    for target in session._targets:
        target.sent = 4
        target.rtts = replies[target.address]
    results = session.results()
    assert results["a"].reason is None
    assert results["b"].reason == "no reply to 3 of 4 requests"
    assert results["c"].reason == "no reply"


class ScriptedSocket:
    """Refuses the sends whose sequence numbers it is given, each with
    its errno, as the kernel would."""

    def __init__(self, refusals):
        self.refusals = refusals

    def send(self, request):
        code = self.refusals.get(request.sequence)
        if code:
            raise _send_error(code)


def _sent(refusals, replies=0, count=4):
    session = icmp_session.EchoSession(
        ScriptedSocket(refusals), {"a": "198.51.100.2"}, count, 0, 0
    )
    for round_no in range(count):
        asyncio.run(session._send_round(round_no))
    session._targets[0].rtts = [0.2] * replies
    [result] = session.results().values()
    return result


def test_sends_refused_here_are_left_out_of_the_loss():
    """A full conntrack table refuses some sends (EPERM): the one that
    left and was answered measures no loss."""
    result = _sent({0: errno.EPERM, 1: errno.EPERM, 2: errno.EPERM}, 1)
    assert (result.packets_sent, result.packets_refused) == (1, 3)
    assert result.probed and result.loss_ratio == 0.0
    assert result.reachable(0.5)


def test_a_route_lost_is_a_loss_when_the_last_send_is_refused_here():
    unreachable = {n: errno.ENETUNREACH for n in range(3)}
    result = _sent({**unreachable, 3: errno.EPERM})
    assert result.probed and result.loss_ratio == 1.0
    assert result.reason.startswith("unreachable: ")


def test_every_send_refused_here_is_no_probe():
    result = _sent({n: errno.EPERM for n in range(4)})
    assert not result.probed
    assert result.reason == "send refused by this host's firewall (EPERM)"


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
