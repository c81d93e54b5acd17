"""Create ha_sample and ha_latest.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-22

The tables exactly as in ceilometer_ha/storage/models.py at this
revision; later revisions change them step by step.
"""

import typing

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

PreciseDateTime = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")
MetadataText = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql")
Volume = sa.Float(precision=53)
TABLE_ARGS: dict[str, typing.Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4"}


def upgrade() -> None:
    op.create_table(
        "ha_sample",
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
        **TABLE_ARGS,
    )
    op.create_index(
        "ix_ha_sample_host_meter_ts",
        "ha_sample",
        ["host", "meter", "timestamp"],
    )
    op.create_index(
        "ix_ha_sample_recorded_at", "ha_sample", ["recorded_at"]
    )
    op.create_table(
        "ha_latest",
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
        **TABLE_ARGS,
    )
    op.create_index("ix_ha_latest_cluster", "ha_latest", ["cluster"])
    op.create_index("ix_ha_latest_meter", "ha_latest", ["meter"])
    op.create_index(
        "ix_ha_latest_recorded_at", "ha_latest", ["recorded_at"]
    )


def downgrade() -> None:
    op.drop_table("ha_latest")
    op.drop_table("ha_sample")
