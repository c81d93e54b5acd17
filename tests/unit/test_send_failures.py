"""The UDP publisher's failures, logged once a minute per kind."""

import logging

from ceilometer_ha import send_failures
from tests.unit import test_notifier


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def _record(level, msg, *args):
    return logging.LogRecord(
        send_failures.PUBLISHER_LOGGER, level, __file__, 1, msg, args, None
    )


def test_each_message_passes_once_per_interval_then_says_what_was_held():
    clock = FakeClock()
    limit = send_failures.SendFailureFilter(60.0, clock)
    unreachable = OSError(101, "Network is unreachable")
    passed = []
    for _ in range(3):
        for rec in (
            _record(logging.WARNING, "Unable to send sample over UDP"),
            _record(logging.ERROR, unreachable),
            _record(logging.DEBUG, "Publishing sample %s", "x"),
        ):
            if limit.filter(rec):
                passed.append(rec.getMessage())
        clock.now += 1.0
    assert passed == [
        "Unable to send sample over UDP",
        "[Errno 101] Network is unreachable",
        "Publishing sample x",
        "Publishing sample x",
        "Publishing sample x",
    ]
    clock.now += 60.0
    again = _record(logging.ERROR, unreachable)
    assert limit.filter(again)
    assert again.getMessage() == (
        "[Errno 101] Network is unreachable (2 more like it in the last "
        "60 s not logged)"
    )
    other = _record(logging.ERROR, OSError(1, "Operation not permitted"))
    assert limit.filter(other)


def test_a_collector_that_cannot_be_sent_to_is_logged_once(tmp_path, caplog):
    """Port 0 makes every send fail (EINVAL), as a lost route does."""
    driver = test_notifier._driver(tmp_path)
    pipeline = tmp_path / "pipeline_ha.yaml"
    pipeline.write_text(
        test_notifier.PIPELINE.replace("test://", "udp://127.0.0.1:0")
    )
    # The filter is the process's: forget what earlier tests sent.
    send_failures._installed._held.clear()
    messages = [test_notifier._signed("ha.heartbeat", 1) for _ in range(20)]
    with caplog.at_level(logging.WARNING):
        for message in messages:
            driver.notify({}, test_notifier._message(message), "info", None)
    sent = [
        r for r in caplog.records if r.name == send_failures.PUBLISHER_LOGGER
    ]
    assert [r.levelno for r in sent] == [logging.WARNING, logging.ERROR]
    assert "Invalid argument" in sent[1].getMessage()
