"""The child-process store on real SQLite and MariaDB."""

import datetime
import json
import os
import signal

import pytest
import sqlalchemy as sa

from ceilometer_ha import wire
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import migration
from ceilometer_ha.storage import models
from ceilometer_ha.storage import process_store

T0 = datetime.datetime(2026, 11, 22, 3, 0, 0, 250000)


def _record(mid, volume, seconds):
    stamp = T0 + datetime.timedelta(seconds=seconds)
    return wire.SampleRecord(
        mid,
        "compute-1",
        "rack-a",
        "ha.storage.reachable",
        "compute-1-storage",
        float(volume),
        "B",
        stamp,
        stamp,
        "openstack",
        {"host": "compute-1", "note": "ünï"},
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
    too_long = _record("x" * 65, 1, 0)._replace(host="h" * 300)
    try:
        store.write_batch([too_long])
    except process_store.RemoteWriteError as exc:
        # SQLite stores it (no length limits); MariaDB refuses it.
        assert engine.dialect.name == "mysql"
        assert exc.permanent
        assert process_store.describe(exc).startswith("DataError")
    else:
        assert engine.dialect.name == "sqlite"


def test_a_killed_child_is_replaced_for_the_next_batch(engine, store):
    assert store.write_batch([_record("a", 1, 0)]) == 1
    first = store._proc.pid
    os.kill(first, signal.SIGKILL)
    store._proc.join(10)
    assert store.write_batch([_record("b", 1, 5)]) == 1
    assert store._proc.pid != first
    assert _latest(engine)["streak"] == 2


def test_metadata_msgpack_cannot_hold_crosses_as_a_pickle(engine, store):
    record = _record("big", 1, 0)._replace(
        resource_metadata={"host": "compute-1", "count": 2**70}
    )
    assert process_store.encode_batch([record])[:1] == b"p"
    assert store.write_batch([record]) == 1
    assert json.loads(_latest(engine)["resource_metadata"]) == {
        "host": "compute-1",
        "count": 2**70,
    }
