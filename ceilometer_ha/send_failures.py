"""Rate-limited logging of ceilometer's UDP publisher failures.

``ceilometer.publisher.udp.UDPPublisher`` logs a WARNING and an ERROR
with a traceback for every sample it cannot send. When a compute host
loses its route to the collectors, that is every sample of every
cycle: about 20 KB a second at the shipped one-second interval, some
1.8 GB a day, exactly while the host is in trouble. The in-process
driver (``notifier``) puts :class:`SendFailureFilter` on that logger:
each distinct line passes once per ``interval``, and the next one to
pass says how many like it were not logged meanwhile.
"""

import logging
import threading
import time
import typing

PUBLISHER_LOGGER = "ceilometer.publisher.udp"
INTERVAL = 60.0


class SendFailureFilter(logging.Filter):
    """Each distinct message at most once per ``interval`` seconds."""

    def __init__(
        self,
        interval: float = INTERVAL,
        clock: typing.Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        # (level, message) -> (when it may pass again, lines held back)
        self._held: dict[tuple[int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.levelno, record.getMessage())
        now = self._clock()
        with self._lock:
            until, held = self._held.get(key, (0.0, 0))
            if now < until:
                self._held[key] = (until, held + 1)
                return False
            self._held[key] = (now + self._interval, 0)
        if held:
            record.msg = (
                f"{key[1]} ({held} more like it in the last "
                f"{self._interval:g} s not logged)"
            )
            record.args = ()
        return True


_installed = SendFailureFilter()


def install() -> None:
    """Put the filter on the UDP publisher's logger, once per process."""
    logger = logging.getLogger(PUBLISHER_LOGGER)
    if _installed not in logger.filters:
        logger.addFilter(_installed)
