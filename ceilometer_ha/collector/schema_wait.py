"""The schema check at start, and the wait for a database that is away.

A collector started while its database does not answer (a cold start of
the control plane, a database failing over) receives and holds samples
as it does during an outage: ``check_or_wait`` tells the dispatcher to
wait, and ``SchemaWaiter`` checks the schema in a thread, with the
writer's backoff, until the database answers. A schema found missing or
old then is not a reason to drop what is held: the waiter logs an ERROR
naming ``ceilometer-ha dbsync`` at every attempt and goes on once the
schema is current. A database that answers at start with a wrong schema
still stops the start (``migration.SchemaError``), and so does a SQLite
file that cannot be opened: a local path is a setting to fix, not a
server to wait for.
"""

import collections.abc
import logging
import threading

from oslo_log import log
import sqlalchemy as sa

from ceilometer_ha.storage import migration

LOG = log.getLogger(__name__)
FIRST_INTERVAL = 0.1
# MySQL/MariaDB errors of a server that answers but refuses the
# connection: settings to fix, said as an ERROR (and still waited for:
# the grants or the database may be created meanwhile).
_CHECK_URL = "check the user and password of [database] connection"
_REFUSALS = {
    1044: f"refuses this user the database: {_CHECK_URL} and its grants",
    1045: f"refuses the credentials: {_CHECK_URL}",
    1049: "has no such database: create it (then run ceilometer-ha "
    "dbsync) or correct [database] connection",
    1698: f"refuses the credentials: {_CHECK_URL}",
}


def check_or_wait(engine: sa.engine.Engine) -> bool:
    """True if the schema is current; False if the database is away.

    Raises ``migration.SchemaError`` when the database answers with a
    schema that is missing or not at the head revision.
    """
    try:
        migration.check_current(engine)
    except sa.exc.OperationalError as exc:
        if engine.dialect.name == "sqlite":
            raise
        refused = _refusal(exc)
        if refused:
            LOG.error(
                "The database refuses this collector: %s (%s): receiving "
                "and holding samples, trying again until it is fixed",
                refused,
                _first_line(exc),
            )
        else:
            LOG.warning(
                "The database does not answer at start (%s): receiving "
                "and holding samples until it does, then checking its "
                "schema",
                _first_line(exc),
            )
        return False
    return True


class SchemaWaiter:
    """Checks the schema until it is current, then calls ``ready``."""

    def __init__(
        self,
        engine: sa.engine.Engine,
        max_interval: float,
        stopping: threading.Event,
        ready: collections.abc.Callable[[], None],
    ) -> None:
        self._engine = engine
        self._max_interval = max_interval
        self._stopping = stopping
        self._ready = ready
        self._thread = threading.Thread(
            target=self._run, name="schema-wait", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the thread after ``stopping`` was set (if it ran), at
        most ``timeout`` seconds (None: until it ends)."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        pause = FIRST_INTERVAL
        while not self._stopping.wait(pause):
            try:
                migration.check_current(self._engine)
            except sa.exc.OperationalError as exc:
                refused = _refusal(exc)
                LOG.log(
                    logging.ERROR if refused else logging.WARNING,
                    "Holding samples: the database %s (%s), next try in "
                    "%.1f s",
                    refused or "still does not answer",
                    _first_line(exc),
                    min(pause * 2, self._max_interval),
                )
            except migration.SchemaError as exc:
                LOG.error("Holding samples: %s", exc)
            except Exception:
                # Not expected; were it to end the thread, samples would
                # be held for ever without another word.
                LOG.exception("Holding samples: the schema check failed")
            else:
                if self._stopping.is_set():
                    return  # stopped while the check ran: write nothing
                LOG.info("The database answers and its schema is current")
                self._ready()
                return
            pause = min(pause * 2, self._max_interval)


def _refusal(exc: sa.exc.OperationalError) -> str | None:
    """What the operator must fix when a MySQL server that answers
    refuses the connection; None when it did not answer."""
    args = getattr(exc.orig, "args", ())
    code = args[0] if args else None
    return _REFUSALS.get(code) if isinstance(code, int) else None


def _first_line(exc: BaseException) -> str:
    lines = str(exc).splitlines()
    return lines[0] if lines else type(exc).__name__
