"""How the health reads fetch thousands of rows: fast, whole, one snapshot.

PyMySQL decodes every row and column in pure Python, and SQLAlchemy's
row objects cost more than the query itself at 10,000 hosts: the reads
(``reader``, ``latest_rows``, ``history``) run their queries on the
DB-API cursor with ``fetch_all`` and, on MySQL/MariaDB, fold their rows
into one ``GROUP_CONCAT`` text. The server returns at most
``max_allowed_packet`` bytes of such a text, whatever
``group_concat_max_len`` says, and cuts the rest with a warning:
``allow_long_concat`` lifts the session's limit and ``concat_was_cut``
tells a cut text, which the caller must not take as whole. Hosts are
named ``chunks`` at a time in ``IN`` lists, and ``begin_snapshot`` makes
the reads of one report see one state of the database.
"""

import collections.abc
import datetime

import sqlalchemy as sa

from ceilometer_ha.storage import models

_CHUNK = 500
# MySQL/MariaDB's warning "Row N was cut by GROUP_CONCAT()".
CONCAT_CUT = 1260


def _datetime(conn: sa.Connection) -> sa.types.TypeEngine:
    return models.PreciseDateTime.dialect_impl(conn.dialect)


def fetch_all(
    conn: sa.Connection,
    query: sa.Select,
    datetime_columns: collections.abc.Sequence[int] = (),
) -> list[tuple]:
    """Run ``query`` on the DB-API cursor of ``conn`` (same transaction).

    SQLAlchemy's row objects cost more than the query itself for 10,000
    rows with PyMySQL; only the datetime conversions are kept (SQLite
    stores text).
    """
    compiled = query.compile(
        dialect=conn.dialect, compile_kwargs={"render_postcompile": True}
    )
    to_db = _datetime(conn).bind_processor(conn.dialect)
    named = {
        name: to_db(value)
        if to_db and isinstance(value, datetime.datetime)
        else value
        for name, value in compiled.params.items()
    }
    params: dict | tuple = named
    if compiled.positiontup is not None:
        params = tuple(named[n] for n in compiled.positiontup)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        cursor.execute(str(compiled), params)
        rows = cursor.fetchall()
    except dbapi_error as exc:
        raise sa.exc.DBAPIError.instance(
            str(compiled), params, exc, dbapi_error, dialect=conn.dialect
        ) from exc
    finally:
        cursor.close()
    from_db = _datetime(conn).result_processor(conn.dialect, None)
    if not (from_db and datetime_columns):
        return list(rows)
    converted = []
    for row in rows:
        values = list(row)
        for index in datetime_columns:
            values[index] = from_db(values[index])
        converted.append(tuple(values))
    return converted


def begin_snapshot(conn: sa.Connection) -> None:
    """Make the reads that follow on ``conn`` see one snapshot.

    MySQL/MariaDB (InnoDB, REPEATABLE READ) do once the connection is in
    a transaction, which SQLAlchemy begins with the first statement.
    Python's sqlite3 begins none for a SELECT: each read would see the
    database as it is then, so a transaction is begun explicitly.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN")


def concat_was_cut(conn: sa.Connection) -> bool:
    """True when the last statement on ``conn`` (MySQL) returned a
    GROUP_CONCAT text cut short: the server returns at most
    ``max_allowed_packet`` bytes whatever ``group_concat_max_len``."""
    warnings = conn.exec_driver_sql("SHOW WARNINGS").fetchall()
    return any(int(w[1]) == CONCAT_CUT for w in warnings)


def allow_long_concat(conn: sa.Connection) -> None:
    """Lift MySQL's 1 MiB group_concat limit (some 25,000 hosts) for conn."""
    if conn.dialect.name == "mysql":
        conn.exec_driver_sql("SET SESSION group_concat_max_len = 1073741824")


def chunks(
    items: collections.abc.Sequence[str],
) -> collections.abc.Iterator[collections.abc.Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
