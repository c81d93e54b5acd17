"""Writing one batch until it is stored, for the batch writer.

A transient failure (connection lost, lock timeout) is retried with
exponential backoff: 0.1 s doubling up to ``db_retry_max_interval``,
each failure counted and logged with how many samples wait. A permanent
one (the database refuses some row) makes the batch go in row by row, so
that only the refused rows are dropped, counted and logged. Once the
writer is stopping, retries end at ``abandon_at``.
"""

import collections.abc
import threading
import time
import typing

from oslo_log import log

from ceilometer_ha import wire
from ceilometer_ha.storage import batch_store
from ceilometer_ha.storage import child_protocol
from ceilometer_ha.storage import db_errors

LOG = log.getLogger(__name__)
FIRST_RETRY_INTERVAL = 0.1
Failure = tuple[str, bool]


class WriterCounters(typing.Protocol):
    """What the writer reports to; ``collector.stats.Stats`` is one."""

    def stored(self, count: int, duplicates: int) -> None: ...

    def dropped(self, count: int) -> None: ...

    def write_failed(self) -> None: ...

    def unstorable(self, count: int) -> None: ...


def failure_of(store: batch_store.BatchStore, exc: Exception) -> Failure:
    """(reason, permanent) of a failed write, as ``store`` judges it."""
    reason = child_protocol.describe(exc) + db_errors.explain(exc)
    return reason, store.is_permanent(exc)


class Retrying:
    """Writes batches into ``store`` until they are stored or refused."""

    def __init__(
        self,
        store: batch_store.BatchStore,
        counters: WriterCounters,
        retry_max_interval: float,
        stopping: threading.Event,
        queued: collections.abc.Callable[[], int],
    ) -> None:
        self._store = store
        self._counters = counters
        self._retry_max = retry_max_interval
        self._stopping = stopping
        self._queued = queued
        # When stopping: the time after which no retry is waited for.
        self.abandon_at = float("inf")

    def write(
        self,
        batch: list[wire.SampleRecord],
        failure: Failure | None = None,
    ) -> bool:
        """Write with retries; False if stopping ran out of time.

        ``failure``: how the batch already failed once, if it did.
        """
        pause = FIRST_RETRY_INTERVAL
        while batch:
            if failure is None:
                failure = self.attempt(batch)
                if failure is None:
                    return True
            error, permanent = failure
            failure = None
            if permanent:
                # The database refuses some row of this batch (not a
                # connection problem): find it rather than retry forever.
                batch = self._one_by_one(batch)
                continue
            self._counters.write_failed()
            LOG.warning(
                "Database write of %d samples failed (%s); %d queued, "
                "retrying in %.1f s",
                len(batch),
                error,
                self._queued(),
                pause,
            )
            if self._stopping.is_set():
                remaining = self.abandon_at - time.monotonic()
                if remaining <= pause:
                    return False
                time.sleep(pause)
            else:
                self._stopping.wait(pause)
            pause = min(pause * 2, self._retry_max)
        return True

    def _one_by_one(
        self, batch: list[wire.SampleRecord]
    ) -> list[wire.SampleRecord]:
        """Write rows singly, dropping refused ones; return the unwritten.

        Stops at the first transient failure and returns the rows from
        there on, to be retried with backoff.
        """
        refused: list[str] = []
        last_error = ""
        for index, record in enumerate(batch):
            failure = self.attempt([record])
            if failure is None:
                continue
            error, permanent = failure
            if not permanent:
                self._report_refused(refused, error)
                return batch[index:]
            refused.append(record.message_id)
            last_error = error
        if refused:
            self._report_refused(refused, last_error)
        return []

    def _report_refused(self, refused: list[str], error: str) -> None:
        if not refused:
            return
        self._counters.unstorable(len(refused))
        LOG.warning(
            "The database refused %d samples, dropped (first %s): %s",
            len(refused),
            refused[0],
            error,
        )

    def attempt(self, batch: list[wire.SampleRecord]) -> Failure | None:
        """One attempt: None on success, else (reason, permanent)."""
        return self.outcome(batch, lambda: self._store.write_batch(batch))

    def outcome(
        self,
        batch: list[wire.SampleRecord],
        write: collections.abc.Callable[[], int],
    ) -> Failure | None:
        """Count what ``write`` (of ``batch``) stored, or its failure."""
        try:
            inserted = write()
        except Exception as exc:
            return failure_of(self._store, exc)
        self._counters.stored(inserted, len(batch) - inserted)
        return None
