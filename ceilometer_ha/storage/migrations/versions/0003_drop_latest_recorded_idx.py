"""Drop ha_latest's index on recorded_at.

Revision ID: 0003_drop_latest_recorded_idx
Revises: 0002_sqlite_loss_index
Create Date: 2026-12-01

Every sample moves the ``recorded_at`` of its ``ha_latest`` row, so
``ix_ha_latest_recorded_at`` had an entry deleted and inserted for
every sample written (about a tenth of MariaDB's CPU per sample, and of
SQLite's work in the writer). Its only reader was the TTL expiry, which
runs on a timer over a table of one row per (host, meter, resource_id)
and now scans it; no documented query of an HA engine filters
``ha_latest`` by ``recorded_at``. ``ha_sample`` keeps its own
``recorded_at`` index, which the expiry of that large table needs.
"""

from alembic import op

revision = "0003_drop_latest_recorded_idx"
down_revision = "0002_sqlite_loss_index"
branch_labels = None
depends_on = None

INDEX = "ix_ha_latest_recorded_at"


def upgrade() -> None:
    op.drop_index(INDEX, table_name="ha_latest")


def downgrade() -> None:
    op.create_index(INDEX, "ha_latest", ["recorded_at"])
