"""``ceilometer-ha dbsync``: create or upgrade the database schema.

Safe to run again: an up-to-date schema is left as it is. The collector
refuses to start on a missing or older schema and names this command.
"""

import argparse
import sys

from oslo_config import cfg

from ceilometer_ha import opts
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import migration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config-file",
        required=True,
        action="append",
        help="ceilometer_ha.conf whose [database] connection is used; "
        "may be given more than once, later files win.",
    )
    parser.add_argument(
        "--revision",
        default="head",
        help="Alembic revision to upgrade to (default: head).",
    )


def run(args: argparse.Namespace) -> int:
    conf = cfg.ConfigOpts()
    opts.register_database_opts(conf)
    argv: list[str] = []
    for path in args.config_file:
        argv += ["--config-file", path]
    conf(argv, project="ceilometer", default_config_files=[])
    engine = engine_mod.create_engine(
        conf.database.connection, io_timeouts=False
    )
    try:
        before = migration.current_revision(engine)
        migration.upgrade(engine, args.revision)
        after = migration.current_revision(engine)
    finally:
        engine.dispose()
    sys.stdout.write(f"database schema: {before or 'none'} -> {after}\n")
    return 0
