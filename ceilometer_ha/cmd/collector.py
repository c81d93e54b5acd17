"""``ceilometer-collector-ha``: receive signed UDP samples, store them.

Reads the controller ``ceilometer_ha.conf`` of the deployment notes as
written: options it does not use there (``polling_namespaces``,
``verbose``) are ignored, not errors. Exit codes: 0 after a clean stop,
2 for a configuration or schema problem (the message, in the log and on
standard error, says what to fix; ``collector.refusal``, with any
number of workers; a log file that cannot be opened is said on standard
error only), 1 for anything else (samples left unwritten at the
stop, say). A MySQL database that does not answer at start is waited
for, samples held.
"""

import functools
import pathlib
import sys

from oslo_config import cfg
from oslo_log import log

from ceilometer_ha import opts
from ceilometer_ha.collector import config_check
from ceilometer_ha.collector import refusal
from ceilometer_ha.collector import signals
from ceilometer_ha.collector import workers

PROG = refusal.PROG


def own_config_dirs() -> list[str]:
    """oslo.config's default directories but ceilometer's own.

    The collector reads drop-in files from its program's directory
    (``/etc/ceilometer/ceilometer-collector-ha.conf.d/``), never from
    ``ceilometer.conf.d/``, whose files are meant for ceilometer's own
    services: any option they set that ``--config-file`` leaves out
    would be the collector's too.
    """
    return [
        path
        for path in cfg.find_config_dirs("ceilometer", PROG)
        if pathlib.PurePath(path).name != "ceilometer.conf.d"
    ]


def prepare_conf(argv: list[str]) -> cfg.ConfigOpts:
    """A fresh ConfigOpts with the collector and oslo.log options, parsed."""
    conf = cfg.ConfigOpts()
    log.register_options(conf)
    opts.register_collector_opts(conf)
    conf(
        argv,
        project="ceilometer",
        prog=PROG,
        default_config_files=[],
        default_config_dirs=own_config_dirs(),
        validate_default_values=True,
    )
    return conf


def _start(conf: cfg.ConfigOpts) -> int:
    config_check.check_config(conf)
    return workers.run(conf)


def main(argv: list[str] | None = None) -> int:
    signals.ignore_reload_until_ready()
    argv = sys.argv[1:] if argv is None else argv
    try:
        conf = prepare_conf(argv)
        log.setup(conf, PROG)
    except cfg.Error as exc:
        sys.stderr.write(f"{PROG}: configuration error: {exc}\n")
        return refusal.EXIT_REFUSED
    except OSError as exc:
        # A log file that cannot be opened (oslo.config reports files it
        # cannot read as cfg.Error): no log to say it in.
        sys.stderr.write(f"{PROG}: cannot set up logging: {exc}\n")
        return refusal.EXIT_REFUSED
    return refusal.exit_code(functools.partial(_start, conf))


if __name__ == "__main__":
    sys.exit(main())
