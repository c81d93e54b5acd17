"""``ceilometer-ha check-config``: find mistakes in configuration files.

Reports, for a compute-node or controller ``ceilometer_ha.conf``:

* unknown groups (such as a misspelt ``[DEAFULT]``) and unknown options,
  with the closest known name (difflib) as a suggestion: errors;
* values oslo.config rejects (type, ``min``/``max``, ``choices``): every
  registered option is read, so each error names its option;
* groups the HA services do not read (``[keystone_authtoken]``) and
  options removed from OpenStack (``verbose``): warnings;
* oslo.messaging's groups (``[oslo_messaging_rabbit]`` ...; not the
  removed ``[oslo_messaging_amqp]``, always a warning) are checked as
  any other in a compute node's file (one with a ``[compute]``
  section): ``ceilometer-polling`` builds its notification transport
  at start, and a bad value there stops the agent. The collector never
  reads them, so in any other file they are a warning;
* in a compute node's file, no address to ping at all (an error), no
  ``storage_server_address``, a ping run that outlasts the polling
  interval (``advice.slow_cycle``) or the ``compute`` polling namespace,
  whose libvirt connection can hold the agent
  (``advice.compute_namespace``), a ``udp://`` collector named by host
  name, looked up for every datagram (``advice.collectors_by_name``):
  warnings;
* polling and pipeline files the file names that ceilometer's managers
  cannot load, and sink publishers that would publish nothing
  (``pollsters.pipeline_files``): errors;
* in a compute node's file, settings with which the agent's samples
  never reach the collectors (``delivery.problems``): a
  ``[publisher_notifier] telemetry_driver`` other than ``ha_pipeline``,
  a ``[polling] cfg_file``, ceilometer's default ``polling.yaml``
  included, that cannot be loaded or selects no ``ha.*`` meter, a
  ``[DEFAULT] pipeline_cfg_file``, ceilometer's default ``pipeline.yaml``
  included, that sends a polled ``ha.*`` meter to no collector: errors;
* a ``[publisher] telemetry_secret`` the file leaves empty or at a
  placeholder (ceilometer's, or a shipped file's; a compute file that
  leaves it out signs with ceilometer's), which the collector
  refuses unless ``allow_unsigned``, or sets to the one printed in the
  deployment notes, which everyone who read them can sign with:
  warnings;
* with ``--collector-config``, a ``[publisher] telemetry_secret`` that
  differs between the compute file and the collector file: an error,
  since every sample would then be rejected;
* in a controller's file (no ``[compute]``), read with the collector's
  drop-in directory as the collector reads it, what the collector
  refuses at start (``collector.config_check.check_settings``, and a
  ``[database] connection`` that is no URL): errors, so that
  the collector unit's reload check fails on a file its next start
  would refuse. A placeholder secret it refuses is that error, not a
  warning;
* a file that does not parse (a line neither option nor section, text
  that is not UTF-8): one error.

Known options are those of ``known_options``; the names and values are
checked by ``config_names``. Exit code 0 without errors, 1 with errors.
"""

import argparse
import collections.abc
import contextlib
import getpass
import logging
import sys

from oslo_config import cfg
import sqlalchemy as sa

from ceilometer_ha.cmd import config_names
from ceilometer_ha.cmd import config_secret
from ceilometer_ha.cmd import known_options
from ceilometer_ha.collector import config_check
from ceilometer_ha.pollsters import advice
from ceilometer_ha.pollsters import delivery
from ceilometer_ha.pollsters import pipeline_files
from ceilometer_ha.pollsters import validate
from ceilometer_ha.probes import icmp


def check_file(
    path: str, findings: config_names.Findings
) -> cfg.ConfigOpts | None:
    """Check one file; returns its loaded ConfigOpts, or None if unreadable."""
    known = known_options.build()
    conf = known.conf
    unread: set[str] = set()
    try:
        unread = config_names.check_names(path, known.names, findings)
        conf(
            ["--config-file", path],
            project="ceilometer",
            default_config_files=[],
            default_config_dirs=[],
            use_env=False,
        )
    except cfg.RequiredOptError:
        pass  # loaded; required by keystone clients, not by our services
    # A line that is no option nor section (ParseError is no cfg.Error),
    # a file in another encoding than UTF-8.
    except (cfg.Error, cfg.ParseError, OSError, UnicodeDecodeError) as exc:
        findings.error(path, str(exc))
        return None
    errors = len(findings.errors)
    config_names.check_values(known, findings, path, unread)
    collector_checked = False
    compute = config_names.is_compute_file(conf.list_all_sections())
    if not compute:  # a controller's file
        if len(findings.errors) == errors:  # values it would refuse first
            _check_collector(path, findings)
            collector_checked = True
    else:
        try:
            missing = validate.missing_address(conf)
        except (cfg.Error, ValueError):
            missing = None  # a bad address value, reported above
        if missing:
            findings.error(path, missing)
    with _quiet("ceilometer"):  # its own log of what is reported here
        for problem in pipeline_files.problems(conf):
            findings.error(path, problem)
        if compute:  # what the agent would run with, defaults included
            sources = delivery.polled_sources(conf)  # read once for both
            for problem in delivery.problems(
                conf, named_load_errors=False, sources=sources
            ):
                findings.error(path, problem)
            for warning in advice.compute_warnings(conf, sources):
                findings.warning(path, warning)
            _check_icmp(path, findings)
    config_secret.check(path, conf, findings, compute, collector_checked)
    return conf


def _check_icmp(path: str, findings) -> None:
    """Whether this user may ping: the agent sends no reachable or loss
    sample for an address it cannot probe, so without ICMP sockets the
    verdicts never check the host's storage. A warning: under systemd
    (ExecStartPre=) this runs with the agent's user and capabilities,
    by hand with the caller's."""
    problem = icmp.IcmpProber().socket_problem()
    if problem:
        findings.warning(
            path,
            f"this user ({getpass.getuser()}) cannot ping: {problem}; the "
            "agent would send no storage sample, and the verdicts would "
            "never check this host's storage (the shipped systemd unit "
            "grants CAP_NET_RAW)",
        )


def _check_collector(path: str, findings) -> None:
    """What ``ceilometer-collector-ha`` refuses at start
    (``collector.config_check``), with the file read as the collector
    reads it (its drop-in directory too): an error, so that a reload
    check fails on a file the collector's next start would refuse. Its
    objection to a placeholder secret is the warning of
    ``config_secret.check`` made an error (not said twice); its misspelt
    groups are reported as unknown groups already."""
    # Imported here: the collector's modules, for a controller's file
    # only.
    from ceilometer_ha.cmd import collector as collector_cmd

    refused = "the collector would refuse to start"
    try:
        # Its warnings are this command's own (config_secret.check).
        with _quiet(config_check.__name__):
            conf = collector_cmd.prepare_conf(["--config-file", path])
            config_check.read_every_option(conf)
            config_check.check_settings(conf)
    except sa.exc.ArgumentError as exc:  # no URL SQLAlchemy can read
        findings.error(path, f"{refused}: [database] connection: {exc}")
    except (config_check.ConfigError, cfg.Error, ValueError) as exc:
        findings.error(path, f"{refused}: {exc}")


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


def run(args: argparse.Namespace) -> int:
    findings = config_names.Findings()
    try:
        known_options.namespace_opts()
    except known_options.UnknownOptionsError as exc:
        sys.stdout.write(f"ERROR cannot list the known options: {exc}\n")
        return 1
    compute = check_file(args.config_file, findings)
    if args.collector_config:
        collector = check_file(args.collector_config, findings)
        if (
            compute
            and collector
            and config_secret.secret(compute)
            != config_secret.secret(collector)
        ):
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
