"""SQLite's partial history index (revision 0002) on real SQLite files."""

import datetime

from alembic import command
import sqlalchemy as sa

from ceilometer_ha.health import history
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import migration
from ceilometer_ha.storage import models
from ceilometer_ha.storage import store as store_mod
from tests import records

T0 = datetime.datetime(2026, 11, 22, 3, 0, 0, 250000)
OLD_INDEX = "ix_ha_sample_host_meter_ts"
NEW_INDEX = models.HISTORY_INDEX["sqlite"]


def _records(count):
    return [
        records.record(
            f"m-{i}",
            host=f"compute-{i % 3}",
            meter=("ha.storage.reachable", models.LOSS_METER)[i % 2],
            resource_id=f"compute-{i % 3}-198.51.100.7",
            volume=float(i % 2),
            unit="%",
            timestamp=T0 + datetime.timedelta(seconds=i),
            resource_metadata={"host": f"compute-{i % 3}"},
        )
        for i in range(count)
    ]


def _indexes(engine):
    return {i["name"] for i in sa.inspect(engine).get_indexes("ha_sample")}


def test_history_query_is_served_by_the_partial_index(tmp_path):
    engine = engine_mod.create_engine(f"sqlite:///{tmp_path}/ha.sqlite")
    migration.upgrade(engine)
    query = history._rows_query(["compute-1"], T0)
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").fetchall()
    assert any(NEW_INDEX in row[-1] for row in plan), plan


def test_upgrade_from_0001_keeps_samples_and_swaps_the_index(tmp_path):
    engine = engine_mod.create_engine(f"sqlite:///{tmp_path}/ha.sqlite")
    migration.upgrade(engine, "0001_initial")
    assert OLD_INDEX in _indexes(engine)
    store_mod.SampleStore(engine).write_batch(_records(12))

    migration.upgrade(engine)

    assert migration.current_revision(engine) == migration.head_revision()
    indexes = _indexes(engine)
    assert NEW_INDEX in indexes and OLD_INDEX not in indexes
    with engine.connect() as conn:
        got = history.read_loss_history(
            conn, ["compute-0", "compute-1", "compute-2"], T0
        )
    # Every loss sample (odd i) comes back, none of the others.
    assert sum(len(s) for h in got.values() for s in h.values()) == 6
    assert all(
        volume == 1.0
        for host in got.values()
        for series in host.values()
        for *_, volume in series
    )

    command.downgrade(migration._config(engine), "0001_initial")
    indexes = _indexes(engine)
    assert OLD_INDEX in indexes and NEW_INDEX not in indexes
