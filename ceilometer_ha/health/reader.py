"""SQL reads for the verdicts: one aggregate row per host, details on demand.

:func:`read_summaries` folds ``ha_latest`` into one row of small integers
per host in SQL (conditional aggregates over the primary key order), so
that 10,000 hosts cost 10,000 short rows, not 50,000 wide ones: PyMySQL
decodes rows in pure Python. Only hosts that are not plainly healthy get
their ``ha_latest`` rows read (``latest_rows``) and only those
whose hysteresis is undecided get their recent loss samples read from
``ha_sample`` (``history.read_loss_history``). Run them on one connection
inside one transaction, so that they see one snapshot; how they fetch
their rows is in ``fetch``.
"""

import datetime
import typing

import sqlalchemy as sa

from ceilometer_ha.health import fetch
from ceilometer_ha.health import settings as health_settings
from ceilometer_ha.storage import models

HEARTBEAT = "ha.heartbeat"
HYPERVISOR_UP = "ha.hypervisor.up"
STORAGE_REACHABLE = "ha.storage.reachable"
STORAGE_LOSS = models.LOSS_METER
VERDICT_METERS = (HEARTBEAT, HYPERVISOR_UP, STORAGE_REACHABLE, STORAGE_LOSS)


class HostSummary(typing.NamedTuple):
    """Counts over one host's current (not stale) ``ha_latest`` rows.

    A named tuple: 10,000 of them are built per report.
    """

    host: str
    cluster: str
    # 1 when a row of a verdict meter was recorded within the stale limit.
    reporting: int
    addresses: int
    cut: int
    cut_long: int
    reachable: int
    reachable_long: int
    hypervisor_down: int
    silent_addresses: int = 0


# Counts are packed three or four to an integer, base 1000, so that a
# host costs three columns to decode instead of nine (each count < 1000;
# silent addresses < 10**6, current verdict-meter rows in the top place).
_BASE = 1000


def _packed(
    cases: list[tuple[sa.ColumnElement[bool], sa.ColumnElement[int] | int]],
) -> sa.ColumnElement[int]:
    return sa.func.sum(sa.case(*cases, else_=0))


def _flag(condition: sa.ColumnElement[bool], weight: int) -> sa.Case:
    return sa.case((condition, weight), else_=0)


def summary_query(
    settings: health_settings.HealthSettings, now: datetime.datetime
) -> sa.Select:
    """The per-host aggregate; rows older than the stale limit only count
    as ``silent_addresses`` (storage rows no longer updated).

    One row, one text value: a line per host ``FIRST SECOND HOST\tCLUSTER``
    where FIRST is ``1000 * hypervisor_down + 10**6 * addresses + 10**9 *
    silent_addresses + 10**15 * current rows of the verdict meters`` (the
    silent addresses given six places, the last count unbounded in the
    top place; ``reporting`` is whether it is above zero) and SECOND
    ``cut + 1000 * cut_long + 10**6 * reachable + 10**9 *
    reachable_long`` (see :class:`HostSummary`). PyMySQL decodes rows
    and columns in pure Python; one value for 10,000 hosts costs less
    than 10,000 rows of four columns.
    """
    t = models.latest.c
    b = _BASE
    fresh_from = now - datetime.timedelta(seconds=settings.stale_after)
    stale = t.recorded_at < fresh_from
    is_cut = t.volume >= settings.failing_loss
    is_up = t.volume >= 0.5
    # A host reports while any sample of the meters the verdicts read
    # arrives: each sample is a datagram of its own, and losing a few
    # heartbeats in a row does not make a host that sends the rest stale.
    # The same meters as the rows read in detail (latest_rows), so that
    # both paths agree. Counted in the top place, by the branches that
    # test the meter anyway: a test of its own per row cost a tenth more.
    fresh = b**5
    first = _packed(
        [
            (stale, _flag(t.meter == STORAGE_LOSS, b**3)),
            (t.meter == HYPERVISOR_UP, _flag(~is_up, b) + fresh),
            (t.meter == STORAGE_LOSS, b * b + fresh),
            (t.meter == HEARTBEAT, fresh),
            (t.meter == STORAGE_REACHABLE, fresh),
        ]
    )
    cut_long = sa.and_(is_cut, t.streak >= settings.fail_cycles)
    reach_long = sa.and_(is_up, t.streak >= settings.recover_cycles)
    second = _packed(
        [
            (stale, 0),
            (t.meter == STORAGE_LOSS, _flag(is_cut, 1) + _flag(cut_long, b)),
            (
                t.meter == STORAGE_REACHABLE,
                _flag(is_up, b * b) + _flag(reach_long, b**3),
            ),
        ]
    )
    per_host = sa.select(
        (
            sa.cast(first, sa.String)
            + " "
            + sa.cast(second, sa.String)
            + " "
            + t.host
            + "\t"
            # The heartbeat's cluster: rows the host no longer updates
            # (an address removed) keep the cluster it had then.
            + sa.func.coalesce(
                sa.func.max(sa.case((t.meter == HEARTBEAT, t.cluster))),
                sa.func.max(t.cluster),
            )
        ).label("line")
    ).group_by(t.host)
    lines = per_host.subquery()
    return sa.select(sa.func.aggregate_strings(lines.c.line, "\n"))


class SummaryTooLongError(Exception):
    """The server cut the hosts' summary: hosts would go unjudged."""


def read_summaries(
    conn: sa.Connection,
    settings: health_settings.HealthSettings,
    now: datetime.datetime,
) -> list[HostSummary]:
    """One summary per host known to ``ha_latest``.

    Host names hold no blank and cluster names no line break.
    """
    fetch.allow_long_concat(conn)
    rows = fetch.fetch_all(conn, summary_query(settings, now))
    text = rows[0][0] if rows else None
    if conn.dialect.name == "mysql" and fetch.concat_was_cut(conn):
        raise SummaryTooLongError(
            "the summary of every host is longer than the server's "
            "max_allowed_packet: raise it (it would take some 400,000 "
            "hosts at the default 16 MiB)"
        )
    # Hosts in the same state share their two packed numbers (every
    # healthy host with as many addresses): each pair is decoded once.
    counts: dict[tuple[str, str], tuple[int, ...]] = {}
    summaries = []
    for line in (text or "").split("\n"):
        if not line:
            continue
        first, second, rest = line.split(" ", 2)
        host, cluster = rest.split("\t", 1)
        decoded = counts.get((first, second))
        if decoded is None:
            decoded = counts[first, second] = _unpack_counts(first, second)
        summaries.append(HostSummary(host, cluster, *decoded))
    return summaries


def _unpack_counts(first: str, second: str) -> tuple[int, ...]:
    """The counts of ``HostSummary`` after host and cluster, in order."""
    a, b = int(first), int(second)
    return (
        int(a >= 10**15),  # reporting
        a // 1000000 % 1000,  # addresses
        b % 1000,  # cut
        b // 1000 % 1000,  # cut_long
        b // 1000000 % 1000,  # reachable
        b // 1000000000,  # reachable_long
        a // 1000 % 1000,  # hypervisor_down
        a // 10**9 % 10**6,  # silent_addresses
    )
