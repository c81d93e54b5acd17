"""``ceilometer-ha expire``: delete the samples older than the TTL, once.

The collectors expire samples on a timer (``[collector]
expiry_interval``); this runs the same expiry once, by hand or from
cron: after the collectors were stopped for long, for a deployment
whose collectors keep samples forever and leave expiry to a cron job,
or with ``--ttl`` to shrink the database once. Rows go by the
collector's ``recorded_at`` clock, against the cutoff this host's clock
gives (keep it in time with the collectors', NTP), in statements of
``[collector] expiry_batch_size`` rows that each commit, so running
collectors keep writing meanwhile.

Exit codes: 0 the expiry ran (also when nothing was old enough); 2
usage error (argparse); 3 the TTL keeps every sample
(``metering_time_to_live`` <= 0 and no ``--ttl``): nothing was deleted;
4 configuration, database or schema error.
"""

import argparse
import sys

from oslo_config import cfg
import sqlalchemy as sa

from ceilometer_ha import opts
from ceilometer_ha import wire
from ceilometer_ha.cmd import conf_files
from ceilometer_ha.storage import db_errors
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import expiry
from ceilometer_ha.storage import migration
from ceilometer_ha.storage import models

EXIT_OK = 0
EXIT_KEEPS_ALL = 3
EXIT_ERROR = 4
PROG = "ceilometer-ha expire"


def _ttl(text: str) -> float:
    value = float(text)
    # The bound of [database] metering_time_to_live; refuses nan, inf.
    if not 0 < value <= opts.MAX_TIME_TO_LIVE:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {opts.MAX_TIME_TO_LIVE} "
            "(a century)"
        )
    return value


def _seconds(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:g}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    conf_files.add_arguments(
        parser,
        "[database] connection and metering_time_to_live and [collector] "
        "expiry_batch_size",
    )
    parser.add_argument(
        "--ttl",
        type=_ttl,
        metavar="SECONDS",
        help="Delete what was recorded more than SECONDS ago; overrides "
        "[database] metering_time_to_live.",
    )


def _load(args: argparse.Namespace) -> tuple[str, float, int]:
    conf = conf_files.load(args, opts.register_collector_opts)
    ttl = args.ttl or conf.database.metering_time_to_live
    url = conf_files.database_url(args, conf)
    return url, ttl, conf.collector.expiry_batch_size


def _error(what: str, reason: object) -> int:
    sys.stderr.write(f"{PROG}: {what}: {reason}\n")
    return EXIT_ERROR


def run(args: argparse.Namespace) -> int:
    try:
        url, ttl, batch_size = _load(args)
        engine = engine_mod.create_engine(url)
    except (cfg.Error, ValueError, sa.exc.ArgumentError, ImportError) as exc:
        return _error("configuration", conf_files.why(exc))
    # Neither SQLite's empty new file (the service user could not open
    # it, were this run as root) nor a directory it could not write.
    problem = engine_mod.sqlite_file_problem(url) or engine_mod.sqlite_missing(
        url
    )
    if problem:
        engine.dispose()
        return _error("database", problem)
    if ttl <= 0:
        engine.dispose()
        sys.stderr.write(
            f"{PROG}: [database] metering_time_to_live is "
            f"{_seconds(ttl)}: samples are kept forever, nothing deleted "
            "(give --ttl SECONDS to expire anyway)\n"
        )
        return EXIT_KEEPS_ALL
    try:
        migration.check_current(engine)
        now = wire.utcnow()
        deleted = expiry.expire_older_than(engine, ttl, batch_size, now)
    except migration.SchemaError as exc:
        return _error("schema", exc)
    except sa.exc.SQLAlchemyError as exc:
        return _error("database", db_errors.reason(exc, engine))
    finally:
        engine.dispose()
    samples = deleted[models.sample.name]
    sys.stdout.write(
        f"deleted {samples} samples and {deleted[models.latest.name]} "
        f"latest rows recorded more than {_seconds(ttl)} s before "
        f"{now.isoformat(sep=' ', timespec='seconds')} UTC\n"
    )
    if samples >= expiry.MAX_STATEMENTS * batch_size:
        sys.stdout.write("more may be left: run it again\n")
    return EXIT_OK
