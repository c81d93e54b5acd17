"""One transaction per batch: insert samples, keep ``ha_latest`` current.

The statements are built once per dialect. ``ha_sample`` ignores a
``message_id`` it already holds (INSERT IGNORE on MySQL, ON CONFLICT DO
NOTHING on SQLite), so several collectors writing one database store a
sample once. ``ha_latest`` is upserted per (host, meter, resource_id) as
documented in ``models``: only a strictly newer timestamp changes a row;
``streak`` grows while the volume repeats and restarts at 1 (with
``since`` = the new timestamp) when it changes.

MySQL evaluates ``ON DUPLICATE KEY UPDATE`` assignments left to right on
already updated values, so ``streak`` and ``since`` are assigned before
``volume``, and ``timestamp`` (which every condition reads) last. SQLite's
``DO UPDATE ... WHERE`` sees the old row throughout. Samples of one key
within a batch apply in timestamp order because the batch is sorted.
"""

import datetime
import json
import operator
import re
import typing

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects import sqlite

from ceilometer_ha import wire
from ceilometer_ha.storage import models
from ceilometer_ha.storage import mysql_rows

# A literal, not a bound parameter: PyMySQL's executemany only rewrites
# INSERT into one multi-row statement when the ON DUPLICATE KEY UPDATE
# clause holds no parameters.
_ONE: typing.Any = sa.literal_column("1")
_LATEST_KEY = ("host", "meter", "resource_id")
_LATEST_COPIED = (
    "cluster",
    "message_id",
    "volume",
    "unit",
    "recorded_at",
    "resource_metadata",
)


def _sqlite_statements() -> tuple[typing.Any, typing.Any]:
    ins = sqlite.insert(models.sample).on_conflict_do_nothing()
    up = sqlite.insert(models.latest)
    old, new = models.latest.c, up.excluded
    same = new.volume == old.volume
    set_: dict[str, typing.Any] = {
        "streak": sa.case((same, old.streak + _ONE), else_=_ONE),
        "since": sa.case((same, old.since), else_=new.since),
    }
    for name in (*_LATEST_COPIED, "timestamp"):
        set_[name] = new[name]
    up = up.on_conflict_do_update(
        index_elements=list(_LATEST_KEY),
        set_=set_,
        where=new.timestamp > old.timestamp,
    )
    return ins, up


def _mysql_statements() -> tuple[typing.Any, typing.Any]:
    ins = mysql.insert(models.sample).prefix_with("IGNORE")
    up = mysql.insert(models.latest)
    old, new = models.latest.c, up.inserted
    newer = new.timestamp > old.timestamp
    same = new.volume == old.volume
    assignments: list[tuple[str, typing.Any]] = [
        (
            "streak",
            sa.case(
                (newer, sa.case((same, old.streak + _ONE), else_=_ONE)),
                else_=old.streak,
            ),
        ),
        (
            "since",
            sa.case(
                (newer, sa.case((same, old.since), else_=new.since)),
                else_=old.since,
            ),
        ),
    ]
    for name in (*_LATEST_COPIED, "timestamp"):
        assignments.append(
            (name, sa.case((newer, new[name]), else_=old[name]))
        )
    return ins, up.on_duplicate_key_update(assignments)


# UTF-8 text as is; anything JSON cannot hold is written as its str().
_METADATA_JSON = json.JSONEncoder(ensure_ascii=False, default=str)


def _text_keys(value: typing.Any) -> typing.Any:
    if isinstance(value, dict):
        return {str(k): _text_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_text_keys(v) for v in value]
    return value


def metadata_text(metadata: dict) -> str:
    """``resource_metadata`` as JSON; keys JSON cannot hold become text."""
    try:
        return _METADATA_JSON.encode(metadata)
    except (TypeError, ValueError):  # e.g. bytes keys from a bin type
        return _METADATA_JSON.encode(_text_keys(metadata))


_PYFORMAT = re.compile(r"%\((\w+)\)s")


def _driver_sql(
    stmt: typing.Any, dialect: typing.Any
) -> tuple[str, list[str]]:
    """The statement as the driver's positional SQL, and its parameters."""
    compiled = stmt.compile(dialect=dialect)
    sql = str(compiled)
    if compiled.positional:
        return sql, list(compiled.positiontup or [])
    return _PYFORMAT.sub("%s", sql), _PYFORMAT.findall(sql)


def _sqlite_time(when: datetime.datetime) -> typing.Any:
    # SQLAlchemy's SQLite DateTime storage format, so reads parse it.
    return when.isoformat(" ", "microseconds")


def _same(when: datetime.datetime) -> typing.Any:
    return when


class SampleStore:
    """Writes batches of records into the schema of ``models``.

    Statements are built with SQLAlchemy once, then run as the driver's
    own SQL with positional rows (``exec_driver_sql``): per-row parameter
    processing in SQLAlchemy cost more than the database work.
    """

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine
        dialect = engine.dialect
        if dialect.name == "sqlite":
            insert, upsert = _sqlite_statements()
            self._time = _sqlite_time
        elif dialect.name == "mysql":
            insert, upsert = _mysql_statements()
            self._time = _same
        else:
            raise ValueError(f"unsupported database {dialect.name}")
        self._insert_sql, names = _driver_sql(insert, dialect)
        self._insert_values = operator.itemgetter(*names)
        self._insert_values_names = names
        self._upsert_sql, names = _driver_sql(upsert, dialect)
        self._upsert_values = operator.itemgetter(*names)
        self._mysql_insert: mysql_rows.MultiRowStatement | None = None
        self._mysql_upsert: mysql_rows.MultiRowStatement | None = None
        if dialect.name == "mysql" and dialect.driver == "pymysql":
            self._mysql_insert = mysql_rows.MultiRowStatement(
                self._insert_sql, self._insert_values_names
            )
            self._mysql_upsert = mysql_rows.MultiRowStatement(
                self._upsert_sql, names
            )

    def is_permanent(self, exc: BaseException) -> bool:
        """True when the database refuses the data itself.

        PEP 249's DataError, IntegrityError, ProgrammingError and
        NotSupportedError (raw or wrapped by SQLAlchemy) will fail again
        on a retry; anything else (lost connection, lock timeout) may
        not.
        """
        if isinstance(exc, (TypeError, ValueError, RecursionError)):
            return True  # the row cannot even be built
        if isinstance(exc, sa.exc.DBAPIError):
            if exc.connection_invalidated:
                return False
            exc = exc.orig or exc
        dbapi = self.engine.dialect.dbapi
        names = (
            "DataError",
            "IntegrityError",
            "ProgrammingError",
            "NotSupportedError",
        )
        kinds = tuple(getattr(dbapi, n) for n in names if hasattr(dbapi, n))
        return bool(kinds) and isinstance(exc, kinds)

    def _rows(
        self, records: typing.Sequence[wire.SampleRecord]
    ) -> list[dict[str, typing.Any]]:
        rows = []
        to_time, dumps = self._time, metadata_text
        for record in sorted(records, key=operator.itemgetter(7)):
            row = record._asdict()
            row["resource_metadata"] = dumps(record.resource_metadata)
            row["timestamp"] = row["since"] = to_time(record.timestamp)
            row["recorded_at"] = to_time(record.recorded_at)
            row["streak"] = 1
            rows.append(row)
        return rows

    def write_batch(self, records: typing.Sequence[wire.SampleRecord]) -> int:
        """Store ``records`` in one transaction; return how many were new.

        The difference to ``len(records)`` is the number of duplicate
        message_ids. Records of one key apply in timestamp order. Database
        errors propagate; nothing is half written.
        """
        if not records:
            return 0
        rows = self._rows(records)
        with self.engine.begin() as conn:
            if self._mysql_insert is None:
                inserted = conn.exec_driver_sql(
                    self._insert_sql, [self._insert_values(r) for r in rows]
                ).rowcount
                conn.exec_driver_sql(
                    self._upsert_sql, [self._upsert_values(r) for r in rows]
                )
                return inserted
            return self._write_mysql(conn, rows)

    def _write_mysql(
        self, conn: sa.engine.Connection, rows: list[dict[str, typing.Any]]
    ) -> int:
        assert self._mysql_insert and self._mysql_upsert
        dbapi_conn = conn.connection.dbapi_connection
        assert dbapi_conn is not None
        escape = mysql_rows.string_escaper(dbapi_conn)
        lits = [mysql_rows.literals(r, escape) for r in rows]
        cursor = dbapi_conn.cursor()
        try:
            inserted = self._mysql_insert.execute(cursor, lits)
            self._mysql_upsert.execute(cursor, lits)
        finally:
            cursor.close()
        return inserted
