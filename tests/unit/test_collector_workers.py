"""Forked workers under the collector's parent, with a fake service:
what a worker's failure leaves in the log, and the exit code."""

import logging
import signal
import time

import pytest

from ceilometer_ha.cmd import collector as collector_cmd
from ceilometer_ha.collector import service
from ceilometer_ha.collector import workers


class CrashingService:
    """``CollectorService``'s interface: worker 1 fails as nothing
    expects, the others listen until they are stopped."""

    def __init__(self, conf, port, write_port_file, on_ready, **kwargs):
        self.worker = kwargs["worker"]
        self.on_ready = on_ready

    def run(self) -> int:
        if self.worker == 1:
            raise RuntimeError("boom")
        self.on_ready()
        time.sleep(30)  # until the parent's SIGTERM
        return 0


@pytest.fixture
def parent_signals():
    """``workers.run`` sets the parent's signal handlers: put back
    pytest's after."""
    saved = {
        s: signal.getsignal(s)
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    }
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def test_a_worker_that_fails_unexpectedly_says_why_in_the_log(
    tmp_path, monkeypatch, parent_signals
):
    """Its traceback would go to standard error only, which the
    Pacemaker agent sends to /dev/null."""
    monkeypatch.setattr(service, "CollectorService", CrashingService)
    conf = collector_cmd.prepare_conf(["--config-file", "/dev/null"])
    conf.set_override("workers", 2, "collector")
    log_path = tmp_path / "collector.log"
    handler = logging.FileHandler(log_path)
    logger = logging.getLogger("ceilometer_ha")
    logger.addHandler(handler)  # inherited by the forked workers
    try:
        assert workers.run(conf) == 1
    finally:
        logger.removeHandler(handler)
        handler.close()
    log = log_path.read_text()
    assert "Worker 1 failed" in log, log
    assert "RuntimeError: boom" in log, log
    assert "Worker worker-1" in log and "exited with code 1" in log, log
