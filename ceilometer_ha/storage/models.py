"""The database schema: a public interface read by HA engines.

Two tables, documented in doc/schema.rst and changed only through alembic
migrations (``ceilometer-ha dbsync``):

``ha_sample``
    Every accepted sample, once: ``message_id`` is the primary key, so
    duplicates from several collectors or retries are stored once. Rows
    expire by ``recorded_at``, the collector's own clock.

``ha_latest``
    The latest sample of every (host, meter, resource_id), kept current by
    the writer in the same transaction as the insert, so that "latest state
    of every host" is one indexed read. ``streak`` counts the consecutive
    samples of that resource with the same volume and ``since`` is the
    timestamp of the first of them: a storage address that has been
    unreachable for three cycles has ``volume`` 0, ``streak`` 3, and
    ``since`` the time of the first failed cycle. A sample older than or
    as old as the stored one leaves the row alone (duplicates and late
    datagrams never move the state backwards), unless it was recorded
    more than ``statements.CLOCK_STEP_GRACE`` seconds after it (a host
    whose clock was stepped back).

Times are UTC, naive, with microseconds.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

# DATETIME(6) on MySQL/MariaDB keeps microseconds; elsewhere plain DateTime.
PreciseDateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")
# Resource metadata is JSON text; MEDIUMTEXT on MySQL so that no accepted
# datagram (up to 64 KiB) is ever truncated.
MetadataText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")
Volume = sa.Float(precision=53)
# The condition of SQLite's partial history index; a query that says it
# (``meter = 'ha.storage.loss'``, or that value bound) can use the index.
LOSS_METER = "ha.storage.loss"
LOSS_INDEX_WHERE = f"meter = '{LOSS_METER}'"
# The history index of ha_sample, by dialect (see below).
HISTORY_INDEX = {
    "mysql": "ix_ha_sample_host_meter_ts",
    "sqlite": "ix_ha_sample_loss_host_ts",
}

metadata = sa.MetaData()

sample = sa.Table(
    "ha_sample",
    metadata,
    sa.Column("message_id", sa.String(64), primary_key=True),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("cluster", sa.String(255), nullable=False),
    sa.Column("meter", sa.String(255), nullable=False),
    sa.Column("resource_id", sa.String(255), nullable=False),
    sa.Column("volume", Volume, nullable=False),
    sa.Column("unit", sa.String(255), nullable=False),
    sa.Column("timestamp", PreciseDateTime, nullable=False),
    sa.Column("recorded_at", PreciseDateTime, nullable=False),
    sa.Column("source", sa.String(255), nullable=False),
    sa.Column("resource_metadata", MetadataText, nullable=False),
    # The history of one host. On SQLite only the loss samples that the
    # verdicts' hysteresis reads are indexed (a partial index); every
    # other meter's entry would cost the writer as much again.
    sa.Index(HISTORY_INDEX["mysql"], "host", "meter", "timestamp").ddl_if(
        dialect="mysql"
    ),
    sa.Index(
        HISTORY_INDEX["sqlite"],
        "host",
        "timestamp",
        sqlite_where=sa.text(LOSS_INDEX_WHERE),
    ).ddl_if(dialect="sqlite"),
    sa.Index("ix_ha_sample_recorded_at", "recorded_at"),
    mysql_engine="InnoDB",
    mysql_charset="utf8mb4",
)

latest = sa.Table(
    "ha_latest",
    metadata,
    sa.Column("host", sa.String(255), primary_key=True),
    sa.Column("meter", sa.String(255), primary_key=True),
    sa.Column("resource_id", sa.String(255), primary_key=True),
    sa.Column("cluster", sa.String(255), nullable=False),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("volume", Volume, nullable=False),
    sa.Column("unit", sa.String(255), nullable=False),
    sa.Column("timestamp", PreciseDateTime, nullable=False),
    sa.Column("recorded_at", PreciseDateTime, nullable=False),
    sa.Column("streak", sa.Integer, nullable=False),
    sa.Column("since", PreciseDateTime, nullable=False),
    sa.Column("resource_metadata", MetadataText, nullable=False),
    sa.Index("ix_ha_latest_cluster", "cluster"),
    sa.Index("ix_ha_latest_meter", "meter"),
    # No index on recorded_at (revision 0003): every sample moves it, and
    # the expiry scans this table of one row per key.
    mysql_engine="InnoDB",
    mysql_charset="utf8mb4",
)
