"""Schema versions: alembic, configured in code, shipped in the package.

``upgrade`` brings a database to the newest revision (``ceilometer-ha
dbsync``); ``check_current`` is what the collector calls at start-up: it
never migrates by itself, so that two controllers starting at once never
race on DDL and an operator decides when the schema changes. The version
is kept in ``ha_alembic_version``, not alembic's default table, so the
schema can live in a database shared with other alembic-managed services.
"""

import pathlib

from alembic import command
from alembic import config as alembic_config
from alembic import script as alembic_script
from alembic.runtime import migration as alembic_migration
import sqlalchemy as sa

VERSION_TABLE = "ha_alembic_version"
SCRIPT_LOCATION = str(pathlib.Path(__file__).parent / "migrations")


class SchemaError(Exception):
    """The database schema is missing or older than this code."""


def _config(engine: sa.engine.Engine | None = None) -> alembic_config.Config:
    cfg = alembic_config.Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    """The newest revision this code knows."""
    scripts = alembic_script.ScriptDirectory.from_config(_config())
    head = scripts.get_current_head()
    assert head is not None
    return head


def current_revision(engine: sa.engine.Engine) -> str | None:
    """The revision recorded in the database, None if never migrated."""
    with engine.connect() as conn:
        context = alembic_migration.MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}
        )
        return context.get_current_revision()


def upgrade(engine: sa.engine.Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision``."""
    command.upgrade(_config(engine), revision)


def check_current(engine: sa.engine.Engine) -> None:
    """Raise ``SchemaError`` unless the schema is at the head revision."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    state = "missing" if current is None else f"at revision {current}"
    raise SchemaError(
        f"the database schema is {state}, this collector needs {head}: "
        "run ceilometer-ha dbsync --config-file <the same file>"
    )
