"""The batch writer against a fake store that can fail on demand."""

import datetime
import logging
import threading
import time

from ceilometer_ha import wire
from ceilometer_ha.storage import child_protocol
from ceilometer_ha.storage import writer

T0 = datetime.datetime(2026, 11, 22, 3, 0, 0)


class RefusedDataError(ValueError):
    """What the fake database raises for a row it will never accept."""


class FakeStore:
    """A SampleStore that records batches; ``down`` makes writes fail.

    A batch holding a message_id starting with ``poison`` is refused
    whole, as a database refuses a transaction with one bad row.
    """

    def __init__(self):
        self.batches = []
        self.down = threading.Event()
        self.failures = 0

    def is_permanent(self, exc):
        return isinstance(exc, RefusedDataError)

    def write_batch(self, records):
        if self.down.is_set():
            self.failures += 1
            raise ConnectionError("database away")
        if any(r.message_id.startswith("poison") for r in records):
            raise RefusedDataError("incorrect string value")
        new = [r for r in records if r.message_id != "duplicate"]
        self.batches.append(list(records))
        return len(new)

    @property
    def written(self):
        return [r.message_id for b in self.batches for r in b]


class RecordingCounters:
    def __init__(self):
        self.stored_count = 0
        self.duplicate_count = 0
        self.dropped_count = 0
        self.failures = 0
        self.unstorable_count = 0

    def unstorable(self, count):
        self.unstorable_count += count

    def stored(self, count, duplicates):
        self.stored_count += count
        self.duplicate_count += duplicates

    def dropped(self, count):
        self.dropped_count += count

    def write_failed(self):
        self.failures += 1


def _record(mid):
    return wire.SampleRecord(mid, "h", "c", "m", "r", 1.0, "", T0, T0, "", {})


def _writer(store, counters, **kw):
    args = dict(
        batch_size=10,
        batch_timeout=0.01,
        max_queued=1000,
        retry_max_interval=0.05,
    )
    args.update(kw)
    return writer.SqlWriter(store, counters, **args)


def _wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_batches_are_bounded_and_everything_is_written():
    store, counters = FakeStore(), RecordingCounters()
    w = _writer(store, counters)
    for i in range(95):
        w.submit(_record(f"m{i}"))
    w.start()
    assert _wait_for(lambda: len(store.written) == 95)
    assert max(len(b) for b in store.batches) <= 10
    assert w.stop(5.0) == 0
    assert store.written == [f"m{i}" for i in range(95)]
    assert counters.stored_count == 95


def test_full_batches_do_not_wait_for_the_batch_timeout():
    # With an hour of batch_timeout only a full batch's wake-up (or the
    # writer finding one waiting) can get anything written.
    store, counters = FakeStore(), RecordingCounters()
    w = _writer(store, counters, batch_timeout=3600.0)
    w.start()
    for i in range(35):
        w.submit(_record(f"m{i}"))
    assert _wait_for(lambda: len(store.written) == 30)
    assert [len(b) for b in store.batches] == [10, 10, 10]
    assert w.queued == 5
    assert w.stop(5.0) == 0
    assert len(store.written) == 35


def test_duplicates_are_counted():
    store, counters = FakeStore(), RecordingCounters()
    w = _writer(store, counters)
    w.start()
    w.submit(_record("a"))
    w.submit(_record("duplicate"))
    w.stop(5.0)
    assert (counters.stored_count, counters.duplicate_count) == (1, 1)


def _through_an_outage(store, **kw):
    """50 samples submitted while the database is away, then written."""
    counters = RecordingCounters()
    store.down.set()
    w = _writer(store, counters, **kw)
    w.start()
    for i in range(50):
        w.submit(_record(f"m{i}"))
    assert _wait_for(lambda: store.failures >= 3)
    assert w.queued == 50
    store.down.clear()
    assert _wait_for(lambda: len(store.written) == 50)
    assert w.stop(5.0) == 0
    assert counters.failures >= 3
    assert counters.stored_count == 50
    return store.written


def test_outage_holds_samples_then_writes_them_in_order():
    written = _through_an_outage(FakeStore())
    assert written == [f"m{i}" for i in range(50)]


def test_overflow_is_dropped_counted_and_logged(caplog):
    store, counters = FakeStore(), RecordingCounters()
    store.down.set()
    w = _writer(store, counters, max_queued=20)
    w.start()
    with caplog.at_level(logging.WARNING):
        accepted = sum(w.submit(_record(f"m{i}")) for i in range(30))
    assert accepted == 20
    assert counters.dropped_count == 10
    full = [r for r in caplog.records if "Queue full" in r.getMessage()]
    assert len(full) == 1  # rate-limited: one line for the burst
    store.down.clear()
    with caplog.at_level(logging.WARNING):
        assert w.stop(5.0) == 0
    assert len(store.written) == 20
    # The 9 dropped after that line are said at the stop, not lost.
    full = [r for r in caplog.records if "Queue full" in r.getMessage()]
    assert (
        full[-1]
        .getMessage()
        .endswith("dropped 9 samples since the last warning")
    )


def _large(mid, pad="x", count=3 * writer.SAMPLE_BYTES - 11):
    """A sample with ``count`` characters ``pad`` in its metadata text
    (by default three times ``SAMPLE_BYTES`` of text in all)."""
    text = '{"pad": "%s"}' % (pad * count)
    return _record(mid)._replace(resource_metadata=text)


def test_a_sample_weighs_the_memory_its_metadata_takes():
    assert writer.weight(_record("small")) == 1
    assert writer.weight(_large("tiny", count=10)) == 1
    # 3 x 2,048 ASCII characters and a string header: a fourth slot.
    assert writer.weight(_large("big")) == 4
    # 600 characters, but 4 bytes each: 2,400 bytes and more.
    assert writer.weight(_large("wide", pad="\U0001f600", count=600)) == 2


def test_a_large_sample_counts_as_several_in_the_queue_bound():
    store, counters = FakeStore(), RecordingCounters()
    store.down.set()
    w = _writer(store, counters, max_queued=10)
    assert writer.weight(_large("big")) == 4
    w.start()
    assert [w.submit(_large(f"big{i}")) for i in range(3)] == [
        True,
        True,
        False,  # 8 of 10 held: 4 more would pass the bound
    ]
    assert [w.submit(_record(f"m{i}")) for i in range(3)] == [
        True,
        True,
        False,
    ]
    assert counters.dropped_count == 2
    store.down.clear()
    assert _wait_for(lambda: len(store.written) == 4)
    # Written: the bound is free again, in full.
    assert all(w.submit(_record(f"n{i}")) for i in range(10))
    assert w.stop(5.0) == 0
    assert len(store.written) == 14


def test_stop_gives_up_on_a_dead_database_within_its_bound():
    store, counters = FakeStore(), RecordingCounters()
    store.down.set()
    w = _writer(store, counters)
    w.start()
    for i in range(5):
        w.submit(_record(f"m{i}"))
    assert w.stop(0.2) == 5
    assert store.written == []


def test_refused_rows_are_dropped_and_counted_the_rest_written():
    store, counters = FakeStore(), RecordingCounters()
    w = _writer(store, counters)
    ids = [f"m{i}" for i in range(8)]
    batch_ids = ids[:3] + ["poison1"] + ids[3:6] + ["poison2"] + ids[6:]
    for mid in batch_ids:
        w.submit(_record(mid))
    w.start()
    assert _wait_for(lambda: counters.unstorable_count == 2)
    assert w.stop(5.0) == 0
    assert sorted(store.written) == sorted(ids)
    assert counters.stored_count == 8
    assert counters.failures == 0


class PipelinedFakeStore(FakeStore):
    """A FakeStore that takes batches ahead of their outcomes.

    Writes happen at ``receive_result``, oldest first; ``ahead`` is the
    most batches ever sent and not yet received. ``fail_next`` makes the
    next outcome fail once, as a lost connection.
    """

    def __init__(self):
        super().__init__()
        self.sent = []
        self.ahead = 0
        self.fail_next = threading.Event()

    def send_batch(self, records):
        self.sent.append(list(records))
        self.ahead = max(self.ahead, len(self.sent))

    def receive_result(self):
        batch = self.sent.pop(0)
        if self.fail_next.is_set():
            self.fail_next.clear()
            self.failures += 1
            raise ConnectionError("connection lost")
        return self.write_batch(batch)


def _queue_then_write(count, **kw):
    store, counters = PipelinedFakeStore(), RecordingCounters()
    w = _writer(store, counters, **kw)
    for i in range(count):
        w.submit(_record(f"m{i}"))
    w.start()
    assert _wait_for(lambda: len(store.written) == count)
    assert w.stop(5.0) == 0
    assert store.written == [f"m{i}" for i in range(count)]
    assert counters.stored_count == count
    return store


def test_a_pipelined_store_gets_the_next_full_batch_ahead():
    assert _queue_then_write(60, pipeline_depth=2).ahead == 2


def test_an_unpipelined_store_has_one_batch_at_a_time():
    # write_batch only, never send_batch
    assert _queue_then_write(60).ahead == 0


def _pipelined(store, count):
    """``count`` samples in batches of ten, pipelined; the counters once
    all are written and the writer stopped."""
    counters = RecordingCounters()
    w = _writer(store, counters, pipeline_depth=2)
    for i in range(count):
        w.submit(_record(f"m{i}"))
    w.start()
    assert _wait_for(lambda: len(store.written) == count)
    assert w.stop(5.0) == 0
    assert w.queued == 0
    return counters


def _twenty_past_a_failed_outcome(store):
    """Two batches of ten, the first outcome failing once."""
    store.fail_next.set()
    return _pipelined(store, 20)


def test_a_failed_outcome_is_retried_after_the_batch_sent_behind_it():
    store = PipelinedFakeStore()
    counters = _twenty_past_a_failed_outcome(store)
    # The first batch failed while the second was in flight: the second
    # was stored, then the first on its retry; nothing twice, none lost.
    assert store.written == [f"m{i}" for i in range(10, 20)] + [
        f"m{i}" for i in range(10)
    ]
    assert (counters.stored_count, counters.failures) == (20, 1)


class HoldingBackFakeStore(PipelinedFakeStore):
    """Holds back the batches sent behind a failed one, as the writer
    process does: their outcomes fail as ``HELD_BACK``, unwritten."""

    def __init__(self):
        super().__init__()
        self.held = 0

    def receive_result(self):
        if self.held:
            self.held -= 1
            self.sent.pop(0)
            raise child_protocol.RemoteWriteError(
                child_protocol.HELD_BACK, False
            )
        try:
            return super().receive_result()
        except ConnectionError:
            self.held = len(self.sent)  # sent before the failure was known
            raise


def test_batches_held_back_behind_a_failed_one_follow_it_uncounted():
    store = HoldingBackFakeStore()
    counters = _twenty_past_a_failed_outcome(store)
    # The batch behind the failed one was held back, then written after
    # it: in order, and only the real failure counted as one.
    assert store.written == [f"m{i}" for i in range(20)]
    assert (counters.stored_count, counters.failures) == (20, 1)


class SendFailingFakeStore(PipelinedFakeStore):
    """Its first send fails, as to a writer process that just died: the
    next send would go to a new one, which writes what it gets."""

    def __init__(self):
        super().__init__()
        self.send_failures = 1

    def send_batch(self, records):
        if self.send_failures:
            self.send_failures -= 1
            self.failures += 1
            raise ConnectionError("database writer process lost")
        super().send_batch(records)


def test_no_batch_goes_out_behind_one_whose_sending_failed():
    store = SendFailingFakeStore()
    counters = _pipelined(store, 30)
    # The failed first batch was written again before any later one.
    assert store.written == [f"m{i}" for i in range(30)]
    assert (counters.stored_count, counters.failures) == (30, 1)


def test_a_pipelined_outage_keeps_every_sample_until_it_ends():
    written = _through_an_outage(PipelinedFakeStore(), pipeline_depth=2)
    assert sorted(written) == sorted(f"m{i}" for i in range(50))


class SlowPipelinedStore(FakeStore):
    """A store whose outcome waits for ``release``, as a writer process
    stuck on a locked database would, and then succeeds."""

    def __init__(self):
        super().__init__()
        self.release = threading.Event()
        self.sent = []

    def send_batch(self, records):
        self.sent.append(list(records))

    def receive_result(self):
        self.release.wait(10.0)
        return self.write_batch(self.sent.pop(0))


def test_a_batch_written_after_stop_gave_up_on_it_is_not_left():
    """The stop's budget ends while a batch is in flight; the writer
    process writes it in its close grace: what settle reports is what
    was not written."""
    store, counters = SlowPipelinedStore(), RecordingCounters()
    w = _writer(store, counters, pipeline_depth=2)
    w.start()
    for i in range(5):
        w.submit(_record(f"m{i}"))
    assert _wait_for(lambda: store.sent)
    assert w.stop(0.1) == 5
    store.release.set()
    assert w.settle(5.0) == 0
    assert store.written == [f"m{i}" for i in range(5)]
    assert counters.stored_count == 5
