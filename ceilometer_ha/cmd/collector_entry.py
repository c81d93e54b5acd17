"""The ``ceilometer-collector-ha`` program: SIGHUP ignored, then the rest.

SIGHUP's default action ends a process, and importing the collector's
modules (oslo, SQLAlchemy, msgspec...) takes about half a second: a
``kill -HUP`` in that time would end a collector that is starting. So
the program ignores SIGHUP first, before it imports them, leaving only
the interpreter's own start-up to that default. ``collector.main`` goes
on ignoring it until the event loop handles it
(``collector.signals``).
"""

import signal
import sys


def main() -> int:
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # Imported only now, on purpose (see the module doc).
    from ceilometer_ha.cmd import collector

    return collector.main(sys.argv[1:])
