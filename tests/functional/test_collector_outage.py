"""The database goes away under load and comes back: nothing is lost.

A small TCP proxy (127.0.0.1, ephemeral port -> the MariaDB server) sits
between the collector process and the database. The test severs it while
samples keep arriving, restores it, and finds every sample stored and the
collector still running.
"""

import contextlib
import socket
import threading

import pytest
import sqlalchemy as sa

from tests import conftest
from tests.functional import collector as helper


class TcpProxy:
    """Forwards 127.0.0.1:port to ``upstream``; ``sever``/``restore`` it.

    While severed every open connection is closed and new ones are
    accepted and closed at once, as a database that went away.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._severed = threading.Event()
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
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
            with self._lock:
                self._sockets += [client, server]
            for src, dst in ((client, server), (server, client)):
                threading.Thread(
                    target=self._pump, args=(src, dst), daemon=True
                ).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
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

    def restore(self) -> None:
        self._severed.clear()

    def close(self) -> None:
        self._closing.set()
        self.sever()
        self._listener.close()
        self._thread.join(5)


@pytest.fixture
def mysql_database():
    server = conftest.mysql_server_url()
    if not server:
        pytest.skip(f"{conftest.MYSQL_URL_ENV} is not set")
    url = conftest.create_mysql_database(server)
    try:
        yield url
    finally:
        conftest.drop_mysql_database(server, url)


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


@pytest.mark.mysql
def test_database_outage_loses_nothing(mysql_database, tmp_path):
    direct = sa.engine.make_url(mysql_database)
    proxy = TcpProxy((direct.host or "127.0.0.1", direct.port or 3306))
    proxied = direct.set(host="127.0.0.1", port=proxy.port)
    options = {
        "collector": {"db_retry_max_interval": 0.5, "batch_timeout": 0.05}
    }
    collector = helper.CollectorProcess(
        proxied.render_as_string(hide_password=False), tmp_path, options
    )
    try:
        collector.start()
        publisher = helper.ceilometer_publisher("127.0.0.1", collector.port)
        publisher.publish_samples(_batch(0, 100))
        _wait_rows(mysql_database, 100, 30)

        proxy.sever()
        for start in range(100, 400, 50):
            publisher.publish_samples(_batch(start, 50))
        helper.wait_until(
            lambda: "Database write of" in collector.log_text(),
            30,
            "a failed write",
        )
        publisher.publish_samples(_batch(400, 100))
        helper.wait_until(
            lambda: collector.log_text().count("Database write of") >= 3,
            30,
            "three failed writes",
        )
        assert _count(mysql_database) == 100
        assert collector.running()

        proxy.restore()
        publisher.publish_samples(_batch(500, 100))
        _wait_rows(mysql_database, 600, 60)
        assert collector.running()
        assert collector.stop() == 0
    finally:
        if collector.running():
            collector.stop()
        proxy.close()
    assert _count(mysql_database) == 600
    assert "received=600 stored=600 duplicates=0" in collector.log_text()
