"""TTL expiry by the collector's own clock, in bounded batches.

Rows whose ``recorded_at`` (set by the collector on receipt, never by the
sender) is older than the TTL are deleted from ``ha_sample`` and from
``ha_latest``, so a decommissioned host disappears from the latest state.
Each statement deletes at most ``batch_size`` rows (MySQL ``DELETE ...
LIMIT``; SQLite by a rowid subquery) and commits, so no delete holds its
locks for long against the writer.
"""

import datetime

from oslo_log import log
import sqlalchemy as sa

from ceilometer_ha.storage import models

LOG = log.getLogger(__name__)
# A bound on statements per table and run: at the default batch size
# 5,000,000 rows, far above any backlog a collector builds between runs.
MAX_STATEMENTS = 1000


def _delete_statement(dialect: str, table: sa.Table) -> sa.TextClause:
    # Table names come from models, never from input.
    name = table.name
    if dialect == "mysql":
        sql = "DELETE FROM %s WHERE recorded_at < :cutoff LIMIT :n" % name  # noqa: S608, UP031
    else:
        sql = (
            "DELETE FROM %s WHERE rowid IN (SELECT rowid FROM %s"  # noqa: S608, UP031
            " WHERE recorded_at < :cutoff LIMIT :n)" % (name, name)
        )
    cutoff = sa.bindparam("cutoff", type_=table.c.recorded_at.type)
    return sa.text(sql).bindparams(cutoff)


def expire(
    engine: sa.engine.Engine,
    cutoff: datetime.datetime,
    batch_size: int,
) -> dict[str, int]:
    """Delete rows recorded before ``cutoff``; return counts per table."""
    deleted: dict[str, int] = {}
    for table in (models.sample, models.latest):
        statement = _delete_statement(engine.dialect.name, table)
        total = 0
        for _ in range(MAX_STATEMENTS):
            with engine.begin() as conn:
                count = conn.execute(
                    statement, {"cutoff": cutoff, "n": batch_size}
                ).rowcount
            total += count
            if count < batch_size:
                break
        deleted[table.name] = total
    return deleted


def expire_older_than(
    engine: sa.engine.Engine,
    ttl: float,
    batch_size: int,
    now: datetime.datetime,
) -> dict[str, int]:
    """Delete rows recorded more than ``ttl`` seconds before ``now``.

    A ``ttl`` of 0 or less keeps every row (``[database]
    metering_time_to_live``): nothing is deleted.
    """
    if ttl <= 0:
        return {models.sample.name: 0, models.latest.name: 0}
    cutoff = now - datetime.timedelta(seconds=ttl)
    deleted = expire(engine, cutoff, batch_size)
    if any(deleted.values()):
        LOG.info(
            "Expired %d samples and %d latest rows recorded before %s",
            deleted[models.sample.name],
            deleted[models.latest.name],
            cutoff.isoformat(),
        )
    return deleted
