"""The collector's lifecycle: bind, receive, report, stop cleanly.

``CollectorService`` is one receiving process: it loads the dispatchers,
binds the UDP socket (SO_REUSEPORT, so that workers and several
collectors share the port; ``::`` also receives IPv4), serves until
``request_stop`` or SIGTERM/SIGINT, then stops receiving (handling the
datagrams the kernel already holds for it), lets the dispatchers flush
for at most ``[collector] shutdown_timeout`` and returns 0, or 1 if
samples were left unwritten. ``workers.run`` forks ``[collector]
workers`` such processes.
"""

import asyncio
import collections.abc
import contextlib
import functools
import operator
import os
import socket
import threading
import typing

from oslo_config import cfg
from oslo_log import log

from ceilometer_ha import heap
from ceilometer_ha import receive_buffer as receive_buffer_mod
from ceilometer_ha import signing
from ceilometer_ha import wire
from ceilometer_ha.collector import dispatcher as dispatcher_mod
from ceilometer_ha.collector import kernel
from ceilometer_ha.collector import protocol
from ceilometer_ha.collector import signals
from ceilometer_ha.collector import stats as stats_mod

LOG = log.getLogger(__name__)


def bind_socket(address: str, port: int, receive_buffer: int) -> socket.socket:
    """A bound, non-blocking UDP socket that shares its port.

    An OSError says which settings it could not listen on.
    """
    try:
        return _bind_socket(address, port, receive_buffer)
    except OSError as exc:
        where = (
            f"cannot listen on [collector] udp_address {address}, "
            f"udp_port {port}: {exc.strerror or exc}"
        )
        if exc.errno is None:
            raise OSError(where) from exc
        raise OSError(exc.errno, where) from exc


def _bind_socket(
    address: str, port: int, receive_buffer: int
) -> socket.socket:
    family, kind, proto, _name, sockaddr = socket.getaddrinfo(
        address, port, 0, socket.SOCK_DGRAM, 0, socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        receive_buffer_mod.set_receive_buffer(sock, receive_buffer)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind(sockaddr)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class CollectorService:
    """One receiving process; ``serve`` runs on the caller's event loop."""

    def __init__(
        self,
        conf: cfg.ConfigOpts,
        port: int | None = None,
        write_port_file: bool = True,
        on_ready: collections.abc.Callable[[], typing.Any] | None = None,
        run_expiry: bool = True,
        worker: int = 0,
    ) -> None:
        """``run_expiry`` False: dispatchers leave TTL expiry to another
        receiving process (``workers``). Worker ``worker`` serves its
        /metrics on ``metrics_port + worker``."""
        self.conf = conf
        self.stats = stats_mod.Stats()
        self.port: int | None = None
        self.ready = threading.Event()
        self._port = conf.collector.udp_port if port is None else port
        self._write_port_file = write_port_file
        self._on_ready = on_ready
        self._run_expiry = run_expiry
        self._worker = worker
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._stop_requested = False

    def request_stop(self) -> None:
        """Ask ``serve`` to stop; safe from any thread or signal handler.

        A request that arrives before ``serve`` runs is kept: ``serve``
        then stops as soon as it is listening.
        """
        self._stop_requested = True
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    async def serve(self, freeze_heap: bool = False) -> int:
        """Receive until stopped; return samples left unwritten.

        ``freeze_heap``: once set up, keep the garbage collector off the
        start-up heap (``heap``), when this is the process's whole life.
        """
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        conf = self.conf.collector
        if self._stop_requested:
            self._stopping.set()
        dispatchers = dispatcher_mod.load_dispatchers(self.conf, self.stats)
        if not self._run_expiry:
            for dispatcher in dispatchers:
                skip = getattr(dispatcher, "skip_expiry", None)
                if skip is not None:
                    skip()
        decoder = wire.DatagramDecoder(
            signing.Signer(self.conf.publisher.telemetry_secret),
            conf.max_datagram_size,
            conf.freshness_window,
        )
        # Bound before any writer thread starts: a port in use fails fast.
        sock = bind_socket(
            conf.udp_address, self._port, conf.udp_receive_buffer
        )
        started: list[typing.Any] = []
        receiver = socket_drops = metrics = reporter = None
        try:
            for dispatcher in dispatchers:
                dispatcher.start()
                started.append(dispatcher)
                self.stats.queued_sources.append(
                    functools.partial(
                        operator.attrgetter("queued"), dispatcher
                    )
                )
            receiver = protocol.SocketDrain(
                self._loop,
                sock,
                protocol.SampleProtocol(
                    decoder, [d.dispatch for d in dispatchers], self.stats
                ),
            )
            receiver.start()
            socket_drops = kernel.SocketDrops(sock)
            self.stats.kernel_drop_sources.append(socket_drops.read)
            self.port = sock.getsockname()[1]
            self._announce(sock)
            if conf.metrics_port:
                metrics = stats_mod.start_metrics_server(
                    self.stats,
                    conf.metrics_address,
                    conf.metrics_port + self._worker,
                )
            reporter = asyncio.ensure_future(self._report(conf.stats_interval))
            if freeze_heap:
                heap.freeze_startup_heap()
            self.ready.set()
            if self._on_ready is not None:
                self._on_ready()
            await self._stopping.wait()
        finally:
            LOG.info("Stopping: no longer receiving, flushing the queue")
            if receiver is not None:
                receiver.stop()
            # The kernel forgets the socket's drop count when it is
            # closed: read it first, for the final stats line.
            if socket_drops is not None:
                socket_drops.read()
            sock.close()
            if reporter is not None:
                reporter.cancel()
            left = 0
            for dispatcher in started:
                left += await self._loop.run_in_executor(
                    None, dispatcher.stop, conf.shutdown_timeout
                )
            self.stats.log_line()
            if metrics is not None:
                metrics.shutdown()
        return left

    def _announce(self, sock: socket.socket) -> None:
        conf = self.conf.collector
        LOG.info("Listening on UDP %s port %d", conf.udp_address, self.port)
        granted = receive_buffer_mod.granted_receive_buffer(sock)
        if granted < conf.udp_receive_buffer:
            LOG.warning(
                "UDP receive buffer is %d bytes, not the %d of [collector] "
                "udp_receive_buffer: the kernel caps it at "
                "net.core.rmem_max. Raise that sysctl, or bursts beyond "
                "the buffer are dropped (counted as kernel_dropped).",
                granted,
                conf.udp_receive_buffer,
            )
        if conf.port_file and self._write_port_file:
            write_port_file(conf.port_file, typing.cast(int, self.port))

    async def _report(self, interval: int) -> None:
        if interval <= 0:
            return
        while True:
            await asyncio.sleep(interval)
            self.stats.log_line()

    def run(self) -> int:
        """Serve with the handlers of ``signals`` (stop, reload), as the
        process's whole life (its start-up heap frozen); the process
        exit code."""

        async def _main() -> int:
            signals.install(
                asyncio.get_running_loop(), self.conf, self.request_stop
            )
            left = await self.serve(freeze_heap=True)
            return 1 if left else 0

        return asyncio.run(_main())


def write_port_file(path: str, port: int) -> None:
    """Write ``port`` atomically, so a reader never sees half a number."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w", encoding="ascii") as handle:
        handle.write(f"{port}\n")
    os.replace(tmp, path)


def free_port(address: str) -> int:
    """A port the workers can all bind when ``udp_port`` is 0."""
    with contextlib.closing(bind_socket(address, 0, 65536)) as sock:
        return typing.cast(int, sock.getsockname()[1])
