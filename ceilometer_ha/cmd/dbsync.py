"""``ceilometer-ha dbsync``: create or upgrade the database schema.

Safe to run again: an up-to-date schema is left as it is. The collector
refuses to start on a missing or older schema and names this command.
It only upgrades: a database at a revision later than ``--revision``,
or at one this code does not know (a newer ceilometer-ha upgraded it),
is an error. On MySQL/MariaDB a schema change waits at most
``--lock-wait-timeout`` seconds for a table's metadata lock, and one
that gives up names the open transactions. Exit codes: 0 the schema is
at the revision asked for; 2 usage error (argparse); 4 configuration,
database, schema or revision error, said in one line on standard error
(4 as for the other subcommands).
"""

import argparse
import sys

from alembic import util as alembic_util
from oslo_config import cfg
import sqlalchemy as sa

from ceilometer_ha import opts
from ceilometer_ha.cmd import conf_files
from ceilometer_ha.storage import db_errors
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import migration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    conf_files.add_arguments(
        parser, "[database] connection", required=True, database_url=False
    )
    parser.add_argument(
        "--revision",
        default="head",
        help="Alembic revision to upgrade to (default: head).",
    )
    parser.add_argument(
        "--lock-wait-timeout",
        type=_seconds,
        default=LOCK_WAIT_TIMEOUT,
        metavar="SECONDS",
        help="MySQL/MariaDB: how long a schema change may wait for a "
        "table's metadata lock before dbsync gives up (default: "
        f"{LOCK_WAIT_TIMEOUT}); the collectors' writes queue behind it "
        "meanwhile.",
    )


def _seconds(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


EXIT_ERROR = 4
PROG = "ceilometer-ha dbsync"
# Seconds a schema change waits for a table's metadata lock (MySQL's
# lock_wait_timeout, a day by default). Any transaction left open on a
# table holds that lock (an HA engine's reader that never commits), and
# once a change waits for it, every other statement on the table waits
# behind the change: the collectors' writes and the verdicts' reads.
LOCK_WAIT_TIMEOUT = 30
# MySQL's "Lock wait timeout exceeded".
_LOCK_WAIT_TIMEOUT_ERROR = 1205


def run(args: argparse.Namespace) -> int:
    try:
        conf = conf_files.load(args, opts.register_database_opts)
        engine = engine_mod.create_engine(
            conf.database.connection, io_timeouts=False
        )
    except (cfg.Error, ValueError, sa.exc.ArgumentError, ImportError) as exc:
        sys.stderr.write(f"{PROG}: configuration: {conf_files.why(exc)}\n")
        return EXIT_ERROR
    if engine.dialect.name == "mysql":
        _limit_lock_waits(engine, args.lock_wait_timeout)
    problem = engine_mod.sqlite_file_problem(conf.database.connection)
    if problem:
        engine.dispose()
        sys.stderr.write(f"{PROG}: database: {problem}\n")
        return EXIT_ERROR
    try:
        before = migration.current_revision(engine)
        if before is not None and migration.missing_tables(engine):
            before += " (tables missing)"
        migration.upgrade(engine, args.revision)
        after = migration.current_revision(engine)
    except sa.exc.SQLAlchemyError as exc:
        error = db_errors.reason(exc, engine)
        said = str(error)
        if db_errors.mysql_code(error) == _LOCK_WAIT_TIMEOUT_ERROR:
            said = _lock_holders(engine, args.lock_wait_timeout, error)
        sys.stderr.write(f"{PROG}: database: {said}\n")
        return EXIT_ERROR
    except migration.SchemaError as exc:
        sys.stderr.write(f"{PROG}: schema: {exc}\n")
        return EXIT_ERROR
    except alembic_util.CommandError as exc:  # an unknown --revision
        sys.stderr.write(f"{PROG}: revision: {exc}\n")
        return EXIT_ERROR
    finally:
        engine.dispose()
    sys.stdout.write(f"database schema: {before or 'none'} -> {after}\n")
    return 0


def _limit_lock_waits(engine: sa.engine.Engine, seconds: int) -> None:
    def limit(dbapi_conn, _record) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute(f"SET SESSION lock_wait_timeout = {int(seconds)}")
        cursor.close()

    sa.event.listen(engine, "connect", limit)


# Transactions open on the server, oldest first, but this session's.
_OPEN_TRANSACTIONS = sa.text(
    "SELECT t.trx_mysql_thread_id, p.USER, p.HOST, p.DB, "
    "TIMESTAMPDIFF(SECOND, t.trx_started, NOW()) "
    "FROM information_schema.INNODB_TRX t "
    "LEFT JOIN information_schema.PROCESSLIST p "
    "ON p.ID = t.trx_mysql_thread_id "
    "WHERE t.trx_mysql_thread_id <> CONNECTION_ID() "
    "ORDER BY t.trx_started"
)


def _lock_holders(
    engine: sa.engine.Engine, seconds: int, error: BaseException
) -> str:
    """The lock wait ``error``, with the open transactions that may hold
    the lock (as far as this user may see them) and what to do."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(_OPEN_TRANSACTIONS).all()
    except sa.exc.SQLAlchemyError:
        rows = []
    held = "; ".join(
        f"session {thread} ({user}@{host}, database {db}, open {age} s)"
        for thread, user, host, db, age in rows
    )
    return (
        f"{error}: a schema change waited {seconds} s for a table's "
        "metadata lock, which a transaction left open on the table holds "
        "(an HA engine's reader that never commits?)"
        + (f"; open transactions: {held}" if held else "")
        + "; end it, or run dbsync again with a longer --lock-wait-timeout"
    )
