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
"""

import threading
import typing

from oslo_log import log
import sqlalchemy as sa
from sqlalchemy import event

LOG = log.getLogger(__name__)
# MySQL's "Unknown thread id": the session already ended.
ER_NO_SUCH_THREAD = 1094


class OrphanSessions:
    """Server sessions of lost connections, ended at the next connect."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: set[int] = set()

    def lost(self, dbapi_conn: typing.Any, _record, _exc=None) -> None:
        """``invalidate`` event: remember the connection's server session."""
        try:
            thread_id = int(dbapi_conn.thread_id())
        except Exception:  # noqa: S110 - no id, nothing to end
            return
        with self._lock:
            self._ids.add(thread_id)

    def end(self, dbapi_conn: typing.Any, _record) -> None:
        """``connect`` event: end the remembered sessions first."""
        with self._lock:
            ids, self._ids = self._ids, set()
        if not ids:
            return
        cursor = dbapi_conn.cursor()
        try:
            for thread_id in sorted(ids):
                self._kill(cursor, thread_id)
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


def track(engine: sa.engine.Engine) -> OrphanSessions:
    """Listen on ``engine`` (MySQL) as the module doc says."""
    orphans = OrphanSessions()
    event.listen(engine, "invalidate", orphans.lost)
    event.listen(engine, "connect", orphans.end)
    return orphans


def _error_code(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None
