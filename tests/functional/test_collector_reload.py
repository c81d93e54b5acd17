"""SIGHUP reloads the collector's configuration files, and stops nothing.

The real ``ceilometer-collector-ha``, one receiving process and two
workers: a mutable option (``[DEFAULT] debug``) changed in its files
takes effect in every process, a change to another is logged as
ignored, a file that no longer parses leaves the running configuration,
and samples are received and stored throughout.
"""

import re
import signal
import time

import pytest

from tests.functional import collector as helper
from tests.functional import collector_config

DEBUG_LINE = re.compile(r" (\d+) DEBUG .*Logging at DEBUG level in process ")


def _hang_up(collector, line, count):
    """SIGHUP, then wait until ``line`` is in the log ``count`` times."""
    collector.proc.send_signal(signal.SIGHUP)
    helper.wait_until(
        lambda: collector.log_text().count(line) >= count,
        30,
        f"{count} x {line!r}",
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_sighup_reloads_mutable_options_and_keeps_receiving(tmp_path, workers):
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    options = {"collector": {"workers": workers}}
    # Each worker reloads, and with workers so does their parent.
    processes = workers + 1 if workers > 1 else 1
    with helper.CollectorProcess(database_url, tmp_path, options) as collector:
        publisher = helper.ceilometer_publisher("127.0.0.1", collector.port)
        publisher.publish_samples([helper.make_sample(resource_id="r0")])
        collector.wait_for_rows(1)
        overlay = collector.overlay_path.read_text()

        collector.overlay_path.write_text(
            overlay
            + collector_config.overlay_text(
                {"DEFAULT": {"debug": "true", "instance_format": "[x] "}}
            )
        )
        _hang_up(
            collector,
            "Option DEFAULT.debug changed from [false] to [true]",
            processes,
        )
        # Logging really is at DEBUG now, in every process: each says so
        # once its reload is done, which is after oslo.config's line.
        helper.wait_until(
            lambda: (
                len(set(DEBUG_LINE.findall(collector.log_text()))) >= processes
            ),
            30,
            f"a DEBUG line from each of {processes} processes",
        )
        text = collector.log_text()
        assert len(set(DEBUG_LINE.findall(text))) == processes, text
        assert (
            text.count("Ignoring change to immutable option DEFAULT.")
            >= processes
        )

        # Neither a file that no longer parses nor a bad value of a
        # command-line option (which oslo.config raises as SystemExit)
        # stops anything.
        not_reloaded = "Configuration not reloaded, the running one is kept"
        collector.overlay_path.write_text("[collector\nnot an ini file\n")
        _hang_up(collector, not_reloaded, processes)
        collector.overlay_path.write_text(
            overlay
            + collector_config.overlay_text({"DEFAULT": {"debug": "maybe"}})
        )
        _hang_up(collector, not_reloaded, 2 * processes)

        # A good file again: debug back off.
        collector.overlay_path.write_text(overlay)
        _hang_up(
            collector,
            "Option DEFAULT.debug changed from [true] to [false]",
            processes,
        )

        publisher.publish_samples([helper.make_sample(resource_id="r1")])
        collector.wait_for_rows(2)
        assert collector.running()
        assert collector.stop() == 0
    assert collector.log_text().count("Listening on UDP") == workers


def _hangup_ignored(pid):
    """True once process ``pid`` ignores SIGHUP (its SigIgn mask)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("SigIgn:"):
                mask = int(line.split()[1], 16)
                return bool(mask >> (signal.SIGHUP - 1) & 1)
    return False


@pytest.mark.parametrize("workers", [1, 2])
def test_sighup_while_starting_stops_nothing(tmp_path, workers):
    """``kill -HUP`` from the moment the program ignores SIGHUP (before
    it imports the collector: tests/unit/test_collector_entry.py) until
    it listens: it starts as if none had come, and receives."""
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    options = {"collector": {"workers": workers}}
    collector = helper.CollectorProcess(database_url, tmp_path, options)
    sent = []

    def hang_up_while_starting():
        proc = collector.proc
        helper.wait_until(
            lambda: _hangup_ignored(proc.pid), 30, "SIGHUP ignored", 0.001
        )
        # Bounded: 1,000 signals, 5 ms apart.
        for _ in range(1000):
            if collector.listening() or proc.poll() is not None:
                return
            proc.send_signal(signal.SIGHUP)
            sent.append(1)
            time.sleep(0.005)

    collector.start(while_starting=hang_up_while_starting)
    try:
        assert sent, "no SIGHUP was sent while the collector started"
        publisher = helper.ceilometer_publisher("127.0.0.1", collector.port)
        publisher.publish_samples([helper.make_sample(resource_id="r0")])
        collector.wait_for_rows(1)
        assert collector.running()
    finally:
        assert collector.stop() == 0
    assert collector.log_text().count("Listening on UDP") == workers
