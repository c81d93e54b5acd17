"""The database goes away under load and comes back: nothing is lost.

A small TCP proxy (127.0.0.1, ephemeral port -> the MariaDB server) sits
between the collector process and the database. The tests cut it while
samples keep arriving, either closing the connections (``sever``) or
holding every byte as a silent server would (``blackhole``), restore it,
and find every sample stored once and the collector still running; and
stop the collector while the database is silent.
"""

import contextlib
import re
import socket
import threading

import pytest
import sqlalchemy as sa

from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import migration
from tests.functional import collector as helper

# [database] connection's read_timeout for the silent database, seconds.
READ_TIMEOUT = 2
STATS = re.compile(r"\b(received|stored|duplicates|dropped)=(\d+)")
WRITE_FAILED = re.compile(r"Database write of \d+ samples failed \((.*?)\); ")


class TcpProxy:
    """Forwards 127.0.0.1:port to ``upstream``, in four modes.

    ``sever``: every open connection is closed and new ones are accepted
    and closed at once, as a database that went away and said so.
    ``blackhole``: every connection, open or new, stays open but no byte
    (nor a close) crosses it, as a server that lost power or a partition:
    what either side sends is held. ``strand``: the connections open now
    are blackholed for good, new ones relayed, as after a partition that
    healed while the server kept the sessions of the lost connections.
    ``restore`` relays again, the held bytes first.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._severed = threading.Event()
        # Whether new connections relay; each connection has its own.
        self._relaying = threading.Event()
        self._relaying.set()
        self._relays: list[threading.Event] = []
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        # Chunks of bytes (or closes) held back while blackholed.
        self.held = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._severed.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            relay = threading.Event()
            with self._lock:
                self._sockets += [client, server]
                self._relays.append(relay)
                if self._relaying.is_set():
                    relay.set()
            for src, dst in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pump, args=(src, dst, relay), daemon=True
                ).start()

    def _relay_allowed(self, relay: threading.Event) -> bool:
        """Wait while blackholed; False once the proxy closes."""
        if not relay.is_set():
            with self._lock:
                self.held += 1
        while not relay.wait(0.2):
            if self._closing.is_set():
                return False
        return not self._closing.is_set()

    def _pump(
        self, src: socket.socket, dst: socket.socket, relay: threading.Event
    ) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                if not self._relay_allowed(relay):
                    break
                dst.sendall(data)
        # A close is relayed like the bytes: not while blackholed.
        self._relay_allowed(relay)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def sever(self) -> None:
        self._severed.set()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _set_relays(self, relaying: bool, new_too: bool) -> None:
        with self._lock:
            targets = list(self._relays)
            if new_too:
                targets.append(self._relaying)
        for relay in targets:
            if relaying:
                relay.set()
            else:
                relay.clear()

    def blackhole(self) -> None:
        self._set_relays(False, new_too=True)

    def strand(self) -> None:
        self._set_relays(False, new_too=False)

    def restore(self) -> None:
        self._severed.clear()
        self._set_relays(True, new_too=True)

    def close(self) -> None:
        self._closing.set()
        self._set_relays(True, new_too=True)
        self.sever()
        self._listener.close()
        self._thread.join(5)


def _count(url):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT COUNT(*) FROM ha_sample")
            ).scalar()
    finally:
        engine.dispose()


def _wait_rows(url, count, timeout):
    helper.wait_until(lambda: _count(url) >= count, timeout, f"{count} rows")


def _batch(start, count):
    return [
        helper.make_sample(resource_id=f"r{i}")
        for i in range(start, start + count)
    ]


@contextlib.contextmanager
def _collector_behind_proxy(
    database_url, tmp_path, query=None, away_at_start=False, **collector
):
    """A collector writing to ``database_url`` through a ``TcpProxy``
    (``query``: more of the URL's query, as an operator would add;
    ``away_at_start``: the schema made directly, the proxy severed
    before the collector starts)."""
    direct = sa.engine.make_url(database_url)
    proxy = TcpProxy((direct.host or "127.0.0.1", direct.port or 3306))
    proxied = direct.set(host="127.0.0.1", port=proxy.port)
    proxied = proxied.update_query_dict(query or {})
    options = {
        "collector": {
            "db_retry_max_interval": 0.5,
            "batch_timeout": 0.05,
            **collector,
        }
    }
    process = helper.CollectorProcess(
        proxied.render_as_string(hide_password=False), tmp_path, options
    )
    if away_at_start:
        engine = engine_mod.create_engine(database_url)
        migration.upgrade(engine)
        engine.dispose()
        proxy.sever()
        process.run_dbsync = False
    try:
        process.start()
        yield proxy, process
    finally:
        if process.running():
            process.stop()
        proxy.close()


def _failures(collector):
    """Why each database write failed, as the collector logged it."""
    return WRITE_FAILED.findall(collector.log_text())


def _final_stats(collector):
    """Counters of the collector's last stats line."""
    lines = [
        line
        for line in collector.log_text().splitlines()
        if "received=" in line
    ]
    assert lines, "no stats line"
    return {name: int(value) for name, value in STATS.findall(lines[-1])}


def _stored_once(url, count):
    """Every sample of ``_batch(0, count)`` is in ``ha_sample``, once."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT resource_id, COUNT(*) FROM ha_sample "
                    "GROUP BY resource_id"
                )
            ).all()
    finally:
        engine.dispose()
    return dict(rows) == {f"r{i}": 1 for i in range(count)}


def _through_an_outage(
    url, proxy, collector, cut, failed, failed_within, more_failed
):
    """600 samples: 100 stored, then the database ``cut`` while 400
    arrive (``failed`` seen within ``failed_within`` seconds of the
    first 300, ``more_failed`` after the rest), none stored meanwhile;
    restored, 100 more, all written."""
    publisher = helper.ceilometer_publisher("127.0.0.1", collector.port)
    publisher.publish_samples(_batch(0, 100))
    _wait_rows(url, 100, 30)

    cut()
    for start in range(100, 400, 50):
        publisher.publish_samples(_batch(start, 50))
    helper.wait_until(failed, failed_within, "failed writes")
    publisher.publish_samples(_batch(400, 100))
    helper.wait_until(more_failed, 30, "more failed writes")
    assert _count(url) == 100
    assert collector.running()

    proxy.restore()
    publisher.publish_samples(_batch(500, 100))
    _wait_rows(url, 600, 60)
    assert collector.running()
    assert collector.stop() == 0


def _failed_writes_logged(collector):
    return collector.log_text().count("Database write of")


@pytest.mark.mysql
def test_database_outage_loses_nothing(mysql_database, tmp_path):
    with _collector_behind_proxy(mysql_database, tmp_path) as (
        proxy,
        collector,
    ):
        _through_an_outage(
            mysql_database,
            proxy,
            collector,
            proxy.sever,
            lambda: _failed_writes_logged(collector) >= 1,
            30,
            lambda: _failed_writes_logged(collector) >= 3,
        )
    assert _count(mysql_database) == 600
    assert "received=600 stored=600 duplicates=0" in collector.log_text()


@pytest.mark.mysql
def test_a_database_away_at_start_gets_what_was_held(mysql_database, tmp_path):
    with _collector_behind_proxy(
        mysql_database, tmp_path, away_at_start=True, stats_interval=1
    ) as (proxy, collector):
        publisher = helper.ceilometer_publisher("127.0.0.1", collector.port)
        publisher.publish_samples(_batch(0, 100))
        helper.wait_until(
            lambda: "received=100 stored=0" in collector.log_text(),
            30,
            "the samples held",
        )
        assert "does not answer at start" in collector.log_text()
        proxy.restore()
        publisher.publish_samples(_batch(100, 100))
        _wait_rows(mysql_database, 200, 60)
        assert collector.running()
        assert collector.stop() == 0
    assert "its schema is current" in collector.log_text()
    assert _stored_once(mysql_database, 200)


@pytest.mark.mysql
def test_a_silent_database_times_out_and_loses_nothing(
    mysql_database, tmp_path
):
    # The server neither answers nor closes: each attempt fails after
    # the read timeout the URL sets, and is retried.
    query = {"read_timeout": str(READ_TIMEOUT)}
    with _collector_behind_proxy(mysql_database, tmp_path, query) as (
        proxy,
        collector,
    ):
        _through_an_outage(
            mysql_database,
            proxy,
            collector,
            proxy.blackhole,
            lambda: len(_failures(collector)) >= 2,
            60,
            # One more attempt timed out after the last samples came.
            lambda: len(_failures(collector)) >= 3,
        )
    assert "timed out" in _failures(collector)[0]
    assert _stored_once(mysql_database, 600)
    # A write whose COMMIT the proxy held may have been applied late, so
    # that its retry found the samples there (duplicates).
    stats = _final_stats(collector)
    assert stats["received"] == 600
    assert stats["stored"] + stats["duplicates"] == 600
    assert stats["dropped"] == 0


@pytest.mark.mysql
def test_stopping_while_the_database_is_silent_ends(mysql_database, tmp_path):
    # A read timeout beyond the test: the writer process stays in its
    # statement, and the flush runs out of its shutdown_timeout.
    query = {"read_timeout": "3600"}
    with _collector_behind_proxy(
        mysql_database, tmp_path, query, shutdown_timeout=1
    ) as (proxy, collector):
        publisher = helper.ceilometer_publisher("127.0.0.1", collector.port)
        publisher.publish_samples(_batch(0, 100))
        _wait_rows(mysql_database, 100, 30)

        proxy.blackhole()
        publisher.publish_samples(_batch(100, 100))
        helper.wait_until(lambda: proxy.held, 30, "a write held")
        # It exits by itself (not killed by stop), with 1 for the samples
        # left unwritten.
        assert collector.stop(timeout=60) == 1
    left = re.search(
        r"Stopped with (\d+) samples not written", collector.log_text()
    )
    assert left and int(left.group(1)) > 0
    assert _final_stats(collector)["received"] == 200


def _session_ids(engine):
    with engine.connect() as conn:
        return set(
            conn.execute(
                sa.text("SELECT ID FROM information_schema.PROCESSLIST")
            ).scalars()
        )


@pytest.mark.mysql
def test_a_lost_connections_session_is_ended_with_its_locks(mysql_database):
    # A transaction holds a row lock when its connection is lost while
    # the server keeps the session: the engine's next connection ends it.
    direct = engine_mod.create_engine(mysql_database)
    url = sa.engine.make_url(mysql_database)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 3306))
    proxied = engine_mod.create_engine(
        url.set(host="127.0.0.1", port=proxy.port)
        .update_query_dict({"read_timeout": "1"})
        .render_as_string(hide_password=False)
    )
    try:
        with direct.begin() as conn:
            conn.execute(sa.text("CREATE TABLE locked (id INT PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO locked VALUES (1)"))
        lost = proxied.connect()
        lost.execute(sa.text("SELECT id FROM locked WHERE id = 1 FOR UPDATE"))
        orphan = lost.connection.dbapi_connection.thread_id()
        proxy.strand()
        with pytest.raises(sa.exc.OperationalError):
            lost.execute(sa.text("SELECT 1"))  # the read timeout
        lost.close()
        assert orphan in _session_ids(direct)
        with proxied.connect() as fresh:
            fresh.execute(sa.text("SELECT 1"))
        helper.wait_until(
            lambda: orphan not in _session_ids(direct), 10, "the session end"
        )
        with direct.begin() as conn:
            conn.execute(sa.text("SET SESSION innodb_lock_wait_timeout = 1"))
            row = conn.execute(
                sa.text("SELECT id FROM locked WHERE id = 1 FOR UPDATE")
            ).scalar()
        assert row == 1
    finally:
        proxied.dispose()
        direct.dispose()
        proxy.close()
