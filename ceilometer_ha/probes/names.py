"""Host names of the probed addresses, resolved each cycle, kept when
the resolver fails.

The last answer for a name is kept: when a later look-up fails (the DNS
server down, or slower than ``ping_timeout``), the address it gave is
pinged, so that a resolver outage does not read as a storage cut. Only
a name that never resolved fails the cycle (``unresolvable: ...``). A
look-up still running from an earlier cycle is neither started again
nor waited for: the cycle takes the last address at once, so that a
hung resolver (a stuck NSS module) holds one thread per name, not one
per name and cycle, and neither lengthens the cycles nor keeps
anything of each. Each look-up has a thread of its own, so that names
whose look-ups hang never hold up the others; an answer that comes
after its cycle gave up still refreshes the name.
"""

import asyncio
import concurrent.futures
import functools
import ipaddress
import socket
import threading
import typing

from oslo_log import log

LOG = log.getLogger(__name__)
Lookup = typing.Callable[..., list]


class Resolver:
    """Resolves names with ``lookup`` (``socket.getaddrinfo``'s
    signature); shared by the cycles of one prober."""

    def __init__(self, lookup: Lookup = socket.getaddrinfo) -> None:
        self._lookup = lookup
        self._lock = threading.Lock()
        self._known: dict[str, str] = {}
        self._running: dict[str, concurrent.futures.Future] = {}
        self._failing: set[str] = set()

    async def resolve(self, address: str, timeout: float) -> str:
        """The IP to ping for ``address``; an IP literal as it is.

        Raises LookupError, with the reason, when a name does not
        resolve within ``timeout`` and never did before.
        """
        try:
            return str(ipaddress.ip_address(address))
        except ValueError:
            pass
        future, earlier = self._start(address)
        if earlier:
            return self._fallback(
                address, "no answer yet to the look-up of an earlier cycle"
            )
        wrapped = asyncio.wrap_future(future)
        done, _ = await asyncio.wait({wrapped}, timeout=timeout)
        if not done:
            # Retrieved later, or asyncio would complain of it.
            wrapped.add_done_callback(_retrieve)
            return self._fallback(address, f"no answer within {timeout} s")
        try:
            infos = wrapped.result()
        except OSError as exc:
            return self._fallback(address, f"{address}: {exc}")
        ip = _first_ip(infos)
        with self._lock:
            again = address in self._failing
            self._failing.discard(address)
        if again:
            LOG.info("%s resolves again in time, to %s", address, ip)
        return ip

    def _start(self, address: str) -> tuple[concurrent.futures.Future, bool]:
        """The look-up of ``address``, and whether an earlier cycle
        started it (still running) rather than this one."""
        with self._lock:
            future = self._running.get(address)
            if future is not None and not future.done():
                return future, True
            future = _in_a_thread(
                address, self._lookup, address, None, 0, socket.SOCK_DGRAM
            )
            self._running[address] = future
        # Outside the lock: a look-up already done runs it right here.
        future.add_done_callback(functools.partial(self._answered, address))
        return future, False

    def _answered(
        self, address: str, future: concurrent.futures.Future
    ) -> None:
        """Keep every answer, a late one too. The resolver counts as
        failing until a look-up answers in time: a slow one (its first
        server dead, the next answering after seconds) would otherwise
        be said failing and back again every few cycles."""
        if future.cancelled() or future.exception() is not None:
            return
        with self._lock:
            self._known[address] = _first_ip(future.result())

    def _fallback(self, address: str, why: str) -> str:
        with self._lock:
            ip = self._known.get(address)
            first = address not in self._failing
            self._failing.add(address)
        if ip is None:
            raise LookupError(why)
        if first:
            LOG.warning(
                "Cannot resolve %s (%s): pinging %s, its last address, "
                "until it resolves again",
                address,
                why,
                ip,
            )
        return ip


def _in_a_thread(
    name: str, call: typing.Callable[..., list], *args: typing.Any
) -> concurrent.futures.Future:
    """``call(*args)`` in a daemon thread of its own: a look-up that
    hangs holds no pool that other names wait on, and never holds up
    the process's exit."""
    future: concurrent.futures.Future = concurrent.futures.Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(call(*args))
        except BaseException as exc:  # handed to whoever waits
            future.set_exception(exc)

    threading.Thread(
        target=run, name=f"ha-resolve-{name}", daemon=True
    ).start()
    return future


def _first_ip(infos: list) -> str:
    # IPv4 first, as icmplib does.
    ordered = sorted(infos, key=lambda info: info[0] != socket.AF_INET)
    return str(ordered[0][4][0])


def _retrieve(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()
