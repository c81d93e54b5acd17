"""The store, migrations and expiry on real SQLite and MariaDB."""

import datetime
import json

import pytest
import sqlalchemy as sa

from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import expiry
from ceilometer_ha.storage import migration
from ceilometer_ha.storage import models
from ceilometer_ha.storage import mysql_rows
from ceilometer_ha.storage import statements
from ceilometer_ha.storage import store as store_mod
from tests import conftest
from tests import records

# The store's own semantics, on MySQL through both drivers (conftest).
database_url = conftest.every_driver_database_url

T0 = datetime.datetime(2026, 11, 22, 3, 0, 0, 123456)


def _at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


def _record(mid, volume, seconds, resource="compute-1-storage", **kw):
    return records.record(
        mid,
        volume=float(volume),
        resource_id=resource,
        timestamp=_at(seconds),
        resource_metadata={"host": "compute-1", "note": "ünï"},
        **kw,
    )


def _store(database_url):
    engine = engine_mod.create_engine(database_url)
    migration.upgrade(engine)
    return store_mod.SampleStore(engine)


def _latest(engine):
    with engine.connect() as conn:
        rows = conn.execute(sa.select(models.latest)).mappings().all()
    return {r["resource_id"]: dict(r) for r in rows}


def _model_indexes(table, dialect):
    other = {name for d, name in models.HISTORY_INDEX.items() if d != dialect}
    return {i.name for i in table.indexes} - other


def test_migration_creates_exactly_the_model_tables(database_url):
    engine = engine_mod.create_engine(database_url)
    migration.upgrade(engine)
    migration.check_current(engine)
    inspector = sa.inspect(engine)
    for table in (models.sample, models.latest):
        columns = {c["name"] for c in inspector.get_columns(table.name)}
        assert columns == {c.name for c in table.columns}
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        assert indexes == _model_indexes(table, engine.dialect.name)
        primary = inspector.get_pk_constraint(table.name)
        assert primary["constrained_columns"] == [
            c.name for c in table.primary_key
        ]


def test_missing_schema_names_dbsync(database_url):
    engine = engine_mod.create_engine(database_url)
    try:
        migration.check_current(engine)
    except migration.SchemaError as exc:
        assert "ceilometer-ha dbsync" in str(exc)
    else:
        raise AssertionError("an empty database passed the schema check")


def test_duplicates_stored_once_and_counted(database_url):
    store = _store(database_url)
    batch = [_record("m1", 1, 0), _record("m2", 1, 1), _record("m1", 1, 0)]
    assert store.write_batch(batch) == 2
    assert store.write_batch([_record("m2", 1, 1), _record("m3", 0, 2)]) == 1
    with store.engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(models.sample)
        ).scalar()
    assert count == 3


def test_times_keep_microseconds_and_metadata_unicode(database_url):
    store = _store(database_url)
    store.write_batch([_record("m1", 1, 0.000001)])
    row = _latest(store.engine)["compute-1-storage"]
    assert row["timestamp"] == _at(0.000001)
    assert "ünï" in row["resource_metadata"]


def test_streak_and_since_across_batches(database_url):
    store = _store(database_url)
    store.write_batch([_record("a", 1, 0)])
    store.write_batch([_record("b", 0, 1)])
    store.write_batch([_record("c", 0, 2)])
    row = _latest(store.engine)["compute-1-storage"]
    assert (row["volume"], row["streak"], row["since"]) == (0.0, 2, _at(1))
    assert row["message_id"] == "c"
    assert row["timestamp"] == _at(2)


@pytest.mark.parametrize("statement_bytes", [1_000_000, 1])
def test_streak_within_one_unsorted_batch(
    database_url, monkeypatch, statement_bytes
):
    # With 1 byte, MySQL gets one statement per sample (both the
    # INSERT and the upsert's IN list): the order must hold across them.
    monkeypatch.setattr(mysql_rows, "MAX_STATEMENT_BYTES", statement_bytes)
    store = _store(database_url)
    store.write_batch(
        [
            _record("d", 0, 3),
            _record("a", 1, 0),
            _record("c", 0, 2),
            _record("b", 0, 1),
        ]
    )
    row = _latest(store.engine)["compute-1-storage"]
    assert (row["volume"], row["streak"], row["since"]) == (0.0, 3, _at(1))
    assert row["message_id"] == "d"


def test_older_or_equal_timestamps_leave_latest_alone(database_url):
    store = _store(database_url)
    store.write_batch([_record("a", 1, 5), _record("b", 1, 6)])
    store.write_batch([_record("late", 0, 4), _record("same", 0, 6)])
    row = _latest(store.engine)["compute-1-storage"]
    assert (row["volume"], row["streak"], row["since"]) == (1.0, 2, _at(5))
    assert row["message_id"] == "b"


def test_a_clock_stepped_back_moves_latest_after_the_grace(database_url):
    """A host's clock stepped back 6 s: its samples are older by their
    timestamps, and newer by the collector's clock. Recorded within
    CLOCK_STEP_GRACE of the stored one, a sample is a late one and
    leaves the row alone; after it, the row follows the host."""
    grace = statements.CLOCK_STEP_GRACE
    store = _store(database_url)
    store.write_batch([_record("a", 1, 10), _record("b", 1, 11)])
    store.write_batch(
        [_record("late", 0, 5, recorded_at=_at(11 + grace - 0.5))]
    )
    row = _latest(store.engine)["compute-1-storage"]
    assert (row["message_id"], row["volume"], row["streak"]) == ("b", 1, 2)
    store.write_batch(
        [_record("stepped", 0, 5, recorded_at=_at(11 + grace + 0.5))]
    )
    row = _latest(store.engine)["compute-1-storage"]
    assert row["message_id"] == "stepped"
    assert (row["volume"], row["streak"], row["since"]) == (0.0, 1, _at(5))
    assert row["timestamp"] == _at(5)
    assert row["recorded_at"] == _at(11 + grace + 0.5)
    assert json.loads(row["resource_metadata"])["note"] == "ünï"
    # The next sample of the stepped clock is newer by its timestamp.
    store.write_batch(
        [_record("next", 0, 6, recorded_at=_at(11 + grace + 1.5))]
    )
    row = _latest(store.engine)["compute-1-storage"]
    assert (row["message_id"], row["streak"], row["since"]) == (
        "next",
        2,
        _at(5),
    )


def test_latest_is_per_host_meter_resource(database_url):
    store = _store(database_url)
    store.write_batch(
        [
            _record("a", 1, 0, resource="r1"),
            _record("b", 0, 0, resource="r2"),
            _record("c", 1, 1, resource="r1"),
            _record("d", 1, 1, resource="r2"),
        ]
    )
    rows = _latest(store.engine)
    assert (rows["r1"]["streak"], rows["r1"]["since"]) == (2, _at(0))
    assert (rows["r2"]["streak"], rows["r2"]["since"]) == (1, _at(1))


def test_expiry_deletes_exactly_the_expired_rows(database_url):
    store = _store(database_url)
    old = [
        _record(f"old{i}", 1, i, resource=f"gone{i}", recorded_at=_at(-100))
        for i in range(7)
    ]
    fresh = [
        _record(f"new{i}", 1, i, resource=f"kept{i}", recorded_at=_at(0))
        for i in range(3)
    ]
    store.write_batch(old + fresh)
    deleted = expiry.expire(store.engine, _at(-50), batch_size=2)
    assert deleted == {"ha_sample": 7, "ha_latest": 7}
    with store.engine.connect() as conn:
        ids = set(
            conn.execute(sa.select(models.sample.c.message_id)).scalars()
        )
    assert ids == {"new0", "new1", "new2"}
    assert set(_latest(store.engine)) == {"kept0", "kept1", "kept2"}


@pytest.mark.parametrize("ttl", [0, -1])
def test_a_ttl_of_zero_or_less_keeps_every_row(database_url, ttl):
    store = _store(database_url)
    rows = [
        _record(f"r{i}", 1, i, resource=f"k{i}", recorded_at=_at(-86400 * i))
        for i in range(3)
    ]
    store.write_batch(rows)
    deleted = expiry.expire_older_than(store.engine, ttl, 2, _at(0))
    assert deleted == {"ha_sample": 0, "ha_latest": 0}
    with store.engine.connect() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).select_from(models.sample)
        )
        assert count.scalar() == 3
    assert len(_latest(store.engine)) == 3


@pytest.mark.mysql
def test_a_mariadb_url_keeps_sub_second_times(mysql_database):
    # mariadb:// as an operator may write it for the same server.
    store = _store("mariadb://" + mysql_database.split("://", 1)[1])
    record = _record("precise", 1, 0)
    assert record.timestamp.microsecond != 0
    assert store.write_batch([record]) == 1
    row = _latest(store.engine)["compute-1-storage"]
    assert row["timestamp"] == record.timestamp
    store.engine.dispose()


def test_four_byte_unicode_is_stored_even_with_charset_utf8(database_url):
    # The deployment notes' URL ends in ?charset=utf8 (3-byte UTF-8).
    store = _store(database_url.replace("charset=utf8mb4", "charset=utf8"))
    record = _record("emoji", 1, 0, host="compute-😀")
    assert store.write_batch([record]) == 1
    row = _latest(store.engine)["compute-1-storage"]
    assert row["host"] == "compute-😀"


def test_refused_data_is_permanent_lost_connections_are_not(database_url):
    store = _store(database_url)
    dbapi = store.engine.dialect.dbapi
    assert store.is_permanent(dbapi.DataError("bad value"))
    assert store.is_permanent(dbapi.IntegrityError("constraint"))
    assert not store.is_permanent(dbapi.OperationalError("gone away"))
    assert not store.is_permanent(ConnectionResetError())


def test_metadata_json_cannot_hold_is_still_stored(database_url):
    store = _store(database_url)
    record = _record("binkeys", 1, 0)._replace(
        resource_metadata={"host": "compute-1", b"raw": {1: b"v"}}
    )
    assert store.write_batch([record]) == 1
    row = _latest(store.engine)["compute-1-storage"]
    assert json.loads(row["resource_metadata"]) == {
        "host": "compute-1",
        "b'raw'": {"1": "b'v'"},
    }
    assert store.is_permanent(TypeError("row cannot be built"))


def test_quotes_backslashes_and_control_characters_round_trip(database_url):
    store = _store(database_url)
    tricky = 'q\'uote "dq" back\\slash\nnl\rcr\x1asub\x00nul %s %%'
    record = _record("tricky", 1, 0, resource=f"res-{tricky}")._replace(
        resource_metadata={"host": "compute-1", "note": tricky}
    )
    assert store.write_batch([record]) == 1
    row = _latest(store.engine)[f"res-{tricky}"]
    assert json.loads(row["resource_metadata"])["note"] == tricky
    with store.engine.connect() as conn:
        stored = conn.execute(
            sa.select(models.sample.c.resource_id).where(
                models.sample.c.message_id == "tricky"
            )
        ).scalar_one()
    assert stored == f"res-{tricky}"


def test_sqlite_connections_get_wal_durable_commits_checkpoints_and_cache(
    tmp_path,
):
    engine = engine_mod.create_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    with engine.connect() as conn:
        pragma = conn.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        # FULL: a commit waits for the WAL to reach the disk.
        assert pragma("PRAGMA synchronous").scalar() == 2
        assert (
            pragma("PRAGMA wal_autocheckpoint").scalar()
            == engine_mod.SQLITE_CHECKPOINT_PAGES
            == 10_000
        )
        # Negative: KiB rather than pages.
        assert pragma("PRAGMA cache_size").scalar() == -65_536
    engine.dispose()


def test_each_parameter_runs_the_driver_it_names(request, database_url):
    engine = engine_mod.create_engine(database_url)
    param = request.node.callspec.params["database_url"]
    if param == "mysql":  # the server URL's own driver
        server = engine_mod.normalize_url(conftest.mysql_server_url() or "")
        driver = server.get_driver_name()
    else:
        driver = {"sqlite": "pysqlite", "mysql-mysqldb": "mysqldb"}[param]
    assert engine.dialect.driver == driver
    engine.dispose()


def test_sqlite_batch_written_as_an_expiry_deletes_the_newest_rows(tmp_path):
    """The expiry of another connection commits between the batch's
    start and its insert, deleting the rows of the highest rowids: the
    batch's rows then take lower rowids than the highest before, and
    must still reach ha_latest."""
    path = tmp_path / "x.sqlite"
    store = _store(f"sqlite:///{path}")
    store.write_batch([_record(f"old-{i}", 0, i) for i in range(5)])
    other = engine_mod.create_engine(f"sqlite:///{path}")
    expired = []

    def expire_first(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO ha_sample") and not expired:
            with other.begin() as expiring:
                expired.append(
                    expiring.execute(sa.delete(models.sample)).rowcount
                )

    sa.event.listen(store.engine, "before_cursor_execute", expire_first)
    assert store.write_batch([_record("new-1", 1, 60)]) == 1
    assert expired == [5]
    row = _latest(store.engine)["compute-1-storage"]
    assert (row["message_id"], row["volume"]) == ("new-1", 1.0)
    other.dispose()
