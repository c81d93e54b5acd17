"""Recent loss samples of the few hosts whose hysteresis is undecided.

Read from ``ha_sample`` through its history index: (host, meter,
timestamp) on MySQL/MariaDB, the partial (host, timestamp) index of the
loss samples on SQLite, which the query names by its very condition. On
MySQL/MariaDB every sample comes back in one ``GROUP_CONCAT`` text
(fields split by U+001F, samples by a line break; as plain rows when
the server cut the text, beyond ``max_allowed_packet``), sorted here: PyMySQL
decodes rows in pure Python, and a host's 20 cycles would otherwise be
20 rows per address; grouping and ordering in SQL (one text per
address) cost MariaDB more than twice the time of the flat text.
Other databases return plain rows.

Each address's samples are put in the order the collector recorded them
(``recorded_at``, its own clock), not by their ``timestamp``: after a
host's clock is stepped back, the samples from before the step carry
later timestamps than the newer ones, and would be replayed as the
newest cycles.
"""

import collections.abc
import datetime

import sqlalchemy as sa

from ceilometer_ha.health import reader
from ceilometer_ha.storage import models

_FIELD = "\x1f"
Series = dict[str, list[tuple[datetime.datetime, float]]]


def _concat_query(chunk, not_before) -> sa.Select:
    t = models.sample.c
    packed: sa.ColumnElement[str] = sa.literal_column(
        "GROUP_CONCAT(CONCAT_WS(CHAR(31), host, resource_id, volume, "
        "`timestamp`, recorded_at) SEPARATOR '\n')"
    )
    return sa.select(packed).where(
        t.host.in_(chunk),
        t.meter == reader.STORAGE_LOSS,
        t.timestamp >= not_before,
    )


def _rows_query(chunk, not_before) -> sa.Select:
    t = models.sample.c
    return (
        sa.select(t.host, t.resource_id, t.timestamp, t.volume, t.recorded_at)
        .where(
            t.host.in_(chunk),
            # Written as the partial index's own condition, which SQLite
            # matches to it without looking at parameter values.
            sa.text(models.LOSS_INDEX_WHERE),
            t.timestamp >= not_before,
        )
        .order_by(t.host, t.resource_id, t.recorded_at, t.timestamp)
    )


# Per host and address: (recorded_at, timestamp, loss), in any order.
_Recorded = dict[
    str, dict[str, list[tuple[datetime.datetime, datetime.datetime, float]]]
]


def _unpack(text: str, recorded: _Recorded) -> None:
    parse = datetime.datetime.fromisoformat
    for line in text.split("\n"):
        host, resource_id, volume, stamp, at = line.split(_FIELD)
        series = recorded.setdefault(host, {}).setdefault(resource_id, [])
        series.append((parse(at), parse(stamp), float(volume)))


def _in_recorded_order(recorded: _Recorded) -> dict[str, Series]:
    return {
        host: {
            resource_id: [(stamp, loss) for _, stamp, loss in sorted(series)]
            for resource_id, series in by_address.items()
        }
        for host, by_address in recorded.items()
    }


def read_loss_history(
    conn: sa.Connection,
    hosts: collections.abc.Sequence[str],
    not_before: datetime.datetime,
) -> dict[str, Series]:
    """Loss samples of the given hosts since ``not_before``, in the order
    the collector recorded them.

    Returns ``{host: {resource_id: [(timestamp, loss), ...]}}``.
    """
    recorded: _Recorded = {}
    packed = conn.dialect.name == "mysql"
    if packed:
        reader.allow_long_concat(conn)
    for chunk in reader.chunks(sorted(hosts)):
        if packed:
            ((text,),) = reader.fetch_all(
                conn, _concat_query(chunk, not_before)
            )
            if not reader.concat_was_cut(conn):
                if text:
                    _unpack(text, recorded)
                continue
            # Longer than the server returns (max_allowed_packet): the
            # samples of this chunk as plain rows instead.
        for host, resource_id, stamp, volume, at in reader.fetch_all(
            conn, _rows_query(chunk, not_before), (2, 4)
        ):
            series = recorded.setdefault(host, {}).setdefault(resource_id, [])
            series.append((at, stamp, float(volume)))
    return _in_recorded_order(recorded)


def read_recent_loss_history(
    conn: sa.Connection,
    not_before: collections.abc.Mapping[str, datetime.datetime],
    slack: datetime.timedelta,
) -> dict[str, Series]:
    """Loss samples of each host since its own ``not_before``, which is
    on that host's clock (as ``timestamp`` is): a host whose clock is
    behind the others' still gets its recent history.

    Hosts whose times lie within ``slack`` of each other are read
    together, from the earliest of them (what a host gets beyond its
    own is older than its history needs, and is trimmed by the caller).
    """
    groups: list[tuple[datetime.datetime, list[str]]] = []
    for host, when in sorted(not_before.items(), key=lambda item: item[1]):
        if not groups or when - groups[-1][0] > slack:
            groups.append((when, []))
        groups[-1][1].append(host)
    history: dict[str, Series] = {}
    for start, group in groups:
        history.update(read_loss_history(conn, group, start))
    return history
