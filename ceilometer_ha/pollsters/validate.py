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
looping. ``ceilometer-ha check-config`` and the unit's ``ExecStartPre=``
use :func:`validate_compute_conf` directly.
"""

import difflib
import os
import signal
import threading

from oslo_config import cfg
from oslo_log import log

from ceilometer_ha import opts
from ceilometer_ha import per_conf

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
            problems.append(f"[compute] {opt.dest}: {exc}")
    if problems:
        return problems + _misspelt_default(conf)
    if not any(getattr(conf.compute, name) for name in ADDRESS_OPTIONS):
        problems.append(
            "[compute] storage_server_address: no address to ping is "
            "configured (nor management_address, nor tenant_address)"
        )
    return problems + _misspelt_default(conf)


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
    if not verdict.problems:
        return
    message = "; ".join(verdict.problems)
    if verdict.log_once():
        LOG.critical(
            "ceilometer-ha cannot run with this configuration, stopping "
            "the agent: %s",
            message,
        )
        stop_polling_master()
    raise InvalidConfigurationError(message)


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
