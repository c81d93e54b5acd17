"""``ceilometer-ha check-config``: the ``[publisher] telemetry_secret``.

A compute file that leaves it to ceilometer's placeholder, a file that
sets an empty one or the one printed in the deployment notes: warnings
(the collector refuses the first two unless it allows unsigned samples,
which ``check_config`` reports as an error for a controller's file).
"""

from oslo_config import cfg

from ceilometer_ha.collector import config_check


def _secret_is_default(conf: cfg.ConfigOpts) -> bool:
    try:
        where = conf.get_location("telemetry_secret", "publisher")
    except (cfg.Error, ValueError):
        return False
    return where is None or where.location == cfg.Locations.opt_default


def secret(conf: cfg.ConfigOpts) -> str | None:
    try:
        return conf.publisher.telemetry_secret
    except (cfg.Error, ValueError):
        return None


def _refused_by_collector(conf: cfg.ConfigOpts) -> bool:
    """A controller's file whose collector refuses an unset secret."""
    try:
        return not conf.collector.allow_unsigned
    except (cfg.Error, ValueError):
        return False


def check(
    path: str,
    conf: cfg.ConfigOpts,
    findings,
    compute: bool,
    collector_checked: bool,
) -> None:
    """The secret a compute file leaves to ceilometer's placeholder or
    sets; a controller's file, the secret it sets, if it sets one (else
    a drop-in file of the collector may). ``collector_checked``:
    ``check_config._check_collector`` ran on the file."""
    if not compute and _secret_is_default(conf):
        return
    value = secret(conf)
    if value in config_check.UNSET_SECRETS:
        if collector_checked and _refused_by_collector(conf):
            return  # an error already, from _check_collector
        findings.warning(
            path,
            "[publisher] telemetry_secret is empty or a placeholder, which "
            "the collector refuses unless [collector] allow_unsigned: set "
            "a secret of your own, the same on agents and collectors "
            "(e.g. openssl rand -hex 32)",
        )
    elif value == config_check.PUBLISHED_SECRET:
        findings.warning(
            path,
            "[publisher] telemetry_secret is the one printed in the "
            "deployment notes: whoever has read them can forge samples",
        )
