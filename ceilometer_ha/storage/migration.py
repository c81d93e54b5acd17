"""Schema versions: alembic, configured in code, shipped in the package.

``upgrade`` brings a database to the newest revision (``ceilometer-ha
dbsync``); ``check_current`` is what the collector calls at start-up: it
never migrates by itself, so that two controllers starting at once never
race on DDL and an operator decides when the schema changes. The version
is kept in ``ha_alembic_version``, not alembic's default table, so the
schema can live in a database shared with other alembic-managed services.
"""

import pathlib
import re

from alembic import command
from alembic import config as alembic_config
from alembic import script as alembic_script
from alembic.runtime import migration as alembic_migration
import sqlalchemy as sa

VERSION_TABLE = "ha_alembic_version"
SCRIPT_LOCATION = str(pathlib.Path(__file__).parent / "migrations")
# An alembic revision relative to another (``+1``, ``head-1``).
_RELATIVE = re.compile(r"[+-]\d+$")


class SchemaError(Exception):
    """The database schema is missing, older or newer than this code, or
    an upgrade was asked to a revision older than the database's."""


def _config(engine: sa.engine.Engine | None = None) -> alembic_config.Config:
    cfg = alembic_config.Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.attributes["engine"] = engine
    return cfg


def _scripts() -> alembic_script.ScriptDirectory:
    return alembic_script.ScriptDirectory.from_config(_config())


def head_revision() -> str:
    """The newest revision this code knows."""
    head = _scripts().get_current_head()
    assert head is not None
    return head


def known_revisions() -> list[str]:
    """The revisions this code knows, oldest first (one line of them)."""
    return [script.revision for script in _scripts().walk_revisions()][::-1]


def _newer_than_known(current: str) -> str:
    return (
        f"the database schema is at revision {current}, which this "
        f"ceilometer-ha does not know (its newest is {head_revision()}): "
        "the database was upgraded by a newer ceilometer-ha; upgrade "
        "ceilometer-ha on this host"
    )


def current_revision(engine: sa.engine.Engine) -> str | None:
    """The revision recorded in the database, None if never migrated."""
    with engine.connect() as conn:
        context = alembic_migration.MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}
        )
        return context.get_current_revision()


# The schema's tables (``storage.models``), which a recorded revision
# promises.
TABLES = ("ha_sample", "ha_latest")


def missing_tables(engine: sa.engine.Engine) -> list[str]:
    """The schema's tables the database does not hold."""
    with engine.connect() as conn:
        present = set(sa.inspect(conn).get_table_names())
    return [name for name in TABLES if name not in present]


def _recorded_but_missing(current: str, missing: list[str]) -> str:
    return (
        f"the database records schema revision {current}, but its "
        f"table(s) {', '.join(missing)} are missing (dropped by hand?)"
    )


def upgrade(engine: sa.engine.Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision``.

    Raises ``SchemaError`` when the database is at a revision this code
    does not know (a newer ceilometer-ha upgraded it) or at one later
    than ``revision``: this only upgrades. An unknown ``revision``
    raises alembic's ``CommandError``. A database that records a
    revision but holds none of the tables is created anew (there is no
    data to keep); one that holds only some of them is a
    ``SchemaError``.
    """
    current = current_revision(engine)
    known = known_revisions()
    if current is not None and current not in known:
        raise SchemaError(_newer_than_known(current))
    if current is not None:
        missing = missing_tables(engine)
        if missing == list(TABLES):
            command.stamp(_config(engine), "base")
            current = None
        elif missing:
            raise SchemaError(
                f"{_recorded_but_missing(current, missing)}: drop the "
                f"others and the {VERSION_TABLE} table too, then run "
                "dbsync again to create the schema anew"
            )
    # Relative targets (+1, head-1) are alembic's to resolve from the
    # current revision; it refuses those that would go down.
    absolute = revision not in ("head", "heads") and not _RELATIVE.search(
        revision
    )
    if current is not None and absolute:
        target = _scripts().get_revision(revision)
        wanted = None if target is None else target.revision
        if wanted is None or known.index(wanted) < known.index(current):
            raise SchemaError(
                f"the database schema is at revision {current}, later "
                f"than {wanted or 'base'}: dbsync only upgrades"
            )
    command.upgrade(_config(engine), revision)


def check_current(engine: sa.engine.Engine) -> None:
    """Raise ``SchemaError`` unless the schema is at the head revision."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        missing = missing_tables(engine)
        if missing:
            raise SchemaError(
                f"{_recorded_but_missing(current, missing)}: run "
                "ceilometer-ha dbsync --config-file <the same file>"
            )
        return
    if current is not None and current not in known_revisions():
        raise SchemaError(_newer_than_known(current))
    state = "missing" if current is None else f"at revision {current}"
    raise SchemaError(
        f"the database schema is {state}, this ceilometer-ha needs {head}: "
        "run ceilometer-ha dbsync --config-file <the same file>"
    )
