"""What a database error means for the collector's writes and reads.

A server that refuses writes (``refuses_writes``) is left for a new
connection; a missing table or column (``schema_gone``) is no refusal
of the data, which is held until ``ceilometer-ha dbsync``; and the
error worth reporting is the statement's own, not that of the ROLLBACK
that failed after it on a dead connection (``first_error``).
"""

import sqlalchemy as sa

# MySQL/MariaDB errors of a server that answers but will not take writes
# now: read-only (1290 --read-only, 1836 read-only mode, 1792 a
# read-only transaction), a Galera node not ready (1047, as oslo.db
# sees it), shutting down (1053). After a failover behind a virtual IP
# or a proxy another server takes them; the connection is dropped so
# that the retry connects anew. Kept, the pool would hand it out again
# (the old server still answers pool_pre_ping) until pool_recycle.
REFUSES_WRITES = frozenset({1047, 1053, 1290, 1792, 1836})
# Errors of a statement whose table or column is not there: the schema
# was dropped or is older than this code (1146 no such table, 1054 no
# such column; SQLite says so in words). Not the data's fault: held and
# retried, as while the database is away, never dropped as refused.
_SCHEMA_GONE = frozenset({1146, 1054})
_SQLITE_SCHEMA_GONE = ("no such table", "no such column", "has no column")


def _driver_error(exc: BaseException) -> BaseException:
    """The driver's own error behind a SQLAlchemy one."""
    return getattr(exc, "orig", None) or exc


def mysql_code(exc: BaseException) -> int | None:
    """The MySQL error number of ``exc`` (raw or wrapped), if it has one."""
    args = getattr(_driver_error(exc), "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def refuses_writes(exc: BaseException) -> bool:
    """Whether ``exc`` is a MySQL server's refusal to write now
    (``REFUSES_WRITES``): the connection must not be used again."""
    return mysql_code(exc) in REFUSES_WRITES


def schema_gone(exc: BaseException) -> bool:
    """Whether ``exc`` says a table or column of the schema is missing."""
    if mysql_code(exc) in _SCHEMA_GONE:
        return True
    text = str(_driver_error(exc))
    return type(_driver_error(exc)).__module__.startswith("sqlite3") and any(
        words in text for words in _SQLITE_SCHEMA_GONE
    )


def explain(exc: BaseException) -> str:
    """What to add to a failed write's description for an operator."""
    if schema_gone(exc):
        return (
            " (the tables are missing or older than this collector: "
            "samples are held; run ceilometer-ha dbsync)"
        )
    return ""


def first_error(exc: BaseException, engine: sa.engine.Engine) -> BaseException:
    """The driver's error that ``exc`` was raised while handling, if any,
    else ``exc``.

    A statement that times out or loses its connection leaves a dead
    connection, and the ROLLBACK that follows fails in turn, with a
    driver error that says nothing (PyMySQL's ``(0, '')``): what is
    raised is that one, the statement's error on its ``__context__``,
    as the driver raised it or wrapped by SQLAlchemy.
    """
    dbapi = getattr(engine.dialect, "dbapi", None)
    raised = _driver_error(exc)
    first = raised.__context__
    if dbapi is None or first is None or raised.__suppress_context__:
        return exc
    first = _driver_error(first)
    return first if isinstance(first, dbapi.Error) else exc


def drop_refusing(context) -> None:
    """``handle_error``: a server refusing writes counts as a lost
    connection, which SQLAlchemy then discards (``REFUSES_WRITES``)."""
    if refuses_writes(context.original_exception):
        context.is_disconnect = True


def reason(exc: BaseException, engine: sa.engine.Engine) -> BaseException:
    """The driver's error to report for ``exc``: the statement's own
    (``first_error``), not SQLAlchemy's wrapping of it."""
    return _driver_error(first_error(exc, engine))
