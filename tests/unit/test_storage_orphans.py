"""Sessions of lost MySQL connections are ended at the next connect,
on the server instance that holds them only."""

from ceilometer_ha.storage import orphans


class FakeError(Exception):
    """A driver error: its first argument is the MySQL error code."""


class FakeCursor:
    def __init__(self, server):
        self.server = server
        self._row = None

    def execute(self, statement):
        if statement.startswith("SHOW GLOBAL STATUS LIKE 'Uptime'"):
            if self.server.no_status:
                raise FakeError(1227, "Access denied")
            uptime = self.server.now - self.server.started - self.server.lag
            self._row = ("Uptime", str(uptime))
            return
        if statement.startswith("SELECT @@hostname"):
            self._row = (self.server.host, 3306, self.server.now)
            return
        self.server.statements.append(statement)
        thread_id = int(statement.split()[1])
        if thread_id not in self.server.sessions:
            raise FakeError(orphans.ER_NO_SUCH_THREAD, "Unknown thread id")
        self.server.sessions.discard(thread_id)

    def fetchone(self):
        return self._row

    def close(self):
        pass


class FakeConnection:
    """A DBAPI connection with PyMySQL's and mysqlclient's thread_id()."""

    def __init__(self, server, thread_id):
        self.server, self._thread_id = server, thread_id
        server.sessions.add(thread_id)

    def thread_id(self):
        return self._thread_id

    def cursor(self):
        return FakeCursor(self.server)


class FakeRecord:
    """SQLAlchemy's pool record: its ``info`` lives with the connection."""

    def __init__(self):
        self.info = {}


class FakeServer:
    def __init__(self, host="db-1", started=1_000):
        self.host, self.started, self.now = host, started, started + 50
        # Seconds the uptime read lags the clock read (both whole).
        self.lag = 0
        self.no_status = False
        self.sessions = set()
        self.statements = []

    def restart(self):
        self.sessions.clear()
        self.started = self.now = self.now + 30


def _connect(tracked, server, thread_id):
    """A new connection, as the pool makes one: the ``connect`` event."""
    conn, record = FakeConnection(server, thread_id), FakeRecord()
    tracked.end(conn, record)
    return conn, record


def test_the_next_connection_ends_the_sessions_of_lost_ones():
    server, tracked = FakeServer(), orphans.OrphanSessions()
    first = _connect(tracked, server, 7)
    second = _connect(tracked, server, 9)
    # Its start time read a second off (uptime and clock read apart):
    # the same instance still.
    server.lag = 1
    tracked.lost(*first)
    tracked.lost(*second)
    server.sessions.discard(9)  # the server noticed that one itself
    _connect(tracked, server, 12)
    assert server.statements == ["KILL 7", "KILL 9"]
    assert server.sessions == {12}
    # Forgotten once ended: the connection after that kills nothing.
    _connect(tracked, server, 13)
    assert server.statements == ["KILL 7", "KILL 9"]


def test_a_session_of_another_server_instance_is_never_killed():
    # After a restart, or on the node a VIP moved to, the same thread
    # id may be another client's live session.
    server, tracked = FakeServer(), orphans.OrphanSessions()
    lost_before_restart = _connect(tracked, server, 7)
    other_node = FakeServer(host="db-2")
    lost_on_other_node = _connect(tracked, other_node, 8)
    tracked.lost(*lost_before_restart)
    tracked.lost(*lost_on_other_node)
    server.restart()
    someone_else = FakeConnection(server, 7), FakeConnection(server, 8)
    _connect(tracked, server, 12)
    assert server.statements == []
    assert {c.thread_id() for c in someone_else} <= server.sessions


def test_a_server_that_hides_its_uptime_is_said(caplog):
    server, tracked = FakeServer(), orphans.OrphanSessions()
    server.no_status = True
    lost = _connect(tracked, server, 7)
    tracked.lost(*lost)
    _connect(tracked, server, 8)
    assert server.statements == []  # unknown: nothing killed
    assert "Cannot tell which database server instance" in caplog.text


def test_a_connection_of_unknown_instance_or_id_is_not_killed():
    class Closed:
        def thread_id(self):
            raise OSError("closed")

    server, tracked = FakeServer(), orphans.OrphanSessions()
    tracked.lost(Closed(), FakeRecord())
    tracked.lost(FakeConnection(server, 5), None)  # made before tracking
    _connect(tracked, server, 3)
    assert server.statements == []
