"""The schema check at start and the wait for a database that is away."""

import threading

import pytest
import sqlalchemy as sa

from ceilometer_ha.collector import schema_wait
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import migration


def test_a_sqlite_file_that_cannot_be_opened_is_refused_not_waited_for(
    tmp_path,
):
    engine = engine_mod.create_engine(
        f"sqlite:///{tmp_path / 'no such directory' / 'db.sqlite'}"
    )
    with pytest.raises(sa.exc.OperationalError):
        schema_wait.check_or_wait(engine)
    engine.dispose()


def test_a_current_schema_needs_no_wait(tmp_path):
    engine = engine_mod.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migration.upgrade(engine)
    assert schema_wait.check_or_wait(engine) is True
    engine.dispose()


def test_the_waiter_holds_on_a_missing_schema_until_dbsync(tmp_path, caplog):
    engine = engine_mod.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ready, stopping = threading.Event(), threading.Event()
    waiter = schema_wait.SchemaWaiter(engine, 0.05, stopping, ready.set)
    waiter.start()
    try:
        for _ in range(200):  # at most 10 s
            if "run ceilometer-ha dbsync" in caplog.text:
                break
            stopping.wait(0.05)
        assert "Holding samples" in caplog.text
        assert not ready.is_set()
        migration.upgrade(engine)
        assert ready.wait(10)
    finally:
        stopping.set()
        waiter.join()
        engine.dispose()


def test_a_stop_ends_the_wait_without_ready(tmp_path):
    engine = engine_mod.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    ready, stopping = threading.Event(), threading.Event()
    waiter = schema_wait.SchemaWaiter(engine, 0.05, stopping, ready.set)
    waiter.start()
    stopping.set()
    waiter.join()
    assert not ready.is_set()
    engine.dispose()
