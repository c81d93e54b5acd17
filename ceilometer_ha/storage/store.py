"""One transaction per batch: insert samples, keep ``ha_latest`` current.

The statements (``storage.statements``) are compiled once and run as
the driver's own SQL on plain tuples. Samples of one key within a batch
apply in timestamp order because the batch is sorted, so ``streak`` and
``since`` come out as if the samples had arrived one by one.

``write_batch`` is ``prepare`` (records into the driver's parameters,
no database) then ``execute`` (one transaction), so that a writer can
prepare the next batch while the database writes the last one.
"""

import datetime
import json
import operator
import typing

import orjson
import sqlalchemy as sa

from ceilometer_ha import wire
from ceilometer_ha.storage import mysql_rows
from ceilometer_ha.storage import statements

# One row per sample, a tuple in this order: the record's fields (times
# and metadata converted for the driver), then ha_latest's own two. Each
# statement picks its parameters from it by position.
ROW_LAYOUT = (*wire.SampleRecord._fields, "since", "streak")
_POSITION = {name: index for index, name in enumerate(ROW_LAYOUT)}


# UTF-8 text as is; anything JSON cannot hold is written as its str().
# orjson first (about a tenth of the cost per sample); the standard
# encoder for what orjson refuses (integers beyond 64 bits, nesting
# deeper than 254, keys that are neither text nor numbers).
_METADATA_JSON = json.JSONEncoder(ensure_ascii=False, default=str)
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def _text_keys(value: typing.Any) -> typing.Any:
    if isinstance(value, dict):
        return {str(k): _text_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_text_keys(v) for v in value]
    return value


def metadata_text(metadata: dict) -> str:
    """``resource_metadata`` as JSON; keys JSON cannot hold become text."""
    try:
        return orjson.dumps(
            metadata, default=str, option=_ORJSON_OPTIONS
        ).decode()
    except (TypeError, ValueError):  # orjson.JSONEncodeError is both
        pass
    try:
        return _METADATA_JSON.encode(metadata)
    except (TypeError, ValueError):  # e.g. bytes keys from a bin type
        return _METADATA_JSON.encode(_text_keys(metadata))


def _picker(
    names: typing.Sequence[str],
) -> typing.Callable[[tuple[typing.Any, ...]], tuple[typing.Any, ...]]:
    """A statement's parameters, in its order, from a layout row."""
    positions = [_POSITION[name] for name in names]
    if len(positions) == 1:  # itemgetter of one index returns no tuple
        return lambda row: (row[positions[0]],)
    return operator.itemgetter(*positions)


class PreparedBatch(typing.NamedTuple):
    """A batch ready for ``SampleStore.execute``."""

    # ROW_LAYOUT tuples, in timestamp order.
    rows: list[tuple[typing.Any, ...]]
    # SQLite: one parameter tuple per row; MySQL: statement texts.
    insert: list[typing.Any]
    upsert: list[typing.Any]
    # MySQL: the string escaper the statements were built with.
    escape: typing.Callable[[str], str] | None


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
            insert, upsert = statements.sqlite_statements()
            self._time = _sqlite_time
        elif dialect.name == "mysql":
            insert, upsert = statements.mysql_statements()
            self._time = _same
        else:
            raise ValueError(f"unsupported database {dialect.name}")
        self._insert_sql, insert_names = statements.driver_sql(insert, dialect)
        self._upsert_sql, upsert_names = statements.driver_sql(upsert, dialect)
        self._insert_values = _picker(insert_names)
        self._upsert_values = _picker(upsert_names)
        self._mysql_insert: mysql_rows.MultiRowStatement | None = None
        self._mysql_upsert: mysql_rows.MultiRowStatement | None = None
        if dialect.name == "mysql" and dialect.driver == "pymysql":
            self._mysql_insert = mysql_rows.MultiRowStatement(
                self._insert_sql, [_POSITION[n] for n in insert_names]
            )
            self._mysql_upsert = mysql_rows.MultiRowStatement(
                self._upsert_sql, [_POSITION[n] for n in upsert_names]
            )
        # MySQL's default SQL mode; corrected by the first connection.
        self._escape: typing.Callable[[str], str] = mysql_rows.default_escaper

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
    ) -> list[tuple[typing.Any, ...]]:
        """One ``ROW_LAYOUT`` tuple per record, in timestamp order."""
        to_time, dumps = self._time, metadata_text
        # Datagrams read together share one recorded_at: convert it once.
        last_recorded: typing.Any = None
        recorded_text: typing.Any = None
        rows = []
        for (
            message_id,
            host,
            cluster,
            meter,
            resource_id,
            volume,
            unit,
            timestamp,
            recorded_at,
            source,
            metadata,
        ) in sorted(records, key=operator.itemgetter(7)):
            stamp = to_time(timestamp)
            if recorded_at is not last_recorded:
                last_recorded = recorded_at
                recorded_text = to_time(recorded_at)
            rows.append(
                (
                    message_id,
                    host,
                    cluster,
                    meter,
                    resource_id,
                    volume,
                    unit,
                    stamp,
                    recorded_text,
                    source,
                    dumps(metadata),
                    stamp,
                    1,
                )
            )
        return rows

    def prepare(
        self, records: typing.Sequence[wire.SampleRecord]
    ) -> PreparedBatch:
        """The driver's parameters (MySQL: statements) for ``records``.

        Pure computation, no database: a writer can prepare the next
        batch while the database works on the last one.
        """
        rows = self._rows(records)
        if self._mysql_insert is None:
            return PreparedBatch(
                rows,
                [self._insert_values(r) for r in rows],
                [self._upsert_values(r) for r in rows],
                None,
            )
        return self._mysql_prepared(rows, self._escape)

    def _mysql_prepared(
        self,
        rows: list[tuple[typing.Any, ...]],
        escape: typing.Callable[[str], str],
    ) -> PreparedBatch:
        assert self._mysql_insert and self._mysql_upsert
        lits = [mysql_rows.literals(r, ROW_LAYOUT, escape) for r in rows]
        return PreparedBatch(
            rows,
            self._mysql_insert.texts(lits),
            self._mysql_upsert.texts(lits),
            escape,
        )

    def execute(self, prepared: PreparedBatch) -> int:
        """Write a prepared batch in one transaction; return how many
        samples were new (the rest were duplicate message_ids).

        Database errors propagate; nothing is half written.
        """
        if not prepared.rows:
            return 0
        with self.engine.begin() as conn:
            if self._mysql_insert is None:
                inserted = conn.exec_driver_sql(
                    self._insert_sql, prepared.insert
                ).rowcount
                conn.exec_driver_sql(self._upsert_sql, prepared.upsert)
                return inserted
            return self._execute_mysql(conn, prepared)

    def write_batch(self, records: typing.Sequence[wire.SampleRecord]) -> int:
        """Store ``records`` in one transaction; return how many were new.

        The difference to ``len(records)`` is the number of duplicate
        message_ids. Records of one key apply in timestamp order. Database
        errors propagate; nothing is half written.
        """
        return self.execute(self.prepare(records))

    def _execute_mysql(
        self, conn: sa.engine.Connection, prepared: PreparedBatch
    ) -> int:
        dbapi_conn = conn.connection.dbapi_connection
        assert dbapi_conn is not None
        # Literals must be escaped as this connection's SQL mode reads
        # them (a backslash means nothing under NO_BACKSLASH_ESCAPES):
        # prepared for another mode, the batch is prepared again.
        escape = mysql_rows.string_escaper(dbapi_conn)
        if escape is not prepared.escape:
            self._escape = escape
            prepared = self._mysql_prepared(prepared.rows, escape)
        cursor = dbapi_conn.cursor()
        try:
            inserted = mysql_rows.run(cursor, prepared.insert)
            mysql_rows.run(cursor, prepared.upsert)
        finally:
            cursor.close()
        return inserted
