"""``ceilometer-ha status``: the health verdict of every host and cluster.

Exit codes, for scripts (documented in doc/health.rst):

* 0: the observer can judge and no host is ``failed`` or ``stale``;
* 1: the observer can judge and at least one shown host is ``failed``
  or ``stale``;
* 2: usage error (argparse);
* 3: the observer cannot judge (no hosts, all stale, stale cliff);
* 4: error: configuration or database unreadable, or ``--host`` /
  ``--cluster`` names nothing that ever reported (also when no host
  ever did).

With ``--watch`` the code is that of the last report shown.
"""

import argparse
import json
import sys
import time

from oslo_config import cfg
import sqlalchemy as sa

from ceilometer_ha import opts
from ceilometer_ha.cmd import conf_files
from ceilometer_ha.health import judge
from ceilometer_ha.health import model
from ceilometer_ha.health import reader
from ceilometer_ha.health import render
from ceilometer_ha.health import settings as health_settings
from ceilometer_ha.storage import db_errors
from ceilometer_ha.storage import engine as engine_mod

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CANNOT_JUDGE = 3
EXIT_ERROR = 4


# Seconds between two reports with --watch: at most a day.
MAX_WATCH = 86400.0


def _watch(text: str) -> float:
    value = float(text)
    if not 0 < value <= MAX_WATCH:  # refuses nan and inf too
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {MAX_WATCH:g} seconds"
        )
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    conf_files.add_arguments(
        parser, "[database] connection and [health] options"
    )
    parser.add_argument("--cluster", help="Show only this cluster.")
    parser.add_argument("--host", help="Show only this host, with evidence.")
    parser.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table for people (default), json for programs.",
    )
    parser.add_argument(
        "--watch",
        type=_watch,
        metavar="SECONDS",
        help="Redraw every SECONDS until interrupted (Ctrl-C).",
    )
    parser.add_argument(
        "--count",
        type=_count,
        metavar="N",
        help="With --watch, stop after N reports.",
    )


def exit_code(report: model.Report) -> int:
    """The exit code of a (possibly filtered) report; see module doc."""
    if not report.can_judge:
        return EXIT_CANNOT_JUDGE
    bad = {model.FAILED, model.STALE}
    if any(v.verdict in bad for v in report.hosts):
        return EXIT_FAILED
    return EXIT_OK


def _load(
    args: argparse.Namespace,
) -> tuple[str, health_settings.HealthSettings]:
    conf = conf_files.load(
        args, opts.register_database_opts, opts.register_health_opts
    )
    return conf_files.database_url(args, conf), health_settings.from_conf(conf)


def _nothing(report, args: argparse.Namespace) -> str:
    """Why ``--host``/``--cluster`` chose no host of ``report``."""
    if not args.host:
        return f"cluster {args.cluster}: no such cluster"
    where = [v.cluster for v in report.hosts if v.host == args.host]
    if where:
        return f"host {args.host} is in cluster {where[0]}, not {args.cluster}"
    return f"host {args.host}: no such host"


def _show(engine, settings, args, colour: bool) -> int:
    explain = [args.host] if args.host else []
    report = judge.judge(engine, settings, explain=explain)
    filtered = judge.filter_report(report, args.cluster, args.host)
    # Also on a database without any host: a name that matches nothing
    # is a mistake, not the blind observer of exit 3 (no_hosts).
    named = args.host is not None or args.cluster is not None
    if named and not filtered.hosts:
        sys.stderr.write(f"ceilometer-ha status: {_nothing(report, args)}\n")
        return EXIT_ERROR
    report = filtered
    if args.format == "json":
        indent = None if args.watch else 2
        sys.stdout.write(json.dumps(report.to_dict(), indent=indent) + "\n")
    else:
        if args.watch and colour:
            sys.stdout.write("\x1b[H\x1b[2J")
        sys.stdout.write(
            render.render_table(report, colour, evidence=bool(args.host))
        )
    sys.stdout.flush()
    return exit_code(report)


def run(args: argparse.Namespace) -> int:
    try:
        url, settings = _load(args)
        engine = engine_mod.create_engine(url)
    except (cfg.Error, ValueError, sa.exc.ArgumentError, ImportError) as exc:
        why = conf_files.why(exc)
        sys.stderr.write(f"ceilometer-ha status: configuration: {why}\n")
        return EXIT_ERROR
    # A reader of a SQLite database in WAL mode writes its -shm file:
    # said here rather than as "attempt to write a readonly database".
    missing = engine_mod.sqlite_missing(url) or engine_mod.sqlite_file_problem(
        url
    )
    if missing:
        engine.dispose()
        sys.stderr.write(f"ceilometer-ha status: database: {missing}\n")
        return EXIT_ERROR
    colour = sys.stdout.isatty()
    shown, code = 0, EXIT_ERROR
    try:
        while True:
            code = _show(engine, settings, args, colour)
            shown += 1
            if not args.watch or (args.count and shown >= args.count):
                return code
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return code
    except (sa.exc.SQLAlchemyError, reader.SummaryTooLongError) as exc:
        # A statement's timeout, not the failed ROLLBACK after it.
        reason = db_errors.reason(exc, engine)
        hint = ""
        if db_errors.schema_gone(reason):
            hint = (
                " (the tables are missing or older than this "
                "ceilometer-ha: run ceilometer-ha dbsync)"
            )
        sys.stderr.write(f"ceilometer-ha status: database: {reason}{hint}\n")
        return EXIT_ERROR
    finally:
        engine.dispose()
