"""Alembic environment: runs on the engine handed over by migration.py."""

from alembic import context

from ceilometer_ha.storage import migration
from ceilometer_ha.storage import models


def run_migrations_online() -> None:
    engine = context.config.attributes["engine"]
    with engine.begin() as conn:
        context.configure(
            connection=conn,
            target_metadata=models.metadata,
            version_table=migration.VERSION_TABLE,
        )
        context.run_migrations()


run_migrations_online()
