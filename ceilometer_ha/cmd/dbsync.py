"""``ceilometer-ha dbsync``: create or upgrade the database schema.

Safe to run again: an up-to-date schema is left as it is. The collector
refuses to start on a missing or older schema and names this command.
It only upgrades: a database at a revision later than ``--revision``,
or at one this code does not know (a newer ceilometer-ha upgraded it),
is an error. Exit codes: 0 the schema is at the revision asked for; 2
usage error (argparse); 4 configuration, database, schema or revision
error, said in one line on standard error (4 as for the other
subcommands).
"""

import argparse
import sys

from alembic import util as alembic_util
from oslo_config import cfg
import sqlalchemy as sa

from ceilometer_ha import opts
from ceilometer_ha.cmd import conf_files
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


EXIT_ERROR = 4
PROG = "ceilometer-ha dbsync"


def run(args: argparse.Namespace) -> int:
    try:
        conf = conf_files.load(args, opts.register_database_opts)
        engine = engine_mod.create_engine(
            conf.database.connection, io_timeouts=False
        )
    except (cfg.Error, ValueError, sa.exc.ArgumentError, ImportError) as exc:
        sys.stderr.write(f"{PROG}: configuration: {conf_files.why(exc)}\n")
        return EXIT_ERROR
    problem = engine_mod.sqlite_file_problem(conf.database.connection)
    if problem:
        engine.dispose()
        sys.stderr.write(f"{PROG}: database: {problem}\n")
        return EXIT_ERROR
    try:
        before = migration.current_revision(engine)
        migration.upgrade(engine, args.revision)
        after = migration.current_revision(engine)
    except sa.exc.SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        sys.stderr.write(f"{PROG}: database: {reason}\n")
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
