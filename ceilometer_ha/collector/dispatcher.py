"""Meter dispatchers, loaded by name from ``[DEFAULT] meter_dispatchers``.

A dispatcher is built as ``Dispatcher(conf, stats)`` and offers
``start()``, ``dispatch(record)`` (called on the event loop: must not
block), ``queued`` and ``stop(timeout) -> samples left``; optionally
``skip_expiry()``, called before ``start`` in all receiving processes
but one, so that housekeeping of a shared store runs once. The
``database`` dispatcher is the one the deployment notes configure.
"""

import collections.abc
import importlib.metadata
import threading
import time
import typing

from oslo_config import cfg
from oslo_log import log
from stevedore import named

from ceilometer_ha import wire
from ceilometer_ha.collector import schema_wait
from ceilometer_ha.collector import stats as stats_mod
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import expiry
from ceilometer_ha.storage import process_store
from ceilometer_ha.storage import writer as writer_mod

LOG = log.getLogger(__name__)
NAMESPACE = "ceilometer_ha.dispatcher.meter"
# Batches handed to the writer process at once: it prepares the next
# while the database writes the last.
PIPELINE_DEPTH = 2
# At a stop, once the writer process has ended: the longest wait for
# the writer to take the outcomes it left in the pipe (there already,
# or failing at once as the pipe ended).
SETTLE_TIMEOUT = 1.0


class DispatcherError(Exception):
    """A configured dispatcher cannot be loaded or started."""


class DatabaseDispatcher:
    """Writes samples to ``[database] connection`` and expires them.

    Refuses to start unless the schema is at the head revision (see
    ``storage.migration``): the operator runs ``ceilometer-ha dbsync``.
    A database that does not answer at start is waited for instead:
    samples are received and held (up to ``max_queued_samples``) and
    the schema is checked, then written to, once it answers; a wrong
    schema then holds them with an ERROR until ``dbsync`` is run.
    """

    def __init__(self, conf: cfg.ConfigOpts, stats: stats_mod.Stats) -> None:
        self._conf = conf
        self.engine = engine_mod.create_engine(conf.database.connection)
        self._schema_checked = schema_wait.check_or_wait(self.engine)
        collector = conf.collector
        # Writes run in a child process: a second core, and no contention
        # for the interpreter lock with the event loop receiving.
        self._store = process_store.ProcessStore(conf.database.connection)
        self._writer = writer_mod.SqlWriter(
            self._store,
            stats,
            batch_size=collector.batch_size,
            batch_timeout=collector.batch_timeout,
            max_queued=collector.max_queued_samples,
            retry_max_interval=collector.db_retry_max_interval,
            pipeline_depth=PIPELINE_DEPTH,
        )
        self.dispatch = self._writer.submit
        self._expire = conf.database.metering_time_to_live > 0
        self._stop_expiry = threading.Event()
        self._expiry_thread = threading.Thread(
            target=self._expire_periodically, name="ttl-expiry", daemon=True
        )
        self._waiter = schema_wait.SchemaWaiter(
            self.engine,
            collector.db_retry_max_interval,
            self._stop_expiry,
            self._start_writing,
        )

    @property
    def queued(self) -> int:
        return self._writer.queued

    def skip_expiry(self) -> None:
        """Leave TTL expiry to another receiving process."""
        self._expire = False

    def start(self) -> None:
        if self._schema_checked:
            self._start_writing()
        else:
            self._waiter.start()

    def _start_writing(self) -> None:
        self._store.start()
        self._writer.start()
        if self._expire:
            LOG.info(
                "TTL expiry of samples older than %d s every %d s",
                self._conf.database.metering_time_to_live,
                self._conf.collector.expiry_interval,
            )
            self._expiry_thread.start()

    def stop(self, timeout: float) -> int:
        """Flush within ``timeout``; the writer process then gets what
        is left of it (at least ``CLOSE_GRACE_MIN``) to exit, or is
        killed."""
        deadline = time.monotonic() + timeout
        self._stop_expiry.set()
        # A schema check hanging on a silent server (up to the driver's
        # timeouts) is not waited for beyond the budget: the thread is
        # a daemon, and finds the stop set when it returns.
        self._waiter.join(timeout)
        left = self._writer.stop(max(deadline - time.monotonic(), 0.0))
        self._store.close(
            max(
                deadline - time.monotonic(),
                process_store.CLOSE_GRACE_MIN,
            )
        )
        # The writer process may have written, in its grace, batches the
        # writer had given up waiting for: their outcomes are in the
        # pipe, or it ended and they fail at once.
        left = self._writer.settle(SETTLE_TIMEOUT if left else 0.0)
        self.engine.dispose()
        return left

    def expire_now(self) -> dict[str, int]:
        """One expiry run with the configured TTL and batch size."""
        return expiry.expire_older_than(
            self.engine,
            self._conf.database.metering_time_to_live,
            self._conf.collector.expiry_batch_size,
            wire.utcnow(),
        )

    def _expire_periodically(self) -> None:
        interval = self._conf.collector.expiry_interval
        while not self._stop_expiry.wait(interval):
            try:
                self.expire_now()
            except Exception as exc:
                LOG.warning(
                    "TTL expiry failed, retried in %d s: %s", interval, exc
                )


def available_dispatchers() -> list[str]:
    """Names ``meter_dispatchers`` may list (installed entry points)."""
    return [
        entry.name
        for entry in importlib.metadata.entry_points(group=NAMESPACE)
    ]


def load_dispatchers(
    conf: cfg.ConfigOpts, stats: stats_mod.Stats
) -> list[typing.Any]:
    """Build the dispatchers named in ``meter_dispatchers``, in order."""
    names = list(conf.meter_dispatchers)
    if not names:
        raise DispatcherError("[DEFAULT] meter_dispatchers is empty")
    failures: list[str] = []
    failed: set[str] = set()

    def _on_failure(
        _manager: typing.Any, entry: typing.Any, exc: BaseException
    ) -> None:
        failed.add(entry.name)
        failures.append(f"{entry.name}: {exc}")

    def _on_missing(missing: collections.abc.Iterable[str]) -> None:
        # stevedore also reports here the names that failed to load.
        unknown = sorted(set(missing) - failed)
        if unknown:
            failures.append(
                f"unknown dispatcher(s) {', '.join(unknown)} (known: "
                f"{', '.join(sorted(available_dispatchers()))})"
            )

    manager: named.NamedExtensionManager[typing.Any]
    manager = named.NamedExtensionManager(
        NAMESPACE,
        names=names,
        invoke_on_load=True,
        invoke_args=(conf, stats),
        name_order=True,
        on_load_failure_callback=_on_failure,
        on_missing_entrypoints_callback=_on_missing,
    )
    if failures:
        raise DispatcherError("; ".join(failures))
    return [ext.obj for ext in manager]
