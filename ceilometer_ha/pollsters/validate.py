"""Checking the compute options, and stopping the agent when they are bad.

Why this exists: oslo.config parses a value only when it is read, and
ceilometer turns any exception of a pollster's ``setup_environment``
into an ``ExtensionLoadError`` logged at DEBUG, while an exception from
a pollster's ``__init__`` kills the cotyledon worker, which is respawned
every few seconds forever. Neither tells an operator what is wrong.

So every option is read once, here, when the first pollster loads:
:func:`validate_compute_conf` lists the problems, each naming its
option; :func:`enforce` logs them in one CRITICAL line and asks the
cotyledon master (the parent of the polling worker) to shut down, so
that the agent exits instead of polling with half a configuration or
looping. ``advice.advise_compute_conf`` lists valid settings that would
send the health samples nowhere useful, or slower than meant (logged
once at WARNING; the agent runs, as someone may mean them).

``ceilometer-ha check-config`` (the systemd unit's ``ExecStartPre=``)
checks the file before the agent starts by other means: it reads every
registered option and compares the file's groups and names with them,
so it reports the same bad values and the misspelt ``[DEFAULT]``; for a
file with a ``[compute]`` section it also calls :func:`missing_address`
(an error) and the ``advice`` module's checks.
"""

import difflib
import os
import signal
import sys
import threading

from oslo_config import cfg
from oslo_log import log

from ceilometer_ha import config_errors
from ceilometer_ha import opts
from ceilometer_ha import per_conf
from ceilometer_ha.pollsters import advice as advice_mod

LOG = log.getLogger(__name__)

ADDRESS_OPTIONS = (
    "storage_server_address",
    "management_address",
    "tenant_address",
)
MASTER_PROCESS_NAME = "ceilometer-polling"


class InvalidConfigurationError(ValueError):
    """The compute options cannot be used; the message names them."""


def validate_compute_conf(conf: cfg.ConfigOpts) -> list[str]:
    """Problems of the ``[compute]`` options, each naming its option.

    Registers the compute options on ``conf`` if needed. An empty list
    means the agent can run with this configuration.
    """
    opts.register_compute_opts(conf)
    problems = []
    for opt in opts.COMPUTE_OPTS:
        try:
            getattr(conf.compute, opt.dest)
        except (cfg.ConfigFileValueError, ValueError) as exc:
            problems.append(
                f"[compute] {opt.dest}: {config_errors.describe(exc)}"
            )
    if problems:
        return problems + _misspelt_default(conf)
    missing = missing_address(conf)
    if missing:
        problems.append(missing)
    return problems + _misspelt_default(conf)


def missing_address(conf: cfg.ConfigOpts) -> str | None:
    """The problem when ``[compute]`` names no address to ping at all.

    The compute options must be registered and valid.
    """
    if any(getattr(conf.compute, name) for name in ADDRESS_OPTIONS):
        return None
    return (
        "[compute] storage_server_address: no address to ping is "
        "configured (nor management_address, nor tenant_address)"
    )


def _misspelt_default(conf: cfg.ConfigOpts) -> list[str]:
    """A section that looks like ``[DEFAULT]`` but is not (``[DEAFULT]``).

    oslo.config ignores unknown sections silently, so the options in a
    misspelt ``[DEFAULT]`` (polling_namespaces, pipeline_cfg_file,
    reserved_metadata_keys) would be lost without a word.
    """
    problems = []
    for section in conf.list_all_sections():
        if section != "DEFAULT" and difflib.get_close_matches(
            section.upper(), ["DEFAULT"], n=1, cutoff=0.7
        ):
            problems.append(
                f"[{section}]: unknown section, probably a misspelt "
                "[DEFAULT]; its options are ignored"
            )
    return problems


class _Verdict:
    """The problems of one configuration; logged by the first reader."""

    def __init__(self, conf: cfg.ConfigOpts) -> None:
        self.problems = validate_compute_conf(conf)
        self.advice = (
            [] if self.problems else advice_mod.advise_compute_conf(conf)
        )
        self._lock = threading.Lock()
        self._logged = False

    def log_once(self) -> bool:
        """True for the first caller only."""
        with self._lock:
            first, self._logged = not self._logged, True
            return first


_verdicts: per_conf.PerConf[_Verdict] = per_conf.PerConf(_Verdict)


def enforce(conf: cfg.ConfigOpts) -> None:
    """Validate once per configuration; on problems stop the agent.

    The first call validates, logs one CRITICAL line and stops the
    agent; later calls (the sibling pollsters) only repeat the verdict.
    Raises :class:`InvalidConfigurationError` when there are problems.
    """
    verdict = _verdicts.get(conf)
    first = verdict.log_once()
    if not verdict.problems:
        if first and verdict.advice:
            LOG.warning("ceilometer-ha: %s", "; ".join(verdict.advice))
        return
    message = "; ".join(verdict.problems)
    if first:
        line = (
            "ceilometer-ha cannot run with this configuration, stopping "
            f"the agent: {message}"
        )
        LOG.critical("%s", line)
        _to_stderr_too(conf, line)
        stop_polling_master()
    raise InvalidConfigurationError(message)


def _to_stderr_too(conf: cfg.ConfigOpts, line: str) -> None:
    """``line`` on standard error as well when the log goes to a file
    only (the shipped ``log_file``): the agent then stops with exit code
    0, and systemd's journal (``systemctl status``) or upstart's job log
    would otherwise not say why."""
    try:
        to_file_only = bool(conf.log_file) and not conf.use_stderr
    except cfg.NoSuchOptError:  # oslo.log's options not registered
        return
    if to_file_only:
        sys.stderr.write(f"CRITICAL {line}\n")
        sys.stderr.flush()


def stop_polling_master() -> bool:
    """SIGTERM the parent if it is the ``ceilometer-polling`` master.

    cotyledon's master shuts its workers down on SIGTERM and exits, so
    systemd or upstart see the agent stop instead of a respawn loop. Any
    other parent (a test runner, a shell) is left alone.
    """
    parent = os.getppid()
    try:
        with open(f"/proc/{parent}/cmdline", "rb") as cmdline:
            command = (
                cmdline.read().replace(b"\0", b" ").decode("utf-8", "replace")
            )
    except OSError:
        return False
    if MASTER_PROCESS_NAME not in command:
        return False
    os.kill(parent, signal.SIGTERM)
    return True
