"""Counters of the collector, its periodic log line and /metrics.

Every datagram is counted once: received, then either rejected (by
reason) or handed to the dispatchers, where it ends stored, duplicate,
or dropped because the queue was full. Datagrams the kernel dropped
before they could be read (receive buffer full) are counted apart, as
the kernel reports them (``kernel_dropped``). The same counters feed the
periodic INFO line and, when ``[collector] metrics_port`` is set, a
Prometheus endpoint served from its own registry.
"""

import collections
import collections.abc
import time
import typing

from oslo_log import log
import prometheus_client
from prometheus_client import core as prometheus_core
from prometheus_client import registry as prometheus_registry

from ceilometer_ha import rejection

LOG = log.getLogger(__name__)


class Stats:
    """Counters; each is written by one thread only (loop or writer)."""

    def __init__(self) -> None:
        self.received = 0
        self.rejected: collections.Counter[str] = collections.Counter(
            {reason: 0 for reason in rejection.REASONS}
        )
        self.stored_count = 0
        self.duplicates = 0
        self.dropped_count = 0
        self.write_failures = 0
        self.unstorable_count = 0
        self.queued_sources: list[collections.abc.Callable[[], int]] = []
        self.kernel_drop_sources: list[
            collections.abc.Callable[[], int | None]
        ] = []

    def reject(self, reason: str) -> None:
        self.rejected[reason] += 1

    def stored(self, count: int, duplicates: int) -> None:
        self.stored_count += count
        self.duplicates += duplicates

    def dropped(self, count: int) -> None:
        self.dropped_count += count

    def write_failed(self) -> None:
        self.write_failures += 1

    def unstorable(self, count: int) -> None:
        self.unstorable_count += count

    @property
    def queued(self) -> int:
        return sum(source() for source in self.queued_sources)

    @property
    def kernel_dropped(self) -> int:
        return sum(filter(None, (read() for read in self.kernel_drop_sources)))

    def snapshot(self) -> dict[str, typing.Any]:
        return {
            "received": self.received,
            "stored": self.stored_count,
            "duplicates": self.duplicates,
            "rejected": dict(self.rejected),
            "queued": self.queued,
            "dropped": self.dropped_count,
            "write_failures": self.write_failures,
            "unstorable": self.unstorable_count,
            "kernel_dropped": self.kernel_dropped,
        }

    def log_line(self) -> None:
        snap = self.snapshot()
        rejected = " ".join(f"{k}={v}" for k, v in snap["rejected"].items())
        lost = snap["dropped"] or snap["unstorable"] or snap["kernel_dropped"]
        level = LOG.warning if lost else LOG.info
        level(
            "received=%d stored=%d duplicates=%d queued=%d dropped=%d "
            "unstorable=%d kernel_dropped=%d write_failures=%d rejected: %s",
            snap["received"],
            snap["stored"],
            snap["duplicates"],
            snap["queued"],
            snap["dropped"],
            snap["unstorable"],
            snap["kernel_dropped"],
            snap["write_failures"],
            rejected,
        )


class RateLimitedLog:
    """At most one WARNING per reason per ``interval`` seconds.

    A flood of forged datagrams must not turn into a flood of log lines;
    the next line says how many were not logged.
    """

    def __init__(
        self,
        interval: float = 10.0,
        clock: collections.abc.Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._next: dict[str, float] = {}
        self._suppressed: collections.Counter[str] = collections.Counter()

    def warning(self, reason: str, msg: str, *args: typing.Any) -> bool:
        now = self._clock()
        if now < self._next.get(reason, 0.0):
            self._suppressed[reason] += 1
            return False
        self._next[reason] = now + self._interval
        skipped = self._suppressed.pop(reason, 0)
        if skipped:
            LOG.warning(msg + " (%d similar not logged)", *args, skipped)
        else:
            LOG.warning(msg, *args)
        return True


class _StatsCollector(prometheus_registry.Collector):
    def __init__(self, stats: Stats) -> None:
        self._stats = stats

    def collect(self) -> typing.Iterator[prometheus_core.Metric]:
        snap = self._stats.snapshot()
        prefix = "ceilometer_ha_collector"
        for name in ("received", "stored", "duplicates", "dropped"):
            yield prometheus_core.CounterMetricFamily(
                f"{prefix}_{name}", f"Samples {name}.", value=snap[name]
            )
        yield prometheus_core.CounterMetricFamily(
            f"{prefix}_unstorable",
            "Samples the database refused (dropped).",
            value=snap["unstorable"],
        )
        yield prometheus_core.CounterMetricFamily(
            f"{prefix}_kernel_dropped",
            "Datagrams the kernel dropped before they were read "
            "(receive buffer full).",
            value=snap["kernel_dropped"],
        )
        yield prometheus_core.CounterMetricFamily(
            f"{prefix}_write_failures",
            "Failed database writes (each retried).",
            value=snap["write_failures"],
        )
        rejected = prometheus_core.CounterMetricFamily(
            f"{prefix}_rejected",
            "Datagrams rejected, by reason.",
            labels=["reason"],
        )
        for reason, count in snap["rejected"].items():
            rejected.add_metric([reason], count)
        yield rejected
        yield prometheus_core.GaugeMetricFamily(
            f"{prefix}_queued",
            "Samples accepted and not yet written.",
            value=snap["queued"],
        )


def start_metrics_server(stats: Stats, address: str, port: int) -> typing.Any:
    """Serve ``stats`` on http://address:port/metrics; return the server."""
    registry = prometheus_client.CollectorRegistry(auto_describe=True)
    registry.register(_StatsCollector(stats))
    server, _thread = prometheus_client.start_http_server(
        port, addr=address, registry=registry
    )
    LOG.info("Prometheus metrics on http://%s:%d/metrics", address, port)
    return server
