"""Several receiving processes on one port (``[collector] workers``).

Each worker is a forked ``CollectorService`` with its own socket
(SO_REUSEPORT: the kernel spreads datagrams across them), its own
writer and database connection. A worker that cannot start says why
and exits as the program would (``refusal``: an ERROR in the log, exit
code 2 for a setting to fix). The parent only forwards SIGTERM, SIGINT
and SIGHUP (``signals``) and waits, logging the end of every worker; if
a worker ends while the parent is not stopping, whatever its exit code
(0 too, after a SIGTERM sent to it alone), the others are stopped and
the exit code is non-zero (2 when a worker refused to start), so
systemd or Pacemaker restarts the whole set: a collector must not run
on without one of its workers (worker 0 alone runs the TTL expiry). A
parent that dies without stopping them (SIGKILL: the Pacemaker agent's
last resort, the OOM killer) gets its workers SIGTERM from the kernel
(``PR_SET_PDEATHSIG``): they flush and exit rather than go on holding
the port, unmanaged, beside the collector started in their place.
Once every receiving process listens, systemd is told (``READY=1``,
``Type=notify``; the parent with several workers).
"""

import collections.abc
import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import types
import typing

from oslo_config import cfg
from oslo_log import log
from oslo_service import systemd

from ceilometer_ha.collector import refusal
from ceilometer_ha.collector import service
from ceilometer_ha.collector import signals

LOG = log.getLogger(__name__)
POLL_INTERVAL = 0.5
# <linux/prctl.h>
_PR_SET_PDEATHSIG = 1


def _stop_with_parent(parent: int) -> None:
    """SIGTERM from the kernel when the parent dies (Linux's prctl); at
    once if it died before this ran."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        LOG.warning(
            "Cannot ask to be stopped with the parent process: %s",
            os.strerror(ctypes.get_errno()),
        )
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)  # held until unblocked


def _worker(
    conf: cfg.ConfigOpts,
    port: int,
    ready: typing.Any,
    index: int,
    parent: int,
) -> None:
    # Forked with the three signals held (``run``): its own dispositions
    # first, then what arrived meanwhile. Until its loop handles SIGHUP
    # a reload is ignored (the configuration was read before the fork).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signals.ignore_reload_until_ready()
    _stop_with_parent(parent)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, signals.HANDLED_SIGNALS)
    # TTL expiry deletes the same rows whoever runs it: worker 0 does.
    svc = service.CollectorService(
        conf,
        port=port,
        write_port_file=False,
        on_ready=ready.set,
        run_expiry=index == 0,
        worker=index,
    )
    try:
        code = refusal.exit_code(svc.run)
    except Exception:
        # The program's own excepthook never runs in a forked worker,
        # and standard error may go nowhere (the Pacemaker agent).
        LOG.exception("Worker %d failed", index)
        code = refusal.EXIT_FAILED
    sys.exit(code)


def _wait_until_listening(procs: list, events: list) -> bool:
    """True once every worker listens; False if one died first."""
    while not all(event.is_set() for event in events):
        if any(proc.exitcode is not None for proc in procs):
            return False
        events[0].wait(POLL_INTERVAL / 10)
    return True


def _ended(proc: typing.Any) -> str:
    code = proc.exitcode
    if code < 0:
        return f"was ended by signal {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _supervise(
    procs: list,
    ready: bool,
    stopping: collections.abc.Callable[[], bool],
    stop: collections.abc.Callable[[int, None], None],
) -> bool:
    """Wait until every worker has ended, logging each; True if one
    ended while ``stopping()`` was false, whatever its exit code (0
    too: worker 0 alone runs the TTL expiry), for which ``stop`` then
    ends the others."""
    unasked = False
    logged: set[str] = set()
    while True:
        ended = [
            proc
            for proc in procs
            if proc.exitcode is not None and proc.name not in logged
        ]
        asked = stopping()
        for proc in ended:
            logged.add(proc.name)
            args = (proc.name, proc.pid, _ended(proc))
            if asked:
                LOG.info("Worker %s (pid %d) %s", *args)
            elif ready:
                LOG.error(
                    "Worker %s (pid %d) %s while the collector ran: "
                    "stopping the others, so that the collector is "
                    "restarted as a whole",
                    *args,
                )
            else:
                LOG.error(
                    "Worker %s (pid %d) %s before all workers listened",
                    *args,
                )
        if ended and not asked:
            unasked = True
            stop(signal.SIGTERM, None)
        if len(logged) == len(procs):
            return unasked
        for proc in procs:
            proc.join(POLL_INTERVAL / len(procs))


def run(conf: cfg.ConfigOpts) -> int:
    """Run the configured number of workers; the process exit code."""
    count = conf.collector.workers
    if count == 1:
        return service.CollectorService(
            conf, on_ready=systemd.notify_once
        ).run()
    port = conf.collector.udp_port or service.free_port(
        conf.collector.udp_address
    )
    context = multiprocessing.get_context("fork")
    events = [context.Event() for _ in range(count)]
    procs = [
        context.Process(
            target=_worker,
            args=(conf, port, event, i, os.getpid()),
            name=f"worker-{i}",
        )
        for i, event in enumerate(events)
    ]
    stopping = False

    def _stop(_signum: int, _frame: types.FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs:
            if proc.is_alive() and proc.pid:
                proc.terminate()

    def _reload(_signum: int, _frame: types.FrameType | None) -> None:
        signals.reload_configuration(conf)
        for proc in procs:
            if proc.is_alive() and proc.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signals.RELOAD_SIGNAL)

    with signals.held():
        for signum in signals.STOP_SIGNALS:
            signal.signal(signum, _stop)
        signal.signal(signals.RELOAD_SIGNAL, _reload)
        for proc in procs:
            proc.start()
    ready = _wait_until_listening(procs, events)
    if ready:
        LOG.info("%d workers listening on UDP port %d", count, port)
        if conf.collector.port_file:
            service.write_port_file(conf.collector.port_file, port)
        systemd.notify_once()
    unasked = _supervise(procs, ready, lambda: stopping, _stop)
    codes = [proc.exitcode for proc in procs]
    if not ready and refusal.EXIT_REFUSED in codes:
        return refusal.EXIT_REFUSED
    return 1 if unasked or any(codes) else 0
