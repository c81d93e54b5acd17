"""The store when the database changes under it: a server that stops
taking writes, tables dropped by hand (real SQLite and MariaDB)."""

import datetime

import pytest
import sqlalchemy as sa

from ceilometer_ha.cmd import manage
from ceilometer_ha.storage import db_errors
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import expiry
from ceilometer_ha.storage import migration
from ceilometer_ha.storage import models
from ceilometer_ha.storage import store as store_mod
from ceilometer_ha.storage import write_retry
from tests import conftest
from tests import records
from tests.functional import collector_rows

database_url = conftest.every_driver_database_url
# A MySQL server's refusal: through both drivers, not on SQLite.
MYSQL_ONLY = pytest.mark.parametrize(
    "database_url", ["mysql", "mysql-mysqldb"], indirect=True
)

T0 = datetime.datetime(2026, 12, 4, 21, 0, 0, 250000)


def _batch(prefix, count=3):
    return [
        records.record(
            f"{prefix}-{n}",
            timestamp=T0 + datetime.timedelta(seconds=n),
            resource_id=f"compute-1-192.0.2.{n + 10}",
            resource_metadata={"host": "compute-1"},
        )
        for n in range(count)
    ]


def _store(url):
    engine = engine_mod.create_engine(url)
    migration.upgrade(engine)
    return store_mod.SampleStore(engine)


def _read_only_session(engine):
    """Make the pooled connection's session read-only, as a connection
    left on a server that a failover turned read-only: it still answers
    the pool's ping."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
    assert engine.pool.checkedin() == 1


@MYSQL_ONLY
def test_a_server_refusing_writes_is_left_for_a_new_connection(database_url):
    """The refused batch fails as transient; its retry connects anew
    instead of going back to the server that refused it."""
    store = _store(database_url)
    _read_only_session(store.engine)
    batch = _batch("ro")
    with pytest.raises(Exception) as refused:
        store.write_batch(batch)
    assert db_errors.refuses_writes(refused.value), refused.value
    assert not store.is_permanent(refused.value)
    assert store.write_batch(batch) == len(batch)
    assert collector_rows.count_rows(database_url) == len(batch)


@MYSQL_ONLY
def test_the_expiry_leaves_a_server_refusing_writes(database_url):
    store = _store(database_url)
    store.write_batch(_batch("old"))
    _read_only_session(store.engine)
    later = datetime.datetime.now() + datetime.timedelta(days=1)
    with pytest.raises(sa.exc.OperationalError) as refused:
        expiry.expire(store.engine, later, batch_size=100)
    assert db_errors.refuses_writes(refused.value), refused.value
    deleted = expiry.expire(store.engine, later, batch_size=100)
    assert deleted == {"ha_sample": 3, "ha_latest": 3}
    assert collector_rows.count_rows(database_url) == 0


def _drop_tables(engine):
    with engine.begin() as conn:
        for table in migration.TABLES:
            conn.exec_driver_sql(f"DROP TABLE {table}")


def test_samples_are_held_while_the_tables_are_gone(database_url):
    """Tables dropped under a running collector: its writes fail as
    transient, naming dbsync, and dbsync makes the tables again (the
    revision recorded is no reason to leave them missing)."""
    store = _store(database_url)
    _drop_tables(store.engine)
    batch = _batch("held")
    with pytest.raises(Exception) as gone:
        store.write_batch(batch)
    assert not store.is_permanent(gone.value), gone.value
    reason, permanent = write_retry.failure_of(store, gone.value)
    assert not permanent
    assert reason.endswith("samples are held; run ceilometer-ha dbsync)")
    with pytest.raises(migration.SchemaError) as checked:
        migration.check_current(store.engine)
    assert "table(s) ha_sample, ha_latest are missing" in str(checked.value)
    assert "run ceilometer-ha dbsync" in str(checked.value)
    migration.upgrade(store.engine)
    migration.check_current(store.engine)
    assert store.write_batch(batch) == len(batch)


def test_one_table_dropped_is_said_not_guessed(database_url):
    store = _store(database_url)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE ha_latest")
    with pytest.raises(migration.SchemaError) as half:
        migration.upgrade(store.engine)
    assert "table(s) ha_latest are missing" in str(half.value)
    assert migration.missing_tables(store.engine) == ["ha_latest"]


def test_dbsync_makes_dropped_tables_again(database_url, tmp_path, capsys):
    store = _store(database_url)
    head = migration.head_revision()
    _drop_tables(store.engine)
    conf = tmp_path / "ceilometer_ha.conf"
    conf.write_text(f"[database]\nconnection = {database_url}\n")
    assert manage.main(["dbsync", "--config-file", str(conf)]) == 0
    out = capsys.readouterr().out
    assert out == f"database schema: {head} (tables missing) -> {head}\n"
    assert migration.missing_tables(store.engine) == []
    assert store.write_batch(_batch("again")) == 3


def test_dbsync_gives_up_on_a_lock_an_open_transaction_holds(
    mysql_database, tmp_path, capsys
):
    """A reader left in a transaction on ha_latest holds its metadata
    lock: revision 0003's DROP INDEX would wait for it (and every write
    behind it) for MySQL's default day."""
    engine = engine_mod.create_engine(mysql_database)
    migration.upgrade(engine, "0002_sqlite_loss_index")
    conf = tmp_path / "ceilometer_ha.conf"
    conf.write_text(f"[database]\nconnection = {mysql_database}\n")
    dbsync = ["dbsync", "--config-file", str(conf)]
    with engine.connect() as reader:
        session = reader.exec_driver_sql("SELECT CONNECTION_ID()").scalar()
        reader.execute(sa.select(models.latest)).all()  # still open
        assert manage.main([*dbsync, "--lock-wait-timeout", "1"]) == 4
        err = capsys.readouterr().err
        reader.rollback()
    assert err.startswith("ceilometer-ha dbsync: database: (1205, "), err
    assert "waited 1 s for a table's metadata lock" in err, err
    assert f"open transactions: session {session} (root@" in err, err
    assert err.endswith("with a longer --lock-wait-timeout\n"), err
    assert migration.current_revision(engine) == "0002_sqlite_loss_index"
    assert manage.main(dbsync) == 0
    assert migration.current_revision(engine) == migration.head_revision()
