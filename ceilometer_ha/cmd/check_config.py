"""``ceilometer-ha check-config``: find mistakes in configuration files.

Reports, for a compute-node or controller ``ceilometer_ha.conf``:

* unknown groups (such as a misspelt ``[DEAFULT]``) and unknown options,
  with the closest known name (difflib) as a suggestion: errors;
* values oslo.config rejects (type, ``min``/``max``, ``choices``): every
  registered option is read, so each error names its option;
* groups the HA services do not read (``[keystone_authtoken]``) and
  options removed from OpenStack (``verbose``): warnings;
* oslo.messaging's groups (``[oslo_messaging_rabbit]`` ...) are checked
  as any other in a compute node's file (one with a ``[compute]``
  section): ``ceilometer-polling`` builds its notification transport
  at start, and a bad value there stops the agent. The collector never
  reads them, so in any other file they are a warning;
* a ``[publisher] telemetry_secret`` the file leaves empty or at a
  placeholder (ceilometer's, or a shipped file's), which the collector
  refuses unless ``allow_unsigned``, or sets to the one printed in the
  deployment notes, which everyone who read them can sign with:
  warnings;
* with ``--collector-config``, a ``[publisher] telemetry_secret`` that
  differs between the compute file and the collector file: an error,
  since every sample would then be rejected.

Known options are those of every namespace of ceilometer's own
configuration generator (ceilometer, its keystoneauth options registered
as ``prepare_service`` does, cotyledon, oslo.cache, oslo.concurrency,
oslo.log, oslo.messaging, oslo.reports, oslo.service) and ceilometer-ha's
own. Exit code 0 without errors, 1 with errors.
"""

import argparse
import collections.abc
import contextlib
import difflib
import functools
import importlib
import importlib.metadata
import logging
import sys
import types
import warnings

from oslo_config import cfg

from ceilometer_ha import opts
from ceilometer_ha.collector import config_check
from ceilometer_ha.pollsters import pipeline_files
from ceilometer_ha.pollsters import validate

# Groups of other OpenStack services often left in copied files.
UNUSED_GROUPS = frozenset(
    {
        "keystone_authtoken",
        "oslo_messaging_amqp",
        "oslo_policy",
        "oslo_middleware",
        "cors",
        "api",
        "matchmaker_redis",
        "database_ro",
    }
)
# Read by ceilometer-polling (its notification transport, even when
# the ha_pipeline driver publishes), never by the collector.
AGENT_ONLY_GROUPS = frozenset(
    {
        "oslo_messaging_kafka",
        "oslo_messaging_notifications",
        "oslo_messaging_rabbit",
    }
)
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
# Options removed from OpenStack that old files still carry.
REMOVED_OPTIONS = {
    ("DEFAULT", "verbose"): "removed from oslo.log; it is ignored",
    ("DEFAULT", "rpc_backend"): "removed from oslo.messaging; it is ignored",
    ("DEFAULT", "dispatcher"): None,
}


class Findings:
    def __init__(self) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def error(self, path: str, text: str) -> None:
        self.errors.append(f"ERROR {path}: {text}")

    def warning(self, path: str, text: str) -> None:
        self.warnings.append(f"WARNING {path}: {text}")


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
        name = group or "DEFAULT"
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
                self.names.setdefault(old.group or name, set()).add(
                    old.name or opt.name
                )


class UnknownOptionsError(Exception):
    """The options of a namespace cannot be listed: nothing is checked."""


@functools.cache
def _namespace_opts() -> tuple[tuple, types.ModuleType]:
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


def build_conf() -> KnownOptions:
    """Every option a ceilometer configuration file may hold, and ours."""
    loaded, keystone_client = _namespace_opts()
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


def _suggest(name: str, candidates) -> str:
    close = difflib.get_close_matches(
        name, sorted(candidates), n=1, cutoff=0.6
    )
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_names(path, known, findings) -> set[str]:
    """Report the file's unknown and unread groups and options; return
    the groups whose values are not this file's reader's business."""
    sections: dict = {}
    cfg.ConfigParser(path, sections).parse()
    compute = "compute" in sections  # a compute node's file
    unread = set()
    for group, values in sections.items():
        if group in AGENT_ONLY_GROUPS and not compute:
            findings.warning(
                path,
                f"[{group}] is read by ceilometer-polling on compute "
                "nodes, not by the collector",
            )
            unread.add(group)
            continue
        if group in UNUSED_GROUPS:
            findings.warning(
                path,
                f"[{group}] is not read by "
                "ceilometer-polling or the collector",
            )
            continue
        if group not in known:
            findings.error(
                path, f"unknown group [{group}]" + _suggest(group, known)
            )
            continue
        for option in values:
            if option in known[group]:
                continue
            if (group, option) in REMOVED_OPTIONS:
                why = REMOVED_OPTIONS[group, option] or "deprecated"
                findings.warning(path, f"[{group}] {option}: {why}")
                continue
            findings.error(
                path,
                f"[{group}] unknown option {option!r}"
                + _suggest(option, known[group]),
            )
    return unread


def _check_values(
    known: KnownOptions, findings, path, unread: set[str]
) -> None:
    conf = known.conf
    for group, names in sorted(known.registered.items()):
        if group in unread:
            continue
        section = conf if group == "DEFAULT" else conf[group]
        for name in sorted(names):
            try:
                getattr(section, name)
            except (cfg.RequiredOptError, cfg.NoSuchOptError):
                continue  # needed by services other than ours
            except (cfg.Error, ValueError) as exc:
                findings.error(path, f"[{group}] {name}: {exc}")


def check_file(path: str, findings: Findings) -> cfg.ConfigOpts | None:
    """Check one file; returns its loaded ConfigOpts, or None if unreadable."""
    known = build_conf()
    conf = known.conf
    unread: set[str] = set()
    try:
        unread = _check_names(path, known.names, findings)
        conf(
            ["--config-file", path],
            project="ceilometer",
            default_config_files=[],
            default_config_dirs=[],
            use_env=False,
        )
    except cfg.RequiredOptError:
        pass  # loaded; required by keystone clients, not by our services
    except (cfg.Error, OSError) as exc:
        findings.error(path, str(exc))
        return None
    _check_values(known, findings, path, unread)
    if "compute" in conf.list_all_sections():  # a compute node's file
        try:
            missing = validate.missing_address(conf)
            storage = validate.no_storage_address(conf)
        except (cfg.Error, ValueError):
            missing = storage = None  # a bad address value, reported above
        if missing:
            findings.error(path, missing)
        elif storage:
            findings.warning(path, storage)
    with _quiet("ceilometer"):  # its own log of what is reported here
        for problem in pipeline_files.problems(conf):
            findings.error(path, problem)
    return conf


@contextlib.contextmanager
def _quiet(logger: str) -> collections.abc.Iterator[None]:
    """No log record of ``logger`` (and below) reaches standard error."""
    target = logging.getLogger(logger)
    level = target.level
    target.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        target.setLevel(level)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "config_file",
        metavar="FILE",
        help="ceilometer_ha.conf to check (compute node, "
        "or controller without --collector-config).",
    )
    parser.add_argument(
        "--collector-config",
        metavar="FILE2",
        help="The controller's ceilometer_ha.conf: also "
        "checked, and its telemetry_secret compared.",
    )


def _secret_is_default(conf: cfg.ConfigOpts) -> bool:
    try:
        where = conf.get_location("telemetry_secret", "publisher")
    except (cfg.Error, ValueError):
        return False
    return where is None or where.location == cfg.Locations.opt_default


def _secret(conf: cfg.ConfigOpts) -> str | None:
    try:
        return conf.publisher.telemetry_secret
    except (cfg.Error, ValueError):
        return None


def _check_secret(path: str, conf: cfg.ConfigOpts | None, findings) -> None:
    """The secret the file sets, if it sets one (else another file may)."""
    if conf is None or _secret_is_default(conf):
        return
    secret = _secret(conf)
    if secret in config_check.UNSET_SECRETS:
        findings.warning(
            path,
            "[publisher] telemetry_secret is empty or a placeholder, which "
            "the collector refuses unless [collector] allow_unsigned: set "
            "a secret of your own, the same on agents and collectors "
            "(e.g. openssl rand -hex 32)",
        )
    elif secret == config_check.PUBLISHED_SECRET:
        findings.warning(
            path,
            "[publisher] telemetry_secret is the one printed in the "
            "deployment notes: whoever has read them can forge samples",
        )


def run(args: argparse.Namespace) -> int:
    findings = Findings()
    try:
        _namespace_opts()
    except UnknownOptionsError as exc:
        sys.stdout.write(f"ERROR cannot list the known options: {exc}\n")
        return 1
    compute = check_file(args.config_file, findings)
    _check_secret(args.config_file, compute, findings)
    if args.collector_config:
        collector = check_file(args.collector_config, findings)
        _check_secret(args.collector_config, collector, findings)
        if compute and collector and _secret(compute) != _secret(collector):
            findings.error(
                args.collector_config,
                "[publisher] telemetry_secret differs from the one in "
                f"{args.config_file}: the collector would reject every "
                "sample",
            )
    for line in findings.errors + findings.warnings:
        sys.stdout.write(line + "\n")
    sys.stdout.write(
        f"{len(findings.errors)} errors, {len(findings.warnings)} warnings\n"
    )
    return 1 if findings.errors else 0
