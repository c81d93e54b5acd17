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

import json
import typing

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects import sqlite

from ceilometer_ha import wire
from ceilometer_ha.storage import models

# A literal, not a bound parameter: PyMySQL's executemany only rewrites
# INSERT into one multi-row statement when the ON DUPLICATE KEY UPDATE
# clause holds no parameters.
_ONE = sa.literal_column("1")
_LATEST_KEY = ("host", "meter", "resource_id")
_LATEST_COPIED = (
    "cluster",
    "message_id",
    "volume",
    "unit",
    "recorded_at",
    "resource_metadata",
)


def _row(record: wire.SampleRecord) -> dict[str, typing.Any]:
    row = record._asdict()
    row["resource_metadata"] = json.dumps(
        record.resource_metadata, ensure_ascii=False, default=str
    )
    row["since"] = record.timestamp
    row["streak"] = 1
    return row


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


class SampleStore:
    """Writes batches of records into the schema of ``models``."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine
        if engine.dialect.name == "sqlite":
            self._insert, self._upsert = _sqlite_statements()
        elif engine.dialect.name == "mysql":
            self._insert, self._upsert = _mysql_statements()
        else:
            raise ValueError(f"unsupported database {engine.dialect.name}")

    def write_batch(self, records: typing.Sequence[wire.SampleRecord]) -> int:
        """Store ``records`` in one transaction; return how many were new.

        The difference to ``len(records)`` is the number of duplicate
        message_ids. Database errors propagate; nothing is half written.
        """
        if not records:
            return 0
        rows = [_row(r) for r in sorted(records, key=_timestamp)]
        with self.engine.begin() as conn:
            inserted = conn.execute(self._insert, rows).rowcount
            conn.execute(self._upsert, rows)
        return inserted


def _timestamp(record: wire.SampleRecord) -> typing.Any:
    return record.timestamp
