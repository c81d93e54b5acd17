"""SQLite: index only the loss samples of each host's history.

Revision ID: 0002_sqlite_loss_index
Revises: 0001_initial
Create Date: 2026-11-22

On SQLite, ``ix_ha_sample_host_meter_ts (host, meter, timestamp)`` is
replaced by the partial index ``ix_ha_sample_loss_host_ts (host,
timestamp) WHERE meter = 'ha.storage.loss'``: the verdicts read only
those samples from history, and maintaining an entry for every sample
of every meter cost the writer about as much as everything else it does
once the table held a few hundred thousand rows. MySQL and MariaDB have
no partial indexes; their schema is unchanged.
"""

from alembic import op
import sqlalchemy as sa

revision = "0002_sqlite_loss_index"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

LOSS_INDEX_WHERE = "meter = 'ha.storage.loss'"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index(
        "ix_ha_sample_loss_host_ts",
        "ha_sample",
        ["host", "timestamp"],
        sqlite_where=sa.text(LOSS_INDEX_WHERE),
    )
    op.drop_index("ix_ha_sample_host_meter_ts", table_name="ha_sample")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index(
        "ix_ha_sample_host_meter_ts",
        "ha_sample",
        ["host", "meter", "timestamp"],
    )
    op.drop_index("ix_ha_sample_loss_host_ts", table_name="ha_sample")
