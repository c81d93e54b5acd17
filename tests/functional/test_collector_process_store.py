"""The child-process store on real SQLite and MariaDB."""

import datetime
import json
import os
import signal

import pytest
import sqlalchemy as sa

from ceilometer_ha.storage import child_protocol
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import migration
from ceilometer_ha.storage import models
from ceilometer_ha.storage import process_store
from tests import conftest
from tests import records

# The writer child (a second thread for MySQL) through both drivers.
database_url = conftest.every_driver_database_url

T0 = datetime.datetime(2026, 11, 22, 3, 0, 0, 250000)


def _record(mid, volume, seconds):
    return records.record(
        mid,
        volume=float(volume),
        timestamp=T0 + datetime.timedelta(seconds=seconds),
        resource_metadata={"host": "compute-1", "note": "ünï"},
    )


@pytest.fixture
def engine(database_url):
    engine = engine_mod.create_engine(database_url)
    migration.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def store(database_url, engine):
    store = process_store.ProcessStore(database_url)
    store.start()
    yield store
    store.close()


def _latest(engine):
    with engine.connect() as conn:
        return conn.execute(sa.select(models.latest)).mappings().one()


def test_batches_written_by_the_child_keep_the_streak(engine, store):
    assert store.write_batch([_record("a", 0, 0), _record("b", 0, 10)]) == 2
    assert store.write_batch([_record("b", 0, 10), _record("c", 0, 20)]) == 1
    row = _latest(engine)
    assert (row["message_id"], row["streak"]) == ("c", 3)
    assert row["since"] == T0


def test_a_refused_row_is_permanent_and_described(engine, store):
    # A lone surrogate cannot be encoded for either database.
    refused = _record("x", 1, 0)._replace(host="compute-\udc80")
    with pytest.raises(child_protocol.RemoteWriteError) as failed:
        store.write_batch([refused])
    assert failed.value.permanent
    assert child_protocol.describe(failed.value).startswith(
        "UnicodeEncodeError"
    )
    assert store.write_batch([_record("y", 1, 0)]) == 1


def test_a_killed_child_is_replaced_for_the_next_batch(engine, store, caplog):
    assert store.write_batch([_record("a", 1, 0)]) == 1
    first = store._proc.pid
    os.kill(first, signal.SIGKILL)
    store._proc.join(10)
    assert store.write_batch([_record("b", 1, 5)]) == 1
    assert store._proc.pid != first
    assert _latest(engine)["streak"] == 2
    # Not silently: an operator learns of a writer killed while idle.
    [said] = [r for r in caplog.records if "ended unasked" in r.message]
    assert said.levelname == "WARNING"
    assert said.getMessage().startswith(
        f"Database writer process {first} ended unasked (killed by SIGKILL"
    )


def test_metadata_msgpack_cannot_hold_crosses_as_a_pickle(engine, store):
    record = _record("big", 1, 0)._replace(
        resource_metadata={"host": "compute-1", "count": 2**70}
    )
    assert child_protocol.encode_batch([record])[:1] == b"p"
    assert store.write_batch([record]) == 1
    assert json.loads(_latest(engine)["resource_metadata"]) == {
        "host": "compute-1",
        "count": 2**70,
    }


def test_outcomes_of_batches_sent_ahead_come_back_in_order(engine, store):
    # The middle batch cannot even be decoded by the child (a volume
    # that is no number): its failure is permanent and reported in its
    # place, between the two batches around it. The batch sent behind
    # it is held back, not written, until the writer sends it again.
    bad = _record("bad", 1, 5)._replace(volume="many")
    store.send_batch([_record("a", 1, 0)])
    store.send_batch([bad])
    store.send_batch([_record("b", 1, 10), _record("c", 1, 20)])
    assert store.receive_result() == 1
    with pytest.raises(child_protocol.RemoteWriteError) as failed:
        store.receive_result()
    assert failed.value.permanent
    with pytest.raises(child_protocol.RemoteWriteError) as held:
        store.receive_result()
    assert not held.value.permanent
    assert "earlier batch failed" in held.value.description
    assert _latest(engine)["message_id"] == "a"
    assert store.write_batch([_record("b", 1, 10), _record("c", 1, 20)]) == 2
    row = _latest(engine)
    assert (row["message_id"], row["streak"]) == ("c", 3)


def test_a_batch_behind_a_failed_one_is_committed_after_it(tmp_path):
    # The database is locked while the child writes the first batch,
    # which fails when SQLite's busy timeout runs out. The second, sent
    # behind it, must not be committed first: ha_latest would then take
    # the first batch's sample as old, and its streak would miss it.
    url = f"sqlite:///{tmp_path / 'locked.sqlite'}"
    engine = engine_mod.create_engine(url)
    migration.upgrade(engine)
    store = process_store.ProcessStore(url)
    store.start()
    locker = engine.raw_connection()
    try:
        assert store.write_batch([_record("a", 0, 0)]) == 1
        locker.execute("BEGIN EXCLUSIVE")
        first, second = [_record("b", 0, 10)], [_record("c", 0, 20)]
        store.send_batch(first)
        store.send_batch(second)
        with pytest.raises(child_protocol.RemoteWriteError) as locked:
            store.receive_result()
        assert not locked.value.permanent
        locker.rollback()
        with pytest.raises(child_protocol.RemoteWriteError) as held:
            store.receive_result()
        assert "earlier batch failed" in held.value.description
        assert _latest(engine)["message_id"] == "a"
        # The writer's retry: the failed batches again, oldest first.
        assert store.write_batch(first) == 1
        assert store.write_batch(second) == 1
        row = _latest(engine)
        assert (row["message_id"], row["streak"]) == ("c", 3)
    finally:
        locker.close()
        store.close()
        engine.dispose()


def test_no_child_is_started_once_closed(engine, store):
    # A writer thread past the stop's budget would otherwise start one
    # that outlives the flush and holds the exit.
    assert store.write_batch([_record("a", 1, 0)]) == 1
    store.close()
    with pytest.raises(child_protocol.RemoteWriteError) as sending:
        store.send_batch([_record("b", 1, 5)])
    assert not sending.value.permanent
    assert "closed" in sending.value.description
    assert store._proc is None
    store.start()  # a schema wait that ends after the stop
    assert store._proc is None


def test_batches_in_flight_when_the_child_dies_fail_as_lost(engine, store):
    assert store.write_batch([_record("a", 1, 0)]) == 1
    first = store._proc.pid
    os.kill(first, signal.SIGSTOP)
    store.send_batch([_record("b", 1, 5)])
    os.kill(first, signal.SIGKILL)
    store._proc.join(10)
    with pytest.raises(child_protocol.RemoteWriteError) as sending:
        store.send_batch([_record("c", 1, 10)])
    with pytest.raises(child_protocol.RemoteWriteError) as receiving:
        store.receive_result()
    for failure in (sending.value, receiving.value):
        assert not failure.permanent
        assert "lost" in failure.description
    # Nothing awaited any more: the next batch gets a new child.
    assert store.write_batch([_record("b", 1, 5)]) == 1
    assert store._proc.pid != first


def test_times_written_by_the_child_read_back_exactly(engine, store):
    whole = T0.replace(microsecond=0)
    records = [
        _record("whole", 1, 0)._replace(timestamp=whole, recorded_at=whole),
        _record("fraction", 1, 0.000001),
    ]
    assert store.write_batch(records) == 2
    t = models.sample.c
    with engine.connect() as conn:
        stored = {
            mid: (stamp, recorded)
            for mid, stamp, recorded in conn.execute(
                sa.select(t.message_id, t.timestamp, t.recorded_at)
            )
        }
        raw = (
            conn.exec_driver_sql(
                "SELECT timestamp FROM ha_sample ORDER BY timestamp"
            )
            .scalars()
            .all()
        )
    assert stored == {
        r.message_id: (r.timestamp, r.recorded_at) for r in records
    }
    if engine.dialect.name == "sqlite":
        # SQLAlchemy's storage format, which orders as the times do.
        assert raw == [
            "2026-11-22 03:00:00.000000",
            "2026-11-22 03:00:00.250001",
        ]
