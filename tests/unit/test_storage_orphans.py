"""Sessions of lost MySQL connections are ended at the next connect."""

from ceilometer_ha.storage import orphans


class FakeError(Exception):
    """A driver error: its first argument is the MySQL error code."""


class FakeCursor:
    def __init__(self, server):
        self.server = server

    def execute(self, statement):
        self.server.statements.append(statement)
        thread_id = int(statement.split()[1])
        if thread_id not in self.server.sessions:
            raise FakeError(orphans.ER_NO_SUCH_THREAD, "Unknown thread id")
        self.server.sessions.discard(thread_id)

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


class FakeServer:
    def __init__(self):
        self.sessions = set()
        self.statements = []


def test_the_next_connection_ends_the_sessions_of_lost_ones():
    server, tracked = FakeServer(), orphans.OrphanSessions()
    first, second = FakeConnection(server, 7), FakeConnection(server, 9)
    tracked.lost(first, None)
    tracked.lost(second, None)
    server.sessions.discard(9)  # the server noticed that one itself
    fresh = FakeConnection(server, 12)
    tracked.end(fresh, None)
    assert server.statements == ["KILL 7", "KILL 9"]
    assert server.sessions == {12}
    # Forgotten once ended: the connection after that kills nothing.
    tracked.end(FakeConnection(server, 13), None)
    assert server.statements == ["KILL 7", "KILL 9"]


def test_a_connection_without_an_id_is_not_tracked():
    class Closed:
        def thread_id(self):
            raise OSError("closed")

    server, tracked = FakeServer(), orphans.OrphanSessions()
    tracked.lost(Closed(), None)
    tracked.end(FakeConnection(server, 3), None)
    assert server.statements == []
