"""Settings that would run an unsafe or useless collector, refused.

``check_config`` runs before the collector binds anything: no listening
address, no real shared secret (unless unsigned samples are explicitly
allowed), a misspelt group whose options oslo.config would silently
ignore, or a freshness window as long as the TTL.
"""

import collections.abc
import difflib
import typing

from oslo_config import cfg
from oslo_log import log

from ceilometer_ha import opts

LOG = log.getLogger(__name__)
COLLECTOR_GROUPS = ("DEFAULT", "collector", "database", "publisher")


class ConfigError(Exception):
    """The configuration cannot run a collector; the message says why."""


def check_config(conf: cfg.ConfigOpts) -> None:
    """Refuse settings that would run an unsafe or useless collector."""
    if not conf.collector.udp_address:
        raise ConfigError(
            "[collector] udp_address is empty: the collector would "
            "receive nothing"
        )
    secret = conf.publisher.telemetry_secret
    if secret in ("", opts.PLACEHOLDER_SECRET):
        if not conf.collector.allow_unsigned:
            raise ConfigError(
                "[publisher] telemetry_secret is empty or ceilometer's "
                "placeholder, so anyone could forge samples: set the "
                "secret the agents use, or [collector] allow_unsigned = "
                "true to accept that risk"
            )
        LOG.warning("Accepting samples without a real shared secret")
    for path, group, known in misspelt_groups(conf.config_file):
        raise ConfigError(
            f"{path}: unknown group [{group}], did you mean [{known}]? "
            f"Its options would be silently ignored (see ceilometer-ha "
            f"check-config {path})"
        )
    ttl = conf.database.metering_time_to_live
    if 0 < ttl <= conf.collector.freshness_window:
        raise ConfigError(
            f"[collector] freshness_window ({conf.collector.freshness_window}"
            f" s) must be shorter than [database] metering_time_to_live "
            f"({ttl} s), or expired samples could be replayed"
        )


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
            if group in COLLECTOR_GROUPS:
                continue
            close = difflib.get_close_matches(
                group, COLLECTOR_GROUPS, n=1, cutoff=0.75
            )
            # A typo, not another service's group such as [database_ro].
            if close and abs(len(close[0]) - len(group)) <= 2:
                found.append((path, group, close[0]))
    return found
