"""The batch writer: a bounded queue drained by one thread off the loop.

The event loop only appends to the queue (``submit``, never blocks). The
writer thread owns the database connection, takes up to ``batch_size``
samples (waiting at most ``batch_timeout`` for a batch to fill) and writes
them in one transaction. When the database is away the batch is kept and
retried with exponential backoff (0.1 s doubling up to
``db_retry_max_interval``) while the queue keeps accepting samples up to
``max_queued``; beyond that samples are dropped, counted and reported by
the caller. ``stop`` flushes what is queued within a time bound.
"""

import collections
import threading
import time
import typing

from oslo_log import log

from ceilometer_ha import wire
from ceilometer_ha.storage import process_store

LOG = log.getLogger(__name__)
FIRST_RETRY_INTERVAL = 0.1
# At most one "queue full" warning this often, each with its count.
DROP_WARNING_INTERVAL = 10.0


class WriterCounters(typing.Protocol):
    """What the writer reports to; ``collector.stats.Stats`` is one."""

    def stored(self, count: int, duplicates: int) -> None: ...

    def dropped(self, count: int) -> None: ...

    def write_failed(self) -> None: ...

    def unstorable(self, count: int) -> None: ...


class BatchStore(typing.Protocol):
    """What the writer writes to; ``store.SampleStore`` is one."""

    def write_batch(self, records: list[wire.SampleRecord]) -> int: ...

    def is_permanent(self, exc: BaseException) -> bool: ...


class SqlWriter:
    """Batches samples into a ``SampleStore`` from its own thread."""

    def __init__(
        self,
        store: BatchStore,
        counters: WriterCounters,
        batch_size: int,
        batch_timeout: float,
        max_queued: int,
        retry_max_interval: float,
    ) -> None:
        self._store = store
        self._counters = counters
        self._batch_size = batch_size
        self._batch_timeout = batch_timeout
        self._max_queued = max_queued
        self._retry_max = retry_max_interval
        self._queue: collections.deque[wire.SampleRecord] = collections.deque()
        self._in_flight = 0
        self._dropped_unlogged = 0
        self._next_drop_warning = 0.0
        self._ready = threading.Condition()
        self._stopping = threading.Event()
        self._abandon_at = float("inf")
        self._thread = threading.Thread(
            target=self._run, name="sql-writer", daemon=True
        )

    @property
    def queued(self) -> int:
        """Samples accepted but not yet committed."""
        return len(self._queue) + self._in_flight

    def start(self) -> None:
        self._thread.start()

    def submit(self, record: wire.SampleRecord) -> bool:
        """Queue ``record``; False (and counted) when the queue is full."""
        if self.queued >= self._max_queued:
            self._counters.dropped(1)
            self._dropped_unlogged += 1
            now = time.monotonic()
            if now >= self._next_drop_warning:
                LOG.warning(
                    "Queue full (%d samples, database slow or away): "
                    "dropped %d samples since the last warning",
                    self._max_queued,
                    self._dropped_unlogged,
                )
                self._dropped_unlogged = 0
                self._next_drop_warning = now + DROP_WARNING_INTERVAL
            return False
        self._queue.append(record)
        # Wake the writer when a batch just filled up, not at every sample
        # after that: it takes what waits without waiting once it is done
        # writing (the check in _take_batch runs under the lock, so no
        # wake-up is lost).
        if len(self._queue) == self._batch_size:
            with self._ready:
                self._ready.notify()
        return True

    def stop(self, timeout: float) -> int:
        """Flush for at most ``timeout`` seconds; return samples left."""
        self._abandon_at = time.monotonic() + timeout
        self._stopping.set()
        with self._ready:
            self._ready.notify()
        if self._thread.is_alive():
            self._thread.join(timeout + 1.0)
        left = self.queued
        if left:
            LOG.warning("Stopped with %d samples not written", left)
        return left

    def _take_batch(self) -> list[wire.SampleRecord]:
        deadline = time.monotonic() + self._batch_timeout
        with self._ready:
            while len(self._queue) < self._batch_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping.is_set():
                    break
                self._ready.wait(remaining)
        count = min(len(self._queue), self._batch_size)
        self._in_flight = count
        return [self._queue.popleft() for _ in range(count)]

    def _write(self, batch: list[wire.SampleRecord]) -> bool:
        """Write with retries; False if stopping ran out of time."""
        pause = FIRST_RETRY_INTERVAL
        while batch:
            failure = self._try_write(batch)
            if failure is None:
                return True
            error, permanent = failure
            if permanent:
                # The database refuses some row of this batch (not a
                # connection problem): find it rather than retry forever.
                batch = self._write_one_by_one(batch)
                continue
            self._counters.write_failed()
            LOG.warning(
                "Database write of %d samples failed (%s); %d queued, "
                "retrying in %.1f s",
                len(batch),
                error,
                self.queued,
                pause,
            )
            if self._stopping.is_set():
                remaining = self._abandon_at - time.monotonic()
                if remaining <= pause:
                    return False
                time.sleep(pause)
            else:
                self._stopping.wait(pause)
            pause = min(pause * 2, self._retry_max)
        return True

    def _write_one_by_one(
        self, batch: list[wire.SampleRecord]
    ) -> list[wire.SampleRecord]:
        """Write rows singly, dropping refused ones; return the unwritten.

        Stops at the first transient failure and returns the rows from
        there on, to be retried with backoff.
        """
        refused: list[str] = []
        last_error = ""
        for index, record in enumerate(batch):
            failure = self._try_write([record])
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

    def _try_write(
        self, batch: list[wire.SampleRecord]
    ) -> tuple[str, bool] | None:
        """One attempt: None on success, else (reason, permanent)."""
        try:
            inserted = self._store.write_batch(batch)
        except Exception as exc:
            reason = process_store.describe(exc)
            return reason, self._store.is_permanent(exc)
        self._counters.stored(inserted, len(batch) - inserted)
        return None

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch and not self._write(batch):
                self._queue.extendleft(reversed(batch))
                self._in_flight = 0
                return
            self._in_flight = 0
            if self._stopping.is_set() and not self._queue:
                return
            if time.monotonic() > self._abandon_at:
                return
