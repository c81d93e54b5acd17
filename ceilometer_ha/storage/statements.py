"""The two statements of a batch, built once per dialect with SQLAlchemy.

``ha_sample`` ignores a ``message_id`` it already holds (INSERT IGNORE on
MySQL, ON CONFLICT DO NOTHING on SQLite), so several collectors writing
one database store a sample once. ``ha_latest`` is then upserted per
(host, meter, resource_id) as documented in ``models``, from the
``ha_sample`` rows of the batch read back in timestamp order (INSERT ...
SELECT), so that the values cross to the database once: only a newer
sample changes a row, one with a strictly newer timestamp or one
recorded more than ``CLOCK_STEP_GRACE`` seconds after the stored one (a
host whose clock was stepped back); ``streak`` grows while the volume
repeats and restarts at 1 (with ``since`` = the new timestamp) when it
changes. A duplicate read back again changes nothing, as it is not
newer than itself. On SQLite that order is the rowid's: the writer inserts a
batch's rows in timestamp order (``storage.rows``), and reading them
back by rowid spares SQLite a sort of the whole batch.

MySQL evaluates ``ON DUPLICATE KEY UPDATE`` assignments left to right on
already updated values. ``streak``, ``since`` and then ``message_id`` are
assigned first, while the row is as it was (``streak`` compares the old
``volume``; "newer" reads the old ``timestamp`` and ``recorded_at``);
every later column is assigned when the row now holds the new sample's
``message_id``, which a duplicate holds already (it assigns the same
values again). SQLite's ``DO UPDATE ... WHERE`` sees the old row
throughout.
"""

import re
import typing

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects import sqlite

from ceilometer_ha.storage import models

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
# Seconds, by the collector's clock, after which a sample is newer than
# the stored one whatever its timestamp: a host whose clock is stepped
# back would otherwise change no row (its heartbeat included) until its
# clock passed the last timestamp it sent. Samples of one key come an
# interval apart, and reach the collector in that order; well under the
# verdicts' stale window (5 s by default).
CLOCK_STEP_GRACE = 2


def _latest_from_sample(where: typing.Any, order: typing.Any) -> sa.Select:
    """The samples chosen by ``where``, as ha_latest rows, by ``order``."""
    t = models.sample.c
    columns = [
        t.host,
        t.meter,
        t.resource_id,
        t.cluster,
        t.message_id,
        t.volume,
        t.unit,
        t.timestamp,
        t.recorded_at,
        _ONE.label("streak"),
        t.timestamp.label("since"),
        t.resource_metadata,
    ]
    return sa.select(*columns).where(where).order_by(order)


def _latest_from_sample_insert(
    dialect_insert: typing.Callable[[sa.Table], typing.Any],
    where: typing.Any,
    order: typing.Any,
) -> typing.Any:
    """The dialect's INSERT INTO ha_latest ... SELECT of those samples."""
    select = _latest_from_sample(where, order)
    names = [column.name for column in select.selected_columns]
    return dialect_insert(models.latest).from_select(names, select)


def sqlite_statements() -> tuple[typing.Any, typing.Any]:
    """INSERT of samples; upsert of ha_latest from the rows whose rowid
    is above the parameter ``after`` (the highest after the insert less
    the rows it inserted: the batch's own), in rowid order (the order
    the writer inserted them in)."""
    ins = sqlite.insert(models.sample).on_conflict_do_nothing()
    rowid: typing.Any = sa.literal_column("ha_sample.rowid")
    up = _latest_from_sample_insert(
        sqlite.insert, rowid > sa.bindparam("after"), rowid
    )
    old, new = models.latest.c, up.excluded
    # SQLite's own time text ("YYYY-MM-DD HH:MM:SS.SSS"), which compares
    # as text with the stored one.
    # Literals: the statement's only parameter is ``after``.
    later: typing.Any = sa.func.strftime(
        sa.literal_column("'%Y-%m-%d %H:%M:%f'"),
        old.recorded_at,
        sa.literal_column(f"'+{CLOCK_STEP_GRACE} seconds'"),
    )
    newer = sa.or_(new.timestamp > old.timestamp, new.recorded_at > later)
    same = new.volume == old.volume
    set_: dict[str, typing.Any] = {
        "streak": sa.case((same, old.streak + _ONE), else_=_ONE),
        "since": sa.case((same, old.since), else_=new.since),
    }
    for name in (*_LATEST_COPIED, "timestamp"):
        set_[name] = new[name]
    up = up.on_conflict_do_update(
        index_elements=list(_LATEST_KEY), set_=set_, where=newer
    )
    return ins, up


def mysql_statements() -> tuple[typing.Any, typing.Any]:
    """INSERT IGNORE of samples; upsert of ha_latest from the samples
    whose message_id is in the expanding parameter ``ids``."""
    ins = mysql.insert(models.sample).prefix_with("IGNORE")
    chosen = models.sample.c.message_id.in_(
        sa.bindparam("ids", expanding=True)
    )
    up = _latest_from_sample_insert(
        mysql.insert, chosen, models.sample.c.timestamp
    )
    old, new = models.latest.c, up.inserted
    later = sa.func.date_add(
        old.recorded_at, sa.text(f"INTERVAL {CLOCK_STEP_GRACE} SECOND")
    )
    newer = sa.or_(new.timestamp > old.timestamp, new.recorded_at > later)
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
    assignments.append(
        ("message_id", sa.case((newer, new.message_id), else_=old.message_id))
    )
    # From here on the row holds the new sample's message_id if it is
    # newer (or a duplicate), whatever the columns assigned change.
    taken = old.message_id == new.message_id
    for name in (*_LATEST_COPIED, "timestamp"):
        if name != "message_id":
            assignments.append(
                (name, sa.case((taken, new[name]), else_=old[name]))
            )
    return ins, up.on_duplicate_key_update(assignments)


_PYFORMAT = re.compile(r"%\((\w+)\)s")


def driver_sql(stmt: typing.Any, dialect: typing.Any) -> tuple[str, list[str]]:
    """The statement as the driver's positional SQL, and its parameters."""
    compiled = stmt.compile(dialect=dialect)
    sql = str(compiled)
    if compiled.positional:
        return sql, list(compiled.positiontup or [])
    return _PYFORMAT.sub("%s", sql), _PYFORMAT.findall(sql)
