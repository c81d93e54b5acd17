"""Recent loss samples of the few hosts whose hysteresis is undecided.

Read from ``ha_sample`` through its (host, meter, timestamp) index. On
MySQL/MariaDB each address's series comes back as one ordered
``GROUP_CONCAT`` text (``volume@timestamp,...``): PyMySQL decodes rows
in pure Python, and a host's 20 cycles would otherwise be 20 rows per
address. Other databases return plain rows.
"""

import collections.abc
import datetime

import sqlalchemy as sa

from ceilometer_ha.health import reader
from ceilometer_ha.storage import models

Series = dict[str, list[tuple[datetime.datetime, float]]]


def _concat_query(chunk, not_before) -> sa.Select:
    t = models.sample.c
    packed: sa.ColumnElement[str] = sa.literal_column(
        "GROUP_CONCAT(CONCAT(volume, '@', `timestamp`) "
        "ORDER BY `timestamp` SEPARATOR ',')"
    )
    return (
        sa.select(t.host, t.resource_id, packed)
        .where(
            t.host.in_(chunk),
            t.meter == reader.STORAGE_LOSS,
            t.timestamp >= not_before,
        )
        .group_by(t.host, t.resource_id)
    )


def _rows_query(chunk, not_before) -> sa.Select:
    t = models.sample.c
    return (
        sa.select(t.host, t.resource_id, t.timestamp, t.volume)
        .where(
            t.host.in_(chunk),
            t.meter == reader.STORAGE_LOSS,
            t.timestamp >= not_before,
        )
        .order_by(t.host, t.resource_id, t.timestamp)
    )


def _unpack(text: str) -> list[tuple[datetime.datetime, float]]:
    series = []
    for item in text.split(","):
        volume, _, stamp = item.partition("@")
        series.append((datetime.datetime.fromisoformat(stamp), float(volume)))
    return series


def read_loss_history(
    conn: sa.Connection,
    hosts: collections.abc.Sequence[str],
    not_before: datetime.datetime,
) -> dict[str, Series]:
    """Loss samples of the given hosts since ``not_before``, oldest first.

    Returns ``{host: {resource_id: [(timestamp, loss), ...]}}``.
    """
    history: dict[str, Series] = {}
    packed = conn.dialect.name == "mysql"
    if packed:
        reader.allow_long_concat(conn)
    for chunk in reader.chunks(sorted(hosts)):
        if packed:
            for host, resource_id, text in reader.fetch_all(
                conn, _concat_query(chunk, not_before)
            ):
                history.setdefault(host, {})[resource_id] = _unpack(text)
            continue
        for host, resource_id, timestamp, volume in reader.fetch_all(
            conn, _rows_query(chunk, not_before), (2,)
        ):
            series = history.setdefault(host, {}).setdefault(resource_id, [])
            series.append((timestamp, float(volume)))
    return history
