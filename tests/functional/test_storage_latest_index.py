"""Revision 0003 (no index on ha_latest.recorded_at) on SQLite and MariaDB."""

import datetime

from alembic import command
import sqlalchemy as sa

from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import expiry
from ceilometer_ha.storage import migration
from ceilometer_ha.storage import models
from ceilometer_ha.storage import store as store_mod
from tests import records

BEFORE = "0002_sqlite_loss_index"
INDEX = "ix_ha_latest_recorded_at"
T0 = datetime.datetime(2026, 12, 1, 16, 0, 0, 250000)


def _record(i, recorded_at):
    return records.record(
        f"m-{i}",
        host=f"compute-{i}",
        resource_id=f"compute-{i}-198.51.100.7",
        timestamp=T0 + datetime.timedelta(seconds=i),
        recorded_at=recorded_at,
        resource_metadata={"host": f"compute-{i}"},
    )


def _latest_indexes(engine):
    return {i["name"] for i in sa.inspect(engine).get_indexes("ha_latest")}


def _latest(engine):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(models.latest).order_by(models.latest.c.host)
        ).all()


def test_upgrade_drops_the_index_keeps_rows_and_expiry_works(database_url):
    engine = engine_mod.create_engine(database_url)
    migration.upgrade(engine, BEFORE)
    assert INDEX in _latest_indexes(engine)
    old = T0 - datetime.timedelta(hours=2)
    store_mod.SampleStore(engine).write_batch(
        [_record(i, old if i < 4 else T0) for i in range(10)]
    )
    rows = _latest(engine)

    migration.upgrade(engine)

    migration.check_current(engine)
    assert INDEX not in _latest_indexes(engine)
    assert _latest(engine) == rows
    deleted = expiry.expire(engine, T0 - datetime.timedelta(hours=1), 3)
    assert deleted == {"ha_sample": 4, "ha_latest": 4}
    assert [r.host for r in _latest(engine)] == [
        f"compute-{i}" for i in range(4, 10)
    ]

    command.downgrade(migration._config(engine), BEFORE)
    assert INDEX in _latest_indexes(engine)
    engine.dispose()
