"""Concurrent ICMP echo probing of many addresses in one bounded cycle.

Contract: :meth:`IcmpProber.ping` sends ``count`` echo requests to every
address, ``interval`` seconds apart, all addresses at once, and waits at
most ``timeout`` seconds after the last request for the replies. A cycle
therefore lasts at most ``(count - 1) * interval + timeout`` (plus at
most ``timeout`` to resolve host names) whatever the number of
addresses and however many of them are dead, and it ends early once
every reply is in.

Why not ``icmplib.async_multiping``: its ``async_ping`` waits up to
``timeout`` for each lost packet before sending the next one, so a dead
address costs ``count * timeout``; and with raw sockets every socket
sees every reply, so 500 addresses would parse 500 times the traffic.
Here one socket per address family carries the whole cycle and a single
receiver matches replies to requests by their sequence number.

Socket choice: unprivileged ICMP datagram sockets first (allowed by the
``net.ipv4.ping_group_range`` sysctl), raw sockets (root or
``CAP_NET_RAW``) second. When neither is allowed no address is probed,
with a reason naming both. This module never imports ceilometer.
"""

import asyncio
import socket
import time

from icmplib import exceptions as icmp_exceptions
from icmplib import sockets as icmp_sockets
from icmplib import utils as icmp_utils
from oslo_log import log

from ceilometer_ha.probes import icmp_session
from ceilometer_ha.probes import names
from ceilometer_ha.probes import results as probe_results

LOG = log.getLogger(__name__)

PERMISSION_REASON = (
    "permission: neither unprivileged ICMP sockets (allow this group in "
    "the sysctl net.ipv4.ping_group_range) nor raw sockets (root or "
    "CAP_NET_RAW) are allowed"
)


class IcmpProber:
    """Pings a set of addresses concurrently; safe to share per process.

    ``privileged`` forces a socket kind (``False``: datagram, ``True``:
    raw); ``None`` tries datagram sockets first, then raw ones, and
    starts with the kind that worked last time. Names are resolved with
    ``resolver`` (the system's), bounded by ``timeout``, keeping the last
    answer for when it fails (``probes.names``).
    """

    def __init__(
        self,
        count: int = 4,
        interval: float = 0.1,
        timeout: float = 0.5,
        privileged: bool | None = None,
        resolver: names.Lookup = socket.getaddrinfo,
    ) -> None:
        if count < 1:
            raise ValueError("count must be at least 1")
        self.count = count
        self.interval = interval
        self.timeout = timeout
        self._forced = privileged
        # Unprivileged datagram sockets first; switches when refused.
        self._preferred = bool(privileged)
        self._names = names.Resolver(resolver)
        # Addresses that could not be probed, and the kind of reason
        # ("unresolvable", ...), logged once per kind.
        self._unprobed: dict[str, str] = {}

    @property
    def bound(self) -> float:
        return (self.count - 1) * self.interval + self.timeout

    def ping(self, addresses: list[str]) -> probe_results.PingCycle:
        """Probe ``addresses`` (IPs or names) in one concurrent cycle.

        Blocking; runs its own event loop, so call it from a thread that
        has none (a ceilometer pollster thread is such a thread).
        """
        started = time.monotonic()
        results = asyncio.run(self.async_ping(list(dict.fromkeys(addresses))))
        self._log_unprobed(results)
        return probe_results.PingCycle(
            results, time.monotonic() - started, self.bound
        )

    def _log_unprobed(
        self, results: dict[str, probe_results.PingResult]
    ) -> None:
        """An ERROR when an address cannot be probed, or for another kind
        of reason than before (the text before the first colon: a name
        whose look-up hangs is unresolvable for reasons that alternate
        from one cycle to the next); INFO when it can be again."""
        for address, result in results.items():
            before = self._unprobed.get(address)
            kind = (result.reason or "").split(":", 1)[0]
            if not result.probed and kind != before:
                LOG.error(
                    "Cannot probe %s: %s; no reachable or loss sample for "
                    "it until it can",
                    address,
                    result.reason,
                )
                self._unprobed[address] = kind
            elif result.probed and before is not None:
                LOG.info("Probing %s again", address)
                del self._unprobed[address]

    async def async_ping(
        self, addresses: list[str]
    ) -> dict[str, probe_results.PingResult]:
        """The coroutine behind :meth:`ping`, for callers with a loop."""
        targets: dict[str, str] = {}
        results: dict[str, probe_results.PingResult] = {}
        resolved = await asyncio.gather(
            *(self._names.resolve(a, self.timeout) for a in addresses),
            return_exceptions=True,
        )
        for address, ip in zip(addresses, resolved, strict=True):
            if isinstance(ip, BaseException):
                results[address] = self._failed(address, f"unresolvable: {ip}")
            else:
                targets[address] = ip
        by_family: dict[int, dict[str, str]] = {4: {}, 6: {}}
        for address, ip in targets.items():
            family = 6 if icmp_utils.is_ipv6_address(ip) else 4
            by_family[family][address] = ip
        sessions = []
        for family, family_targets in by_family.items():
            for chunk in _chunks(family_targets, self.count):
                sessions.append(self._run_chunk(family, chunk))
        for chunk_results in await asyncio.gather(*sessions):
            results.update(chunk_results)
        return {a: results[a] for a in addresses}

    async def _run_chunk(
        self, family: int, targets: dict[str, str]
    ) -> dict[str, probe_results.PingResult]:
        # A failure here fails this chunk's addresses only: with IPv6
        # disabled in the kernel the IPv4 addresses are still probed.
        try:
            sock = self._open_socket(family)
        except icmp_exceptions.ICMPLibError as exc:
            reason = f"socket error: IPv{family}: {exc}"
            return {a: self._failed(a, reason) for a in targets}
        if sock is None:
            return {a: self._failed(a, PERMISSION_REASON) for a in targets}
        session = icmp_session.EchoSession(
            sock, targets, self.count, self.interval, self.timeout
        )
        try:
            await session.run()
        except (OSError, icmp_exceptions.ICMPLibError) as exc:
            LOG.warning("Ping cycle over IPv%s failed: %s", family, exc)
            return {
                a: self._failed(a, f"socket error: {exc}") for a in targets
            }
        finally:
            sock.close()
        return session.results()

    def socket_problem(self) -> str | None:
        """Why this process cannot ping at all (no ICMP socket of either
        kind allowed, over IPv4), or None: for a check before the agent
        runs, as the same user with the same capabilities."""
        try:
            sock = self._open_socket(4)
        except icmp_exceptions.ICMPLibError as exc:
            return f"socket error: {exc}"
        if sock is None:
            return PERMISSION_REASON
        sock.close()
        return None

    @property
    def socket_kind(self) -> str:
        """``datagram`` or ``raw``: the kind that worked last."""
        return "raw" if self._preferred else "datagram"

    def _open_socket(self, family: int) -> icmp_sockets.ICMPSocket | None:
        socket_class = (
            icmp_sockets.ICMPv6Socket
            if family == 6
            else icmp_sockets.ICMPv4Socket
        )
        if self._forced is not None:
            kinds = [self._forced]
        else:
            kinds = [self._preferred, not self._preferred]
        for privileged in kinds:
            try:
                sock = socket_class(privileged=privileged)
            except icmp_exceptions.SocketPermissionError:
                continue
            if privileged != self._preferred:
                LOG.info(
                    "Pinging with %s ICMP sockets",
                    "raw" if privileged else "datagram",
                )
                self._preferred = privileged
            return sock
        return None  # logged once per address (_log_unprobed)

    def _failed(self, address: str, reason: str) -> probe_results.PingResult:
        """Nothing sent, for a reason of this host (not probed)."""
        return probe_results.PingResult(
            address, self.count, 0, 0, reason=reason, probed=False
        )


def _chunks(targets: dict[str, str], count: int) -> list[dict[str, str]]:
    """Split so that every request of a chunk has its own sequence."""
    per_chunk = max(1, icmp_session.MAX_SEQUENCES // count)
    items = list(targets.items())
    return [
        dict(items[i : i + per_chunk]) for i in range(0, len(items), per_chunk)
    ]
