"""Alembic environment: runs on the engine handed over by migration.py.

Every upgrade is one transaction, so that a failed ``dbsync`` leaves the
schema as it found it. MySQL and MariaDB commit each DDL statement by
themselves: there a failure leaves the revisions done before it, each
recorded. SQLite can roll DDL back, but Python's sqlite3 opens no
transaction before DDL: it is opened here, ``BEGIN IMMEDIATE`` so that
a second ``dbsync`` waits (the busy timeout) and then reads the
revision the first one recorded.
"""

from alembic import context

from ceilometer_ha.storage import migration
from ceilometer_ha.storage import models


def run_migrations_online() -> None:
    engine = context.config.attributes["engine"]
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        context.configure(
            connection=conn,
            target_metadata=models.metadata,
            version_table=migration.VERSION_TABLE,
        )
        context.run_migrations()


run_migrations_online()
