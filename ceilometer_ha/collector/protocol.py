"""The asyncio UDP protocol: one datagram in, one record out, or a count.

``datagrams_received`` (and ``datagram_received`` for one) never raises:
each datagram is decoded, verified and validated by
``wire.DatagramDecoder``; a rejected one is counted by reason and logged
at a limited rate; an accepted one is handed to every dispatcher, which
only queue it. No blocking work happens on the loop. Datagrams read in
one wake-up share one reading of the collector clock (``recorded_at``).
"""

import asyncio
import collections.abc
import socket
import typing

from oslo_log import log

from ceilometer_ha import rejection
from ceilometer_ha import wire
from ceilometer_ha.collector import stats as stats_mod

LOG = log.getLogger(__name__)
INTERNAL_ERROR = "internal_error"
# Read whole datagrams; the decoder rejects those over the configured size.
MAX_UDP_PAYLOAD = 65535
# Datagrams read at most at the stop: more than a receive buffer of
# 64 MiB holds of samples, about a second or two of decoding.
MAX_DRAINED = 100_000
DISPATCH_FAILED = "dispatch_failed"

Sink = collections.abc.Callable[[wire.SampleRecord], typing.Any]


class SampleProtocol(asyncio.DatagramProtocol):
    """Receives ceilometer UDP samples for the collector."""

    def __init__(
        self,
        decoder: wire.DatagramDecoder,
        sinks: collections.abc.Sequence[Sink],
        stats: stats_mod.Stats,
        reject_log: stats_mod.RateLimitedLog | None = None,
    ) -> None:
        self._decoder = decoder
        self._sinks = tuple(sinks)
        self._stats = stats
        self._reject_log = reject_log or stats_mod.RateLimitedLog()

    def datagram_received(self, data: bytes, addr: typing.Any) -> None:
        self.datagrams_received([(data, addr)])

    def datagrams_received(
        self, datagrams: collections.abc.Sequence[tuple[bytes, typing.Any]]
    ) -> None:
        """Handle datagrams read together, stamped with one clock reading."""
        self._stats.received += len(datagrams)
        decode, sinks = self._decoder.decode, self._sinks
        now = self._decoder.now()
        for data, addr in datagrams:
            try:
                record = decode(data, now)
            except rejection.DatagramError as exc:
                rejected = exc
            except Exception as exc:
                self._internal_error(exc, addr)
                continue
            else:
                for sink in sinks:
                    try:
                        sink(record)
                    except Exception as exc:
                        self._dispatch_failed(exc, record)
                continue
            # Logged outside the except block: no traceback for junk.
            self._stats.reject(rejected.reason)
            self._reject_log.warning(
                rejected.reason,
                "Rejected a datagram from %s: %s",
                _peer(addr),
                rejected,
            )

    def _internal_error(self, exc: Exception, addr: typing.Any) -> None:
        # A bug, not a sender's fault; rate-limited like rejections.
        self._stats.reject(INTERNAL_ERROR)
        self._reject_log.warning(
            INTERNAL_ERROR,
            "Unexpected %s decoding a datagram from %s: %s",
            type(exc).__name__,
            _peer(addr),
            exc,
        )
        LOG.debug("Decoding error", exc_info=True)

    def _dispatch_failed(
        self, exc: Exception, record: wire.SampleRecord
    ) -> None:
        # A sample a dispatcher could not take is lost to it: counted as
        # dropped, logged at a limited rate, the traceback at debug.
        self._stats.dropped(1)
        self._reject_log.warning(
            DISPATCH_FAILED,
            "A dispatcher failed on sample %s, which it dropped: %s: %s",
            record[0],
            type(exc).__name__,
            exc,
        )
        LOG.debug("Dispatcher failure", exc_info=True)

    def error_received(self, exc: Exception) -> None:
        # ICMP errors and the like; the socket stays usable.
        LOG.debug("UDP socket error: %s", exc)


def _peer(addr: typing.Any) -> str:
    try:
        return f"{addr[0]}:{addr[1]}"
    except (TypeError, IndexError):
        return str(addr)


class SocketDrain:
    """Feeds a protocol every datagram waiting on a socket per wake-up.

    asyncio's datagram transport reads one datagram per event-loop
    iteration, paying a poll and the loop's bookkeeping for each. Under
    load many datagrams wait at once; reading up to ``max_per_wakeup`` of
    them per readiness callback and handing them over together cuts that
    overhead, which matters at tens of thousands of datagrams per second.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        proto: SampleProtocol,
        max_per_wakeup: int = 256,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._proto = proto
        self._max = max_per_wakeup
        self._fd = sock.fileno()

    def start(self) -> None:
        self._loop.add_reader(self._fd, self._read)

    def stop(self, limit: int = MAX_DRAINED) -> int:
        """Stop watching the socket, then handle what already waits on it.

        Datagrams the kernel accepted before the stop are this
        collector's: left unread they would vanish uncounted when the
        socket closes. At most ``limit`` are read, so a sender that keeps
        sending cannot hold the stop. The socket stays open for its
        owner to close. Returns the number read.
        """
        self._loop.remove_reader(self._fd)
        read = 0
        while read < limit:
            count = self._read(min(self._max, limit - read))
            read += count
            if count == 0:
                break
        if read:
            LOG.info("Handled %d datagrams waiting at the stop", read)
        return read

    def _read(self, most: int | None = None) -> int:
        recvfrom = self._sock.recvfrom
        batch: list[tuple[bytes, typing.Any]] = []
        append = batch.append
        try:
            for _ in range(most or self._max):
                append(recvfrom(MAX_UDP_PAYLOAD))
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            self._proto.error_received(exc)
        if batch:
            self._proto.datagrams_received(batch)
        return len(batch)
