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

A host's samples are put in the order of its clock (``timestamp``),
epoch by epoch: taken in the order they were recorded, whatever their
address, a sample stamped more than ``CLOCK_STEP_GRACE`` seconds before
a sample recorded earlier begins a new epoch of the host's clock, which
was stepped back, and comes after every sample of the epochs before. So
the samples from before such a step, stamped later, are not replayed as
the newest, and collectors whose clocks differ by a second (each sample
is recorded by whichever stored it first) do not reorder the cycles, as
the rule by which ``ha_latest`` takes a sample as newer
(``storage.statements``) does not either. Each sample keeps its epoch,
so that the samples of all addresses can be put into polling cycles by
their time (``replay.group_cycles``).
"""

import collections.abc
import datetime

import sqlalchemy as sa

from ceilometer_ha.health import fetch
from ceilometer_ha.health import reader
from ceilometer_ha.storage import models
from ceilometer_ha.storage import statements

_STEP = datetime.timedelta(seconds=statements.CLOCK_STEP_GRACE)

_FIELD = "\x1f"
# Per address: (epoch of the host's clock, timestamp, loss), oldest first.
Series = dict[str, list[tuple[int, datetime.datetime, float]]]


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
        sa.select(
            t.host, t.resource_id, t.timestamp, t.volume, t.recorded_at
        ).where(
            t.host.in_(chunk),
            # Written as the partial index's own condition, which SQLite
            # matches to it without looking at parameter values.
            sa.text(models.LOSS_INDEX_WHERE),
            t.timestamp >= not_before,
        )
        # No ORDER BY: each address's samples are ordered here.
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


def _in_host_clock_order(
    by_address: dict[
        str, list[tuple[datetime.datetime, datetime.datetime, float]]
    ],
) -> Series:
    """(recorded_at, timestamp, loss) of each address of one host, as
    (epoch, timestamp, loss), oldest first."""
    merged = sorted(
        (at, stamp, rid, loss)
        for rid, values in by_address.items()
        for at, stamp, loss in values
    )
    epoch, newest = 0, None
    series: Series = {rid: [] for rid in by_address}
    for _, stamp, rid, loss in merged:
        if newest is not None and stamp < newest - _STEP:
            epoch += 1  # the host's clock was stepped back
            newest = stamp
        elif newest is None or stamp > newest:
            newest = stamp
        series[rid].append((epoch, stamp, loss))
    for values in series.values():
        values.sort()
    return series


def _in_cycle_order(recorded: _Recorded) -> dict[str, Series]:
    return {
        host: _in_host_clock_order(by_address)
        for host, by_address in recorded.items()
    }


def read_loss_history(
    conn: sa.Connection,
    hosts: collections.abc.Sequence[str],
    not_before: datetime.datetime,
) -> dict[str, Series]:
    """Loss samples of the given hosts since ``not_before``, oldest first
    by the host's clock, epoch by epoch (module docstring).

    Returns ``{host: {resource_id: [(epoch, timestamp, loss), ...]}}``.
    """
    recorded: _Recorded = {}
    packed = conn.dialect.name == "mysql"
    if packed:
        fetch.allow_long_concat(conn)
    for chunk in fetch.chunks(sorted(hosts)):
        if packed:
            ((text,),) = fetch.fetch_all(
                conn, _concat_query(chunk, not_before)
            )
            if not fetch.concat_was_cut(conn):
                if text:
                    _unpack(text, recorded)
                continue
            # Longer than the server returns (max_allowed_packet): the
            # samples of this chunk as plain rows instead.
        for host, resource_id, stamp, volume, at in fetch.fetch_all(
            conn, _rows_query(chunk, not_before), (2, 4)
        ):
            series = recorded.setdefault(host, {}).setdefault(resource_id, [])
            series.append((at, stamp, float(volume)))
    return _in_cycle_order(recorded)


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
