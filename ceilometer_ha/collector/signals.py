"""What signals do to the collector.

SIGTERM and SIGINT stop it: ``CollectorService.request_stop``, then the
flush bounded by ``[collector] shutdown_timeout``. SIGHUP reloads the
configuration files, as OpenStack services do: the options marked
mutable (oslo.log's ``debug`` and ``log_config_append``) take effect at
once, and oslo.config logs a change to any other as ignored until a
restart. A file that no longer parses is logged and the running
configuration kept: a reload never stops the collector. With several
workers the parent forwards SIGHUP to each of them. The database
writer process ignores all three (``storage.writer_child``); its parent
ends it.
"""

import asyncio
import collections.abc
import signal

from oslo_config import cfg
from oslo_log import log

LOG = log.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
RELOAD_SIGNAL = signal.SIGHUP


def reload_configuration(conf: cfg.ConfigOpts) -> None:
    """Apply the configuration files' mutable options; never raise."""
    LOG.info("SIGHUP: reloading the configuration files")
    try:
        conf.mutate_config_files()
    except Exception as exc:  # whatever a broken file raises
        error = str(exc)
    else:
        return
    # Logged outside the handler: oslo.log would repeat the exception.
    LOG.error("Configuration not reloaded, the running one is kept: %s", error)


def install(
    loop: asyncio.AbstractEventLoop,
    conf: cfg.ConfigOpts,
    stop: collections.abc.Callable[[], None],
) -> None:
    """Handle the signals of a receiving process on its event loop."""
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop)
    loop.add_signal_handler(RELOAD_SIGNAL, reload_configuration, conf)
