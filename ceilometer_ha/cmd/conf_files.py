"""The configuration files of the ``ceilometer-ha`` subcommands.

Each subcommand reads the options it needs from ``--config-file`` (given
once or more, later files win; nothing else is read) and, where it
reads the database, ``--database-url`` overrides ``[database]
connection``. A group it reads that is misspelt in a file (``[helth]``),
or an option of such a group that looks like a misspelt one of its own
(``stale_cyles``), is an error: oslo.config would ignore it and the
subcommand run on the default without a word (an HA engine's
thresholds, the database dbsync builds).
"""

import argparse
import collections.abc

from oslo_config import cfg

from ceilometer_ha import config_errors


class ConfigNameError(ValueError):
    """A group or option name the subcommand would silently ignore."""


def add_arguments(
    parser: argparse.ArgumentParser,
    holds: str,
    required: bool = False,
    database_url: bool = True,
) -> None:
    """``--config-file`` (its files hold ``holds``), ``--database-url``."""
    parser.add_argument(
        "--config-file",
        action="append",
        required=required,
        default=None if required else [],
        help=f"ceilometer_ha.conf with {holds}; may be given more than "
        "once, later files win.",
    )
    if database_url:
        parser.add_argument(
            "--database-url",
            help="SQLAlchemy URL of the database; overrides [database] "
            "connection.",
        )


def load(
    args: argparse.Namespace,
    *register: collections.abc.Callable[[cfg.ConfigOpts], None],
) -> cfg.ConfigOpts:
    """The files of ``--config-file`` with the options ``register`` adds."""
    conf = cfg.ConfigOpts()
    for add in register:
        add(conf)
    argv: list[str] = []
    for path in args.config_file:
        argv += ["--config-file", path]
    # Only the files given: no ceilometer.conf, no conf.d directory.
    conf(
        argv,
        project="ceilometer",
        default_config_files=[],
        default_config_dirs=[],
    )
    problems = config_errors.misread_names(conf, args.config_file)
    if problems:
        raise ConfigNameError("; ".join(problems))
    return conf


def database_url(args: argparse.Namespace, conf: cfg.ConfigOpts) -> str:
    """``--database-url`` if given, else ``[database] connection``."""
    return args.database_url or conf.database.connection


def why(exc: BaseException) -> str:
    """What a configuration error says; a missing driver named as such."""
    if isinstance(exc, ImportError):
        return (
            f"the database driver of the URL is not installed ({exc}); "
            "mysql:// URLs are served by PyMySQL, installed with "
            "ceilometer-ha"
        )
    return str(exc)
