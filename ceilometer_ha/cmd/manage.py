"""``ceilometer-ha``: the operator's command, one module per subcommand.

Each subcommand module provides ``add_arguments(parser)`` and
``run(args) -> int``; it is imported only when chosen, so ``status`` does
not load the collector and ``dbsync`` does not load the verdicts.

An exception a subcommand does not handle is printed and exits 4, the
subcommands' "error", never Python's 1: to ``status`` 1 means that a
host failed, which an HA engine acts on.
"""

import argparse
import importlib
import sys
import traceback

EXIT_UNEXPECTED = 4

SUBCOMMANDS = {
    "dbsync": (
        "ceilometer_ha.cmd.dbsync",
        "Create or upgrade the database schema.",
    ),
    "status": (
        "ceilometer_ha.cmd.status",
        "Show the health verdict of every host and cluster.",
    ),
    "check-config": (
        "ceilometer_ha.cmd.check_config",
        "Check configuration files for mistakes.",
    ),
    "expire": (
        "ceilometer_ha.cmd.expire",
        "Delete the samples older than the TTL, once.",
    ),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ceilometer-ha")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True
    )
    chosen = next((a for a in argv if a in SUBCOMMANDS), None)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(
            name, help=help_text, description=help_text
        )
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(sub_parser)
            sub_parser.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Named before the parser imports its module, which may fail too.
    command = next((a for a in argv if a in SUBCOMMANDS), "")
    try:
        args = build_parser(argv).parse_args(argv)
        return args.run(args)
    except Exception:
        traceback.print_exc()
        sys.stderr.write(
            f"ceilometer-ha {command}: unexpected error (above), "
            f"exit code {EXIT_UNEXPECTED}\n"
        )
        return EXIT_UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())
