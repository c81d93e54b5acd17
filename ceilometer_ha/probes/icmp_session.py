"""One echo exchange with many addresses over one ICMP socket.

:class:`EchoSession` is the engine of :class:`ceilometer_ha.probes.icmp.
IcmpProber`: a sender puts ``count`` rounds of requests on the wire,
``interval`` apart, while one receiver reads every reply of the socket
and matches it to its request by sequence number (each request of the
session has its own), by identifier on raw sockets (which see every
process's replies) and by source address. The session ends when every
request is answered or ``(count - 1) * interval + timeout`` after its
start, whichever comes first.
"""

import asyncio
import dataclasses
import errno
import ipaddress
import os
import socket
import time

from icmplib import exceptions as icmp_exceptions
from icmplib import models as icmp_models
from icmplib import sockets as icmp_sockets
from icmplib import utils as icmp_utils

from ceilometer_ha import receive_buffer
from ceilometer_ha.probes import results as probe_results

MAX_SEQUENCES = 65536
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
SENDS_BEFORE_YIELD = 64
ERROR_PAUSE = 0.01
# ICMP types that report a request as undeliverable.
_ERROR_TYPES = {4: {3: "unreachable", 11: "time exceeded"}}
_ERROR_TYPES[6] = {1: "unreachable", 3: "time exceeded"}
_UNREACHABLE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.EACCES}


@dataclasses.dataclass
class _Target:
    address: str
    ip: str
    sent: int = 0
    rtts: list[float] = dataclasses.field(default_factory=list)
    reason: str | None = None
    # Sends refused by this host (its firewall), not by the network.
    refused: int = 0


class EchoSession:
    """Pings ``targets`` (address -> IP, one family) over ``sock``."""

    def __init__(
        self,
        sock: icmp_sockets.ICMPSocket,
        targets: dict[str, str],
        count: int,
        interval: float,
        timeout: float,
    ) -> None:
        if len(targets) * count > MAX_SEQUENCES:
            raise ValueError("too many requests for one session")
        self._sock = sock
        self._targets = [_Target(a, ip) for a, ip in targets.items()]
        self._count = count
        self._interval = interval
        self._timeout = timeout
        self._family = 6 if isinstance(sock, icmp_sockets.ICMPv6Socket) else 4
        self._ident = icmp_utils.unique_identifier()
        # sequence -> (target, monotonic send time) for unanswered requests
        self._pending: dict[int, tuple[_Target, float]] = {}
        self._all_sent = False
        self._done = asyncio.Event()

    async def run(self) -> None:
        """Send every round and collect replies until done or deadline."""
        self._sock.blocking = False
        _enlarge_receive_buffer(self._sock.sock)
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + (self._count - 1) * self._interval + self._timeout
        receiver = asyncio.create_task(self._receive())
        try:
            for round_no in range(self._count):
                if round_no:
                    delay = start + round_no * self._interval - loop.time()
                    await asyncio.sleep(max(0.0, delay))
                await self._send_round(round_no)
            self._all_sent = True
            if not self._pending:
                self._done.set()
            remaining = max(0.0, deadline - loop.time())
            try:
                await asyncio.wait_for(self._done.wait(), remaining)
            except asyncio.TimeoutError:
                pass
        finally:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)

    def results(self) -> dict[str, probe_results.PingResult]:
        """Per address: requests sent, replies, RTTs and why any failed."""
        out = {}
        for t in self._targets:
            rtts = t.rtts
            reason = t.reason or _missing(len(rtts), self._count)
            out[t.address] = probe_results.PingResult(
                address=t.address,
                packets_requested=self._count,
                packets_sent=t.sent,
                packets_received=len(rtts),
                min_rtt=min(rtts) if rtts else None,
                avg_rtt=sum(rtts) / len(rtts) if rtts else None,
                max_rtt=max(rtts) if rtts else None,
                reason=reason,
                probed=t.refused < self._count,
                packets_refused=t.refused,
            )
        return out

    async def _send_round(self, round_no: int) -> None:
        for index, target in enumerate(self._targets):
            sequence = index * self._count + round_no
            request = icmp_models.ICMPRequest(
                destination=target.ip, id=self._ident, sequence=sequence
            )
            try:
                self._sock.send(request)
            except icmp_exceptions.ICMPLibError as exc:
                reason, refused_here = _send_failure(exc)
                if refused_here:
                    target.refused += 1
                    # The network's answer, if any, says more.
                    target.reason = target.reason or reason
                else:
                    target.reason = reason
            else:
                target.sent += 1
                self._pending[sequence] = (target, time.monotonic())
            if index % SENDS_BEFORE_YIELD == SENDS_BEFORE_YIELD - 1:
                await asyncio.sleep(0)

    async def _receive(self) -> None:
        loop = asyncio.get_running_loop()
        raw = self._sock.sock
        while True:
            try:
                packet, source = await loop.sock_recvfrom(raw, 2048)
            except OSError as exc:
                if raw.fileno() < 0 or exc.errno == errno.EBADF:
                    return
                # A reported ICMP error or a transient failure: keep
                # reading (the session's deadline bounds this loop).
                await asyncio.sleep(ERROR_PAUSE)
                continue
            self._handle(packet, source[0], time.monotonic())
            if self._all_sent and not self._pending:
                self._done.set()
                return

    def _handle(self, packet: bytes, source: str, received: float) -> None:
        # Private icmplib parser: it knows the header offsets of every
        # socket kind (raw IPv4 carries the IP header, the others do not).
        reply = self._sock._parse_reply(packet, source, time.time())
        if reply is None or reply.sequence not in self._pending:
            return
        if self._sock._privileged and reply.id != self._ident:
            return
        target, sent_at = self._pending[reply.sequence]
        if reply.type == self._sock._ICMP_ECHO_REPLY:
            if not _same_ip(source, target.ip):
                return
            del self._pending[reply.sequence]
            target.rtts.append((received - sent_at) * 1000.0)
            return
        kind = _ERROR_TYPES[self._family].get(reply.type)
        if kind is not None:
            del self._pending[reply.sequence]
            target.reason = (
                f"{kind}: ICMP type {reply.type} code {reply.code} "
                f"from {source}"
            )


def _send_failure(exc: Exception) -> tuple[str, bool]:
    """Why a send failed, and whether this host refused it.

    icmplib raises SocketBroadcastError for any PermissionError. EPERM
    is this host's firewall (an OUTPUT rule) refusing the packet: no
    measurement of the network. EACCES (a prohibit route, a broadcast
    address) and the unreachable errnos are the routing's answer: lost.
    """
    cause = exc.__context__
    code = cause.errno if isinstance(cause, OSError) else None
    if code == errno.EPERM:
        return "send refused by this host's firewall (EPERM)", True
    if code in _UNREACHABLE_ERRNOS:
        return f"unreachable: {os.strerror(code)}", False
    if isinstance(exc, icmp_exceptions.SocketBroadcastError):
        return "send failed: broadcast address", False
    return f"send failed: {exc}", False


def _same_ip(a: str, b: str) -> bool:
    try:
        return ipaddress.ip_address(a.split("%")[0]) == ipaddress.ip_address(b)
    except ValueError:
        return False


def _enlarge_receive_buffer(sock: socket.socket | None) -> None:
    """Room for a whole round of replies arriving at once."""
    if sock is None:
        return
    try:
        receive_buffer.set_receive_buffer(sock, RECEIVE_BUFFER_BYTES)
    except OSError:
        pass  # the default buffer still serves small rounds


def _missing(received: int, count: int) -> str | None:
    """Why replies are missing when nothing else said why."""
    if received >= count:
        return None
    if not received:
        return "no reply"
    return f"no reply to {count - received} of {count} requests"
