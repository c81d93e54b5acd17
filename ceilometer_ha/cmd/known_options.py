"""Every option a ceilometer configuration file may hold, and ours.

The options of every namespace of ceilometer's own configuration
generator (ceilometer, its keystoneauth options registered as
``prepare_service`` does, cotyledon, oslo.cache, oslo.concurrency,
oslo.log, oslo.messaging, oslo.reports, oslo.service) and ceilometer-ha's
own, registered on one ``ConfigOpts`` for ``ceilometer-ha check-config``.
"""

import functools
import importlib
import importlib.metadata
import types
import warnings

from oslo_config import cfg

from ceilometer_ha import config_errors
from ceilometer_ha import opts

# The namespaces of ceilometer's own oslo-config-generator file
# (etc/ceilometer/ceilometer-config-generator.conf): every option a
# ceilometer configuration file may hold, whether or not the health
# samples need it (transport_url, [oslo_concurrency] lock_path, ...).
OPTS_ENTRY_POINTS = "oslo.config.opts"
CEILOMETER_NAMESPACES = (
    "ceilometer",
    "ceilometer-auth",
    "cotyledon",
    "oslo.cache",
    "oslo.concurrency",
    "oslo.log",
    "oslo.messaging",
    "oslo.reports",
    "oslo.service.service",
)


class KnownOptions:
    """A ConfigOpts with every option the HA services read, and their names.

    ``names`` also holds deprecated names and groups (accepted in files);
    ``registered`` only what can be read back from ``conf``.
    """

    def __init__(self) -> None:
        self.conf = cfg.ConfigOpts()
        self.names: dict[str, set[str]] = {}
        self.registered: dict[str, set[str]] = {}

    def register(self, group: str | None, options) -> None:
        name = config_errors.group_name(group or "DEFAULT")
        for opt in options:
            try:
                self.conf.register_opt(
                    opt, group=None if name == "DEFAULT" else name
                )
            except cfg.DuplicateOptError:
                pass  # the same option from ceilometer and from us
            self.registered.setdefault(name, set()).add(opt.dest)
            self.names.setdefault(name, set()).update({opt.dest, opt.name})
            for old in opt.deprecated_opts:
                where = config_errors.group_name(old.group or name)
                self.names.setdefault(where, set()).add(old.name or opt.name)


class UnknownOptionsError(Exception):
    """The options of a namespace cannot be listed: nothing is checked."""


@functools.cache
def namespace_opts() -> tuple[tuple, types.ModuleType]:
    """The options of ``CEILOMETER_NAMESPACES``, from their entry points,
    loaded once and without their warnings (eventlet-era libraries whose
    deprecation warnings would bury the report on stderr)."""
    found = {
        ep.name: ep
        for ep in importlib.metadata.entry_points(group=OPTS_ENTRY_POINTS)
    }
    lists: list = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for namespace in CEILOMETER_NAMESPACES:
            if namespace not in found:
                raise UnknownOptionsError(f"{namespace}: not installed")
            try:
                # Lists, not the iterators some namespaces give: the
                # result serves every file checked.
                lists += [
                    (group, list(options))
                    for group, options in found[namespace].load()()
                ]
            except Exception as exc:  # a library that fails to import
                raise UnknownOptionsError(f"{namespace}: {exc}") from exc
        keystone_client = importlib.import_module("ceilometer.keystone_client")
    return tuple(lists), keystone_client


def build() -> KnownOptions:
    """Every option a ceilometer configuration file may hold, and ours."""
    loaded, keystone_client = namespace_opts()
    lists = list(loaded)
    known = KnownOptions()
    for function in (
        opts.list_compute_opts,
        opts.list_collector_opts,
        opts.list_health_opts,
    ):
        lists += function()
    for group, options in lists:
        known.register(group, list(options))
    keystone_client.register_keystoneauth_opts(known.conf)
    known.names["service_credentials"].update({"auth_type", "auth_section"})
    return known
