"""Start and stop a real collector for tests, the test bed and the demo.

Two ways, one configuration:

``CollectorProcess(database_url, workdir, options=None, template=None,
run_dbsync=True, command_prefix=None)``
    the ``ceilometer-collector-ha`` console script as a subprocess,
    started from the deployment notes' controller file
    (``data/controller_ceilometer_ha.conf``, verbatim but for
    ``connection`` and ``udp_port = 0``) plus an overlay file for what a
    test needs (``options``: ``{group: {option: value}}``; by default
    ``udp_address = 127.0.0.1`` and a ``port_file``). ``command_prefix``
    runs it elsewhere, e.g. ``["ip", "netns", "exec", "ns1"]``.
    ``start()`` returns once it listens (``port`` set, from the port
    file); ``stop()`` sends SIGTERM and returns the exit code::

        with CollectorProcess(database_url, tmp_path) as collector:
            send_to(collector.address, collector.port, datagram)
            collector.wait_for_rows(1)
        assert collector.returncode == 0

``InProcessCollector(database_url, workdir, options=None, run_dbsync=True)``
    the same service on an asyncio loop in a thread of the test process,
    for the many fast tests; ``stats`` is the live counter object and
    ``stop()`` returns the samples left unwritten.

Both have ``address``, ``port``, ``count_rows(table)`` and
``wait_for_rows(count, timeout)``, and work as context managers.
Module functions: ``render_config(template, database_url)`` (set the
``connection`` of a controller file), ``dbsync(config_path)`` (create the
schema as the operator would), ``send_to(address, port, *datagrams)``
(loopback only), ``ceilometer_publisher(address, port)`` (ceilometer's
own ``UDPPublisher``, loopback only), ``make_sample(...)`` (a Sample
shaped like the compute side's), ``count_rows(database_url, table)``,
``wait_until(predicate, timeout, what)``; ``SEED_CONFIG``,
``SEED_SECRET``, ``BIN``.

This module is the one place tests, ``tools/demo.py`` and the benchmarks
import from; the code lives by responsibility in
``tests.functional.collector_config`` (configuration files, dbsync),
``collector_rows`` (row counts, bounded waits), ``collector_process``,
``collector_inprocess`` and ``collector_traffic`` (datagrams, publisher,
samples).
"""

from tests.functional import collector_config
from tests.functional import collector_inprocess
from tests.functional import collector_process
from tests.functional import collector_rows
from tests.functional import collector_traffic

DATA = collector_config.DATA
SEED_CONFIG = collector_config.SEED_CONFIG
SEED_SECRET = collector_config.SEED_SECRET
BIN = collector_config.BIN
render_config = collector_config.render_config
dbsync = collector_config.dbsync

wait_until = collector_rows.wait_until
count_rows = collector_rows.count_rows

CollectorProcess = collector_process.CollectorProcess
InProcessCollector = collector_inprocess.InProcessCollector

send_to = collector_traffic.send_to
ceilometer_publisher = collector_traffic.ceilometer_publisher
make_sample = collector_traffic.make_sample
