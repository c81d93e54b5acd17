"""``ceilometer-ha expire`` as a subprocess, on SQLite and MySQL/MariaDB.

Samples recorded before and after the TTL's cutoff, written by the
collector's own store: the command deletes exactly the older ones, from
``ha_sample`` and ``ha_latest``, whether the TTL comes from the
configuration file or from ``--ttl``.
"""

import datetime
import subprocess

import sqlalchemy as sa

from ceilometer_ha import wire
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import migration
from ceilometer_ha.storage import models
from ceilometer_ha.storage import store as store_mod
from tests import records
from tests.functional import collector_config


def _fill(url, ages):
    """One sample per age (seconds before now), each its own resource."""
    engine = engine_mod.create_engine(url)
    migration.upgrade(engine)
    now = wire.utcnow()
    batch = []
    for i, age in enumerate(ages):
        recorded = now - datetime.timedelta(seconds=age)
        batch.append(
            records.record(
                f"m-{i}",
                resource_id=f"compute-1-r{i}",
                timestamp=recorded,
                recorded_at=recorded,
            )
        )
    store_mod.SampleStore(engine).write_batch(batch)
    return engine


def _left(engine):
    with engine.connect() as conn:
        return {
            table.name: sorted(
                conn.execute(sa.select(table.c.message_id)).scalars()
            )
            for table in (models.sample, models.latest)
        }


def _expire(*args):
    return subprocess.run(
        [str(collector_config.BIN / "ceilometer-ha"), "expire", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_expire_deletes_exactly_what_is_older_than_the_ttl(
    database_url, tmp_path
):
    engine = _fill(database_url, [7200, 3700, 3500, 60, 0])
    config = tmp_path / "ceilometer_ha.conf"
    config.write_text(
        collector_config.render_config(
            "[database]\nconnection = x\nmetering_time_to_live = 3600\n",
            database_url,
        )
    )
    try:
        done = _expire("--config-file", str(config))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("deleted 2 samples and 2 latest rows")
        kept = ["m-2", "m-3", "m-4"]
        assert _left(engine) == {"ha_sample": kept, "ha_latest": kept}

        # --ttl overrides the file's TTL.
        done = _expire("--config-file", str(config), "--ttl", "600")
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("deleted 1 samples and 1 latest rows")
        kept = ["m-3", "m-4"]
        assert _left(engine) == {"ha_sample": kept, "ha_latest": kept}
    finally:
        engine.dispose()
