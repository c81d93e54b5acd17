"""The batch writer: a bounded queue drained by one thread off the loop.

The event loop only appends to the queue (``submit``, never blocks). The
writer thread owns the database connection, takes up to ``batch_size``
samples (waiting at most ``batch_timeout`` for a batch to fill) and writes
them in one transaction. When the database is away the batch is kept and
retried with exponential backoff (0.1 s doubling up to
``db_retry_max_interval``) while the queue keeps accepting samples up to
``max_queued``; beyond that samples are dropped, counted and reported by
the caller. A sample whose metadata text takes more than
``SAMPLE_BYTES`` of memory counts as one more for each further
``SAMPLE_BYTES`` (``weight``; a character takes one to four bytes in a
Python string), so that what a full queue holds in memory stays near
``max_queued`` small samples whatever senders put in them. ``stop``
flushes what is queued within a time bound.

With ``pipeline_depth`` 2 and a store that can take it
(``batch_store.PipelinedStore``), a second full batch is handed over
while the first is being written. Outcomes come back in order; when one
fails, those of the batches after it are collected, then every failed
batch is written again, in order, with the usual retries. The store
writes none of the batches after a failed one until they are sent again
(``writer_child``), so batches are committed in the order taken.
"""

import collections
import sys
import threading
import time
import typing

from oslo_log import log

from ceilometer_ha import wire
from ceilometer_ha.storage import batch_store
from ceilometer_ha.storage import child_protocol
from ceilometer_ha.storage import write_retry

LOG = log.getLogger(__name__)
# At most one "queue full" warning this often, each with its count.
DROP_WARNING_INTERVAL = 10.0
# Bytes of memory the metadata text of a queued sample may take for it
# to count as one sample.
SAMPLE_BYTES = 2048


def weight(record: wire.SampleRecord) -> int:
    """How many samples ``record`` counts as in the queue's bound
    (``sys.getsizeof`` of a string reads its header, no scan)."""
    metadata = record.resource_metadata
    if type(metadata) is str:
        return 1 + (sys.getsizeof(metadata) - 1) // SAMPLE_BYTES
    return 1


def _weight(batch: list[wire.SampleRecord]) -> int:
    return sum(map(weight, batch))


class SqlWriter:
    """Batches samples into a ``SampleStore`` from its own thread."""

    def __init__(
        self,
        store: batch_store.BatchStore,
        counters: write_retry.WriterCounters,
        batch_size: int,
        batch_timeout: float,
        max_queued: int,
        retry_max_interval: float,
        pipeline_depth: int = 1,
    ) -> None:
        """``pipeline_depth`` > 1 needs a ``PipelinedStore``."""
        self._store: batch_store.PipelinedStore
        if pipeline_depth > 1:
            self._store = typing.cast(batch_store.PipelinedStore, store)
        else:
            self._store = batch_store.OneAtATime(store)
        self._depth = max(1, pipeline_depth)
        self._counters = counters
        self._batch_size = batch_size
        self._batch_timeout = batch_timeout
        self._max_queued = max_queued
        self._queue: collections.deque[wire.SampleRecord] = collections.deque()
        self._in_flight = 0
        # Weights of the samples accepted (added by ``submit``'s thread
        # only) and written or dropped since (by the writer thread only):
        # their difference is what the queue holds.
        self._accepted_weight = 0
        self._done_weight = 0
        self._dropped_unlogged = 0
        self._next_drop_warning = 0.0
        self._ready = threading.Condition()
        self._stopping = threading.Event()
        self._retry = write_retry.Retrying(
            self._store,
            counters,
            retry_max_interval,
            self._stopping,
            lambda: self.queued,
        )
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
        size = weight(record)
        held = self._accepted_weight - self._done_weight
        if held + size > self._max_queued:
            self._counters.dropped(1)
            self._dropped_unlogged += 1
            now = time.monotonic()
            if now >= self._next_drop_warning:
                LOG.warning(
                    "Queue full (%d samples, a large one counting as "
                    "several; database slow or away): dropped %d samples "
                    "since the last warning",
                    self._max_queued,
                    self._dropped_unlogged,
                )
                self._dropped_unlogged = 0
                self._next_drop_warning = now + DROP_WARNING_INTERVAL
            return False
        self._queue.append(record)
        self._accepted_weight += size
        # Wake the writer when a batch just filled up, not at every sample
        # after that: it takes what waits without waiting once it is done
        # writing (the check in _take_batch runs under the lock, so no
        # wake-up is lost).
        if len(self._queue) == self._batch_size:
            with self._ready:
                self._ready.notify()
        return True

    def stop(self, timeout: float) -> int:
        """Flush for at most ``timeout`` seconds; return samples left.

        Batches still in flight may yet be written (a writer process
        given a grace to finish): :meth:`settle` says what was not.
        """
        self._retry.abandon_at = time.monotonic() + timeout
        self._stopping.set()
        with self._ready:
            self._ready.notify()
        if self._thread.is_alive():
            self._thread.join(timeout + 1.0)
        if self._dropped_unlogged:  # the end of a burst, not said yet
            LOG.warning(
                "Queue full: dropped %d samples since the last warning",
                self._dropped_unlogged,
            )
            self._dropped_unlogged = 0
        return self.queued

    def settle(self, timeout: float) -> int:
        """After :meth:`stop` and the store's close: wait at most
        ``timeout`` seconds for the outcomes of the batches in flight;
        return, and log, the samples not written."""
        if self._thread.is_alive():
            self._thread.join(timeout)
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
        self._in_flight += count
        return [self._queue.popleft() for _ in range(count)]

    def _try_send(
        self, batch: list[wire.SampleRecord]
    ) -> write_retry.Failure | None:
        try:
            self._store.send_batch(batch)
        except Exception as exc:
            return write_retry.failure_of(self._store, exc)
        return None

    def _try_receive(
        self, batch: list[wire.SampleRecord]
    ) -> write_retry.Failure | None:
        return self._retry.outcome(batch, self._store.receive_result)

    def _settle_oldest(self, sent: collections.deque) -> bool:
        """Receive the oldest outcome; on failure, settle all.

        The outcomes of the batches sent after a failed one are received
        too, then every failed batch is written again in order, with the
        usual retries. False if stopping ran out of time: what is left
        goes back to the head of the queue.
        """
        batch, failure = sent.popleft()
        failure = failure or self._try_receive(batch)
        if failure is None:
            self._done(batch)
            return True
        failed = [(batch, failure)]
        while sent:
            later, later_failure = sent.popleft()
            later_failure = later_failure or self._try_receive(later)
            if later_failure is None:
                self._done(later)
            elif later_failure[0] == child_protocol.HELD_BACK:
                # Not tried: written once those before it are, no retry
                # counted nor waited for.
                failed.append((later, None))
            else:
                failed.append((later, later_failure))
        # Failed batches count as in flight until written or queued again.
        for index, (batch, failure) in enumerate(failed):
            if not self._retry.write(batch, failure):
                for unwritten, _ in reversed(failed[index:]):
                    self._in_flight -= len(unwritten)
                    self._queue.extendleft(reversed(unwritten))
                return False
            self._done(batch)
        return True

    def _done(self, batch: list[wire.SampleRecord]) -> None:
        """``batch`` is written (or its refused rows dropped)."""
        self._in_flight -= len(batch)
        self._done_weight += _weight(batch)

    def _run(self) -> None:
        # Batches handed to the store, each with how its sending failed
        # (None if it did not), oldest first.
        sent: collections.deque = collections.deque()
        while True:
            # Another batch goes out while one is in flight only when it
            # is full: partial batches wait for the outcome as before.
            # None goes out behind one whose sending failed: the store
            # may then be a new writer process, which would commit it
            # before the failed one is sent again.
            if len(sent) < self._depth and (
                not sent
                or (
                    len(self._queue) >= self._batch_size
                    and not any(failure for _, failure in sent)
                )
            ):
                batch = self._take_batch()
                if batch:
                    sent.append((batch, self._try_send(batch)))
                    continue
            if sent and not self._settle_oldest(sent):
                return
            if self._stopping.is_set() and not self._queue and not sent:
                return
            if time.monotonic() > self._retry.abandon_at and not sent:
                return
