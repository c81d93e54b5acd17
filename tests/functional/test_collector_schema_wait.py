"""The schema check at start and the wait for a database that is away."""

import contextlib
import threading

import pytest
import sqlalchemy as sa

from ceilometer_ha.collector import schema_wait
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import migration
from tests import conftest


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


@contextlib.contextmanager
def _waiting(engine):
    """A running ``SchemaWaiter``: its ready and stopping events."""
    ready, stopping = threading.Event(), threading.Event()
    waiter = schema_wait.SchemaWaiter(engine, 0.05, stopping, ready.set)
    waiter.start()
    try:
        yield ready, stopping
    finally:
        stopping.set()
        waiter.join(60)
        assert not waiter._thread.is_alive(), "the waiter did not end"


def _until_logged(caplog, stopping, text, level="ERROR"):
    """Wait (at most 10 s) for a record saying ``text`` at ``level``."""
    for _ in range(200):
        if any(
            text in r.getMessage() and r.levelname == level
            for r in caplog.records
        ):
            return
        stopping.wait(0.05)
    raise AssertionError(f"no {level} record saying {text!r}")


def test_the_waiter_holds_on_a_missing_schema_until_dbsync(tmp_path, caplog):
    engine = engine_mod.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with _waiting(engine) as (ready, stopping):
            _until_logged(caplog, stopping, "run ceilometer-ha dbsync")
            assert "Holding samples: the database schema is missing" in (
                caplog.text
            )
            assert not ready.is_set()
            migration.upgrade(engine)
            assert ready.wait(10)
    finally:
        engine.dispose()


def test_a_stop_ends_the_wait_without_ready(tmp_path):
    engine = engine_mod.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        with _waiting(engine) as (ready, stopping):
            stopping.set()
    finally:
        engine.dispose()
    assert not ready.is_set()


def _absent(url):
    """``url`` with a database that does not exist (dropped by then)."""
    parsed = sa.engine.make_url(url)
    return parsed.set(database=f"{parsed.database}_absent").render_as_string(
        hide_password=False
    )


@pytest.mark.mysql
def test_a_database_that_does_not_exist_is_an_error_and_waited_for(
    mysql_database, caplog
):
    absent = _absent(mysql_database)
    engine = engine_mod.create_engine(absent)
    assert schema_wait.check_or_wait(engine) is False
    [record] = [r for r in caplog.records if r.name == schema_wait.__name__]
    assert record.levelname == "ERROR"
    assert "has no such database: create it" in record.getMessage()
    caplog.clear()
    created = engine_mod.create_engine(conftest.mysql_server_url())
    name = sa.engine.make_url(absent).database
    try:
        with _waiting(engine) as (ready, stopping):
            _until_logged(caplog, stopping, "has no such database")
            assert not ready.is_set()
            with created.begin() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
            migration.upgrade(engine)
            assert ready.wait(10)
    finally:
        engine.dispose()
        with created.begin() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
        created.dispose()


@pytest.mark.mysql
def test_refused_credentials_are_an_error(mysql_database, caplog):
    wrong = sa.engine.make_url(mysql_database).set(
        username="ceilometer_ha_nobody", password="wrong"
    )
    engine = engine_mod.create_engine(wrong.render_as_string(False))
    try:
        assert schema_wait.check_or_wait(engine) is False
    finally:
        engine.dispose()
    [record] = [r for r in caplog.records if r.name == schema_wait.__name__]
    assert record.levelname == "ERROR"
    assert "refuses the credentials: check the user" in record.getMessage()


class FlakyEngine:
    """An engine whose first connection fails as nothing expects."""

    def __init__(self, engine):
        self.engine, self.calls = engine, 0

    def connect(self):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("unexpected")
        return self.engine.connect()


def test_an_unexpected_error_does_not_end_the_wait(tmp_path, caplog):
    # Were the thread to end, samples would be held for ever, silently.
    engine = engine_mod.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migration.upgrade(engine)
    try:
        with _waiting(FlakyEngine(engine)) as (ready, _):
            assert ready.wait(10)
    finally:
        engine.dispose()
    [failed] = [r for r in caplog.records if "check failed" in r.message]
    assert failed.levelname == "ERROR"
    assert failed.exc_info[0] is RuntimeError
