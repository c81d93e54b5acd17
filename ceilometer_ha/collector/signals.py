"""What signals do to the collector.

SIGTERM and SIGINT stop it: ``CollectorService.request_stop``, then the
flush bounded by ``[collector] shutdown_timeout``. SIGHUP reloads the
configuration files, as OpenStack services do: the options marked
mutable (oslo.log's ``debug`` and ``log_config_append``) take effect at
once, and oslo.config logs a change to any other as ignored until a
restart. A file that no longer parses, or gives a bad value to an
option such as ``debug``, is logged and the running configuration kept:
a reload never stops the collector. A process still starting ignores
SIGHUP (it has just read its files), from before it imports the
collector's modules (``cmd.collector_entry``). With several workers
the parent forwards SIGHUP to each of them, which are forked with the
three signals held. The database writer process ignores all three
(``storage.writer_child``); its parent ends it.
"""

import asyncio
import collections.abc
import contextlib
import os
import signal

from oslo_config import cfg
from oslo_log import log

LOG = log.getLogger(__name__)
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
RELOAD_SIGNAL = signal.SIGHUP
HANDLED_SIGNALS = frozenset({*STOP_SIGNALS, RELOAD_SIGNAL})


def reload_configuration(conf: cfg.ConfigOpts) -> None:
    """Apply the configuration files' mutable options; never raise."""
    LOG.info("SIGHUP: reloading the configuration files")
    try:
        conf.mutate_config_files()
    # A bad value of a command-line option (oslo.log's debug,
    # log_file...) raises SystemExit; anything else a broken file raises.
    except SystemExit:
        # oslo.config wrote which option to standard error, just before.
        error = (
            "a command-line option (such as debug) has a bad value in a "
            "file; oslo.config named it on standard error"
        )
    except Exception as exc:
        error = str(exc)
    else:
        LOG.info("Configuration files reloaded")
        # Shows only when the reload left (or put) logging at DEBUG.
        LOG.debug("Logging at DEBUG level in process %d", os.getpid())
        return
    # Logged outside the handler: oslo.log would repeat the exception.
    LOG.error("Configuration not reloaded, the running one is kept: %s", error)


def ignore_reload_until_ready() -> None:
    """From the start of the process until ``install``: a reload then
    has nothing to reload, and SIGHUP's default action would end it."""
    signal.signal(RELOAD_SIGNAL, signal.SIG_IGN)


@contextlib.contextmanager
def held() -> collections.abc.Iterator[None]:
    """Hold (block) the three signals, e.g. while forking workers: a
    child must not run its parent's handlers before it sets its own.
    What arrived meanwhile is delivered when the block ends."""
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED_SIGNALS)


def install(
    loop: asyncio.AbstractEventLoop,
    conf: cfg.ConfigOpts,
    stop: collections.abc.Callable[[], None],
) -> None:
    """Handle the signals of a receiving process on its event loop."""
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop)
    loop.add_signal_handler(RELOAD_SIGNAL, reload_configuration, conf)
