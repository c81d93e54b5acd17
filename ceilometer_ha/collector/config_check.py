"""Settings that would run an unsafe or useless collector, refused.

``check_config`` runs before the collector binds anything: a value
oslo.config would only reject when first read (perhaps at shutdown), no
listening address, no real shared secret (unless unsigned samples are
explicitly allowed), a misspelt group whose options oslo.config would
silently ignore, a freshness window too long for the TTL, metrics
ports out of range, or a SQLite database the collector could not write
(``storage.engine.sqlite_file_problem``).
"""

import collections.abc
import glob
import os
import socket
import typing

from oslo_config import cfg
from oslo_config import types
from oslo_log import log

from ceilometer_ha import config_errors
from ceilometer_ha import opts
from ceilometer_ha.storage import engine as engine_mod

LOG = log.getLogger(__name__)
COLLECTOR_GROUPS = ("DEFAULT", "collector", "database", "publisher")
# Secrets that mean "not set": ceilometer's default and the placeholders
# of the shipped configuration files.
UNSET_SECRETS = frozenset(
    {
        "",
        opts.PLACEHOLDER_SECRET,
        "CHANGE_ME_TO_THE_AGENTS_SECRET",
        "change-me-to-a-long-random-secret",
    }
)
# The secret printed in the deployment notes this service follows: it
# works, but everyone who has read them can sign samples with it.
PUBLISHED_SECRET = "nmWpu7Pu8DDWhQ3oPaBpVQjn"  # noqa: S105


class ConfigError(Exception):
    """The configuration cannot run a collector; the message says why."""


def check_config(conf: cfg.ConfigOpts) -> None:
    """Refuse settings that would run an unsafe or useless collector."""
    read_every_option(conf)
    files = files_read(conf)
    for path, group, known in misspelt_groups(files):
        raise ConfigError(
            f"{path}: unknown group [{group}], did you mean [{known}]? "
            f"Its options would be silently ignored (see ceilometer-ha "
            f"check-config {path})"
        )
    # An option name close to one of ours (udp_adress): a warning, as
    # the file may hold another service's options beside ours.
    for problem in config_errors.misread_names(conf, files):
        LOG.warning("%s (ignored)", problem)
    check_settings(conf)


def check_settings(conf: cfg.ConfigOpts) -> None:
    """Refuse values that are each valid but cannot run a collector
    (``ceilometer-ha check-config`` reports the rest its own way)."""
    if not conf.collector.udp_address:
        raise ConfigError(
            "[collector] udp_address is empty: the collector would "
            "receive nothing"
        )
    names = ["udp_address"]
    if conf.collector.metrics_port:
        names.append("metrics_address")
    for name in names:
        value = conf.collector[name]
        if not _is_address(value):
            raise ConfigError(
                f"[collector] {name} = {value}: not an IP address nor a "
                "host name"
            )
    _check_secret(conf)
    ttl = conf.database.metering_time_to_live
    window = conf.collector.freshness_window
    # A sample stamped a window ahead of the collector clock is accepted
    # until two windows after it arrived: it must not expire before.
    if 0 < ttl <= 2 * window:
        raise ConfigError(
            f"[collector] freshness_window ({window} s) must be shorter "
            f"than half of [database] metering_time_to_live ({ttl} s), or "
            f"a sample could be replayed and stored again after it expired"
        )
    problem = engine_mod.sqlite_file_problem(conf.database.connection)
    if problem:
        raise ConfigError(f"[database] connection: {problem}")
    port = conf.collector.metrics_port
    if port and port + conf.collector.workers - 1 > 65535:
        raise ConfigError(
            f"[collector] metrics_port {port}: each of the "
            f"{conf.collector.workers} workers serves /metrics on a port "
            f"of its own, from metrics_port up, and they would run past "
            f"65535"
        )


_HOST_ADDRESS = types.HostAddress()


def _is_address(value: str) -> bool:
    """An IP address as the socket takes it (``127.1``, ``fe80::1%eth0``
    too; no name look-up), or a valid host name."""
    try:
        socket.getaddrinfo(value, None, 0, 0, 0, socket.AI_NUMERICHOST)
        return True
    except (OSError, UnicodeError):
        pass
    try:
        _HOST_ADDRESS(value)
    except ValueError:
        return False
    return True


def read_every_option(conf: cfg.ConfigOpts) -> None:
    """Read each collector option once, so that a bad value is refused now.

    oslo.config checks a value from a file only when it is first read: a
    bad ``shutdown_timeout`` would otherwise surface at SIGTERM, with
    samples still queued.
    """
    for group, options in opts.list_collector_opts():
        section = conf if group in (None, "DEFAULT") else conf[group]
        for opt in options:
            try:
                section[opt.dest]
            except (cfg.Error, ValueError) as exc:
                raise ConfigError(
                    f"[{group or 'DEFAULT'}] {opt.name}: "
                    f"{config_errors.describe(exc)}"
                ) from None


def _check_secret(conf: cfg.ConfigOpts) -> None:
    secret = conf.publisher.telemetry_secret
    if secret in UNSET_SECRETS:
        if not conf.collector.allow_unsigned:
            raise ConfigError(
                "[publisher] telemetry_secret is empty or a placeholder, "
                "so anyone could forge samples: set the secret the agents "
                "use, or [collector] allow_unsigned = true to accept that "
                "risk"
            )
        LOG.warning("Accepting samples without a real shared secret")
    elif secret == PUBLISHED_SECRET:
        LOG.warning(
            "[publisher] telemetry_secret is the one printed in the "
            "deployment notes: whoever has read them can forge samples. "
            "Set a secret of your own on the agents and the collectors "
            "(e.g. openssl rand -hex 32)."
        )


def files_read(conf: cfg.ConfigOpts) -> list[str]:
    """The files oslo.config read for ``conf``, in its order: the
    ``--config-file`` ones, then the ``*.conf`` files of the drop-in
    directories (``--config-dir``, else the default ones)."""
    files = list(conf.config_file)
    for directory in conf.config_dir or conf.default_config_dirs:
        files += sorted(glob.glob(os.path.join(directory, "*.conf")))
    return files


def misspelt_groups(
    paths: collections.abc.Iterable[str],
) -> list[tuple[str, str, str]]:
    """(file, group, meant) for groups that look like the collector's.

    oslo.config ignores unknown groups: a ``[DEAFULT]`` or ``[colector]``
    would silently lose its options. Groups of other services (copied
    from ceilometer.conf) are left alone.
    """
    found = []
    for path in paths:
        sections: dict[str, typing.Any] = {}
        cfg.ConfigParser(path, sections).parse()
        for group in sections:
            # oslo.config reads [Database] as [database].
            if config_errors.group_name(group) in COLLECTOR_GROUPS:
                continue
            # [default] is not [DEFAULT] to oslo.config, nor [DEAFULT].
            meant = config_errors.meant_group(group, COLLECTOR_GROUPS)
            if meant:
                found.append((path, group, meant))
    return found
