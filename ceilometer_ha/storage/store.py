"""One transaction per batch: insert samples, keep ``ha_latest`` current.

The statements (``storage.statements``) are compiled once and run as
the driver's own SQL: the samples go in as rows (``storage.rows``), and
``ha_latest`` is upserted from them by the database itself, reading
back the rows of the batch in timestamp order, so ``streak`` and
``since`` come out as if the samples had arrived one by one.

``write_batch`` is ``prepare`` (records into the driver's parameters,
no database) then ``execute`` (one transaction), so that a writer can
prepare the next batch while the database writes the last one.
"""

import typing

import sqlalchemy as sa

from ceilometer_ha import wire
from ceilometer_ha.storage import db_errors
from ceilometer_ha.storage import mysql_rows
from ceilometer_ha.storage import rows as rows_mod
from ceilometer_ha.storage import statements

# Where the compiled MySQL upsert takes its message_id list.
_IDS = "__[POSTCOMPILE_ids]"
_HIGHEST_ROWID = "SELECT max(rowid) FROM ha_sample"


class PreparedBatch(typing.NamedTuple):
    """A batch ready for ``SampleStore.execute``."""

    # storage.rows rows, in timestamp order.
    rows: list[rows_mod.Row]
    # PyMySQL: the statement texts of the insert and of the upsert;
    # other drivers: None (parameters are bound from ``rows``).
    insert: list[str] | None
    latest: list[str] | None
    # PyMySQL: the string escaper the statements were built with.
    escape: typing.Callable[[str], str] | None


class SampleStore:
    """Writes batches of records into the schema of ``models``.

    Statements are built with SQLAlchemy once, then run as the driver's
    own SQL with positional rows (``exec_driver_sql``): per-row parameter
    processing in SQLAlchemy cost more than the database work. With
    PyMySQL the rows become SQL literals (``mysql_rows``) in multi-row
    statements.
    """

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine
        dialect = engine.dialect
        if dialect.name == "sqlite":
            insert, self._latest = statements.sqlite_statements()
            self._time: rows_mod.TimeConverter = rows_mod.sqlite_time
        elif dialect.name == "mysql":
            insert, self._latest = statements.mysql_statements()
            self._time = rows_mod.same_time
        else:
            raise ValueError(f"unsupported database {dialect.name}")
        self._insert_sql, names = statements.driver_sql(insert, dialect)
        if tuple(names) != rows_mod.LAYOUT:
            raise AssertionError(f"ha_sample columns {names} out of order")
        self._latest_sql, _ = statements.driver_sql(self._latest, dialect)
        self._literal = dialect.name == "mysql" and dialect.driver == "pymysql"
        if self._literal:
            self._mysql_insert = mysql_rows.MultiRowStatement(self._insert_sql)
            self._mysql_latest = mysql_rows.InListStatement(
                self._latest_sql, _IDS
            )
        # MySQL's default SQL mode; corrected by the first connection.
        self._escape: typing.Callable[[str], str] = mysql_rows.default_escaper

    def is_permanent(self, exc: BaseException) -> bool:
        """True when the database refuses the data itself.

        PEP 249's DataError, IntegrityError, ProgrammingError and
        NotSupportedError (raw or wrapped by SQLAlchemy) will fail again
        on a retry; anything else (lost connection, lock timeout) may
        not, nor may a missing table or column (MySQL's
        ProgrammingError), which ``ceilometer-ha dbsync`` makes again.
        """
        if isinstance(exc, (TypeError, ValueError, RecursionError)):
            return True  # the row cannot even be built
        if db_errors.schema_gone(exc):
            return False  # held until dbsync makes the tables again
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

    def prepare(
        self, records: typing.Sequence[wire.SampleRecord]
    ) -> PreparedBatch:
        """The rows (PyMySQL: statements) for ``records``.

        Pure computation, no database: a writer can prepare the next
        batch while the database writes the last one.
        """
        rows = rows_mod.build(records, self._time)
        if not self._literal:
            return PreparedBatch(rows, None, None, None)
        return self._literal_statements(rows, self._escape)

    def _literal_statements(
        self,
        rows: list[rows_mod.Row],
        escape: typing.Callable[[str], str],
    ) -> PreparedBatch:
        lits = [mysql_rows.literals(r, rows_mod.LAYOUT, escape) for r in rows]
        return PreparedBatch(
            rows,
            self._mysql_insert.texts(lits),
            self._mysql_latest.texts([lit[0] for lit in lits]),
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
            if self._literal:
                return self._execute_literal(conn, prepared)
            inserted = conn.exec_driver_sql(
                self._insert_sql, prepared.rows
            ).rowcount
            if self.engine.dialect.name == "sqlite":
                # The rows of this batch are the ``inserted`` highest:
                # SQLite gives each new row the highest rowid plus one,
                # and since the insert this transaction holds the write
                # lock. (Read before the insert, the highest rowid could
                # fall meanwhile, by a TTL expiry deleting the newest
                # rows, and the batch's rows be missed.)
                highest = conn.exec_driver_sql(_HIGHEST_ROWID).scalar() or 0
                conn.exec_driver_sql(self._latest_sql, (highest - inserted,))
            else:
                ids = [row[0] for row in prepared.rows]
                conn.execute(self._latest, {"ids": ids})
            return inserted

    def write_batch(self, records: typing.Sequence[wire.SampleRecord]) -> int:
        """Store ``records`` in one transaction; return how many were new.

        The difference to ``len(records)`` is the number of duplicate
        message_ids. Records of one key apply in timestamp order. Database
        errors propagate; nothing is half written.
        """
        return self.execute(self.prepare(records))

    def _execute_literal(
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
            prepared = self._literal_statements(prepared.rows, escape)
        assert prepared.insert is not None and prepared.latest is not None
        cursor = dbapi_conn.cursor()
        try:
            inserted = mysql_rows.run(cursor, prepared.insert)
            mysql_rows.run(cursor, prepared.latest)
        except Exception as exc:
            # Past SQLAlchemy's handle_error: drop the connection here.
            if db_errors.refuses_writes(exc):
                conn.invalidate(exc)
            raise
        finally:
            cursor.close()
        return inserted
