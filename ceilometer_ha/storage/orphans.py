"""Ending the server sessions that lost MySQL connections leave behind.

When a connection is lost without the server noticing (a partition, a
statement given up on after the driver's read timeout), the server
keeps the session, and with it the open transaction's row locks, until
its own keepalive or ``wait_timeout`` ends it: hours with the defaults.
Every later batch touching those ``ha_latest`` rows would wait out
InnoDB's lock wait and fail, again and again, while samples pile up.

``track`` listens on a MySQL engine: it remembers the server thread id
of every connection SQLAlchemy invalidates (a lost connection, a
timeout, a failed pre-ping), and the next new connection of that engine
ends those sessions with ``KILL`` before it is used. A user may kill
its own sessions without any privilege; a session that already ended
("unknown thread") is simply forgotten.

A thread id means something only on the server instance that gave it:
after a restart, or once the address leads to another node (a VIP
moving, a Galera failover), the same number may be another client's
live session. Each connection therefore notes its server instance when
made (host name, port and start time, ``server_instance``), and a lost
session is ended only through a connection to that same instance; one
whose server is gone or another is forgotten (that server ended it,
or still has it and ends it at its own timeout).
"""

import threading
import typing

from oslo_log import log
import sqlalchemy as sa
from sqlalchemy import event

LOG = log.getLogger(__name__)
# MySQL's "Unknown thread id": the session already ended.
ER_NO_SUCH_THREAD = 1094
# Seconds two readings of one server's start time may differ by
# (each is its clock less its uptime, both in whole seconds).
START_TIME_SLACK = 2
# Where a connection's pool record keeps its server instance.
_INFO_KEY = "ceilometer_ha_server"
Instance = tuple[str, int, int]


def server_instance(dbapi_conn: typing.Any) -> Instance | None:
    """(host name, port, start time) of the server of ``dbapi_conn``;
    None if it cannot be read."""
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute("SHOW GLOBAL STATUS LIKE 'Uptime'")
        (_, uptime) = cursor.fetchone()
        cursor.execute("SELECT @@hostname, @@port, UNIX_TIMESTAMP()")
        host, port, now = cursor.fetchone()
        return str(host), int(port), int(now) - int(uptime)
    except Exception as exc:  # no such variable, no answer: unknown
        LOG.warning(
            "Cannot tell which database server instance this connection "
            "reached (%s): sessions that lost connections leave open "
            "will not be ended through it",
            exc,
        )
        return None
    finally:
        cursor.close()


def _same(a: Instance | None, b: Instance | None) -> bool:
    if a is None or b is None:
        return False
    return a[:2] == b[:2] and abs(a[2] - b[2]) <= START_TIME_SLACK


class OrphanSessions:
    """Server sessions of lost connections, ended at the next connect."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: set[tuple[Instance | None, int]] = set()

    def lost(self, dbapi_conn: typing.Any, record, _exc=None) -> None:
        """``invalidate`` event: remember the connection's server session."""
        try:
            thread_id = int(dbapi_conn.thread_id())
        except Exception:  # noqa: S110 - no id, nothing to end
            return
        instance = record.info.get(_INFO_KEY) if record is not None else None
        with self._lock:
            self._ids.add((instance, thread_id))

    def end(self, dbapi_conn: typing.Any, record) -> None:
        """``connect`` event: note the new connection's server instance,
        then end the remembered sessions of that instance."""
        instance = server_instance(dbapi_conn)
        if record is not None:
            record.info[_INFO_KEY] = instance
        with self._lock:
            ids, self._ids = self._ids, set()
        if not ids:
            return
        cursor = dbapi_conn.cursor()
        try:
            for lost_on, thread_id in sorted(ids, key=lambda i: i[1]):
                if _same(lost_on, instance):
                    self._kill(cursor, thread_id)
                else:
                    LOG.info(
                        "Database session %d of a lost connection not "
                        "ended: it was on another server instance (%s) "
                        "than this connection's (%s)",
                        thread_id,
                        _name(lost_on),
                        _name(instance),
                    )
        finally:
            cursor.close()

    @staticmethod
    def _kill(cursor: typing.Any, thread_id: int) -> None:
        try:
            cursor.execute(f"KILL {thread_id:d}")
        except Exception as exc:
            if _error_code(exc) != ER_NO_SUCH_THREAD:
                LOG.warning(
                    "Could not end database session %d that a lost "
                    "connection left open (its locks stay until the "
                    "server ends it): %s",
                    thread_id,
                    exc,
                )
            return
        LOG.warning(
            "Ended database session %d, which a lost connection had left "
            "open on the server with its locks",
            thread_id,
        )


def _name(instance: Instance | None) -> str:
    if instance is None:
        return "unknown"
    host, port, started = instance
    return f"{host}:{port} started at {started}"


def track(engine: sa.engine.Engine) -> OrphanSessions:
    """Listen on ``engine`` (MySQL) as the module doc says."""
    orphans = OrphanSessions()
    event.listen(engine, "invalidate", orphans.lost)
    event.listen(engine, "connect", orphans.end)
    return orphans


def _error_code(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None
