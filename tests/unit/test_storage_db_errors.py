"""What database errors mean: refusals, missing tables, first errors."""

import sqlite3
import types

import pymysql
import pytest
import sqlalchemy as sa

from ceilometer_ha.storage import db_errors


@pytest.mark.parametrize(
    "error, refuses",
    [
        (pymysql.err.OperationalError(1290, "--read-only option"), True),
        (pymysql.err.OperationalError(1792, "READ ONLY transaction"), True),
        (pymysql.err.OperationalError(1047, "WSREP not ready"), True),
        (pymysql.err.OperationalError(2006, "server has gone away"), False),
        (pymysql.err.IntegrityError(1062, "Duplicate entry"), False),
        (
            sqlite3.OperationalError("attempt to write a readonly database"),
            False,
        ),
    ],
)
def test_a_server_refusing_writes_is_told_from_other_errors(error, refuses):
    assert db_errors.refuses_writes(error) is refuses
    wrapped = sa.exc.OperationalError("INSERT", None, error)
    assert db_errors.refuses_writes(wrapped) is refuses


@pytest.mark.parametrize(
    "error, gone",
    [
        (pymysql.err.ProgrammingError(1146, "Table doesn't exist"), True),
        (pymysql.err.OperationalError(1054, "Unknown column"), True),
        (sqlite3.OperationalError("no such table: ha_sample"), True),
        (
            sqlite3.OperationalError("table ha_latest has no column named x"),
            True,
        ),
        (pymysql.err.ProgrammingError(1064, "SQL syntax"), False),
        (sqlite3.OperationalError("database is locked"), False),
        (ValueError("no such table"), False),
    ],
)
def test_a_missing_table_or_column_is_told_and_explained(error, gone):
    assert db_errors.schema_gone(error) is gone
    said = db_errors.explain(sa.exc.ProgrammingError("INSERT", None, error))
    assert ("run ceilometer-ha dbsync" in said) is gone
    assert (said == "") is not gone


class DriverError(Exception):
    """A DB-API driver's ``Error``."""


DRIVER_ENGINE = types.SimpleNamespace(
    dialect=types.SimpleNamespace(
        dbapi=types.SimpleNamespace(Error=DriverError)
    )
)


def _raised_while_handling(first, then):
    """``then`` as raised in an ``except`` clause that caught ``first``."""
    try:
        try:
            raise first
        except BaseException:
            raise then  # noqa: B904 (the implicit context is the point)
    except BaseException as exc:
        return exc


def test_the_first_error_is_the_statements_not_the_rollbacks():
    timeout = DriverError(2013, "Lost connection (timed out)")
    # In the writer process: the driver's ROLLBACK error, raised while
    # handling the driver's own error.
    rollback = _raised_while_handling(timeout, DriverError(0, ""))
    assert db_errors.first_error(rollback, DRIVER_ENGINE) is timeout
    # Through SQLAlchemy (ceilometer-ha status): both are wrapped.
    statement = sa.exc.OperationalError("SELECT 1", None, timeout)
    rollback = _raised_while_handling(statement, DriverError(0, ""))
    wrapped = sa.exc.InterfaceError("ROLLBACK", None, rollback)
    assert db_errors.first_error(wrapped, DRIVER_ENGINE) is timeout


def test_an_error_raised_alone_is_its_own_first_error():
    alone = sa.exc.OperationalError("SELECT 1", None, DriverError(2006))
    assert db_errors.first_error(alone, DRIVER_ENGINE) is alone
    # Raised while handling something that is not the driver's error.
    after = _raised_while_handling(KeyError("x"), DriverError(0, ""))
    assert db_errors.first_error(after, DRIVER_ENGINE) is after
    # The context set aside on purpose (raise ... from None).
    hidden = _raised_while_handling(DriverError(2013), DriverError(0, ""))
    hidden.__suppress_context__ = True
    assert db_errors.first_error(hidden, DRIVER_ENGINE) is hidden
    # No driver known (a fake engine): nothing to tell errors by.
    unknown = types.SimpleNamespace(dialect=types.SimpleNamespace(dbapi=None))
    rollback = _raised_while_handling(DriverError(2013), DriverError(0, ""))
    assert db_errors.first_error(rollback, unknown) is rollback
