"""When the observer itself stopped recording: gaps in ``recorded_at``.

A host is stale when nothing of it was recorded for ``stale_after``
seconds. That shows the host silent only while the observer (the
collectors, their network, the database) went on recording the others.
After an outage of the observer longer than that, every host is stale;
as it resumes, hosts come back one batch, one polling cycle at a time,
and those not heard from yet went silent when the observer did, not on
their own, however long the outage lasted.

``resumptions`` tells such hosts apart: for each group of stale hosts
last heard within ``stale_after`` of each other, whether the observer
recorded no sample of any host for more than ``stale_after`` right
after the newest of them (two reads of the ``recorded_at`` index), and
if so when it recorded again. Their silence is then known only from
that moment on.
"""

import collections.abc
import datetime
import typing

import sqlalchemy as sa

from ceilometer_ha.storage import models

# Groups of stale hosts looked at, newest first: each costs two indexed
# reads, and only gaps within the stale cliff's hold change a report.
MAX_GROUPS = 10


class Gap(typing.NamedTuple):
    """The observer recorded nothing from ``began`` until ``ended``."""

    began: datetime.datetime
    ended: datetime.datetime


def _groups(
    last_heard: collections.abc.Mapping[str, datetime.datetime],
    span: datetime.timedelta,
) -> list[list[str]]:
    """Hosts by when last heard, newest first, each group within
    ``span`` of its newest."""
    groups: list[list[str]] = []
    newest: datetime.datetime | None = None
    for host, when in sorted(
        last_heard.items(), key=lambda item: item[1], reverse=True
    ):
        if newest is None or newest - when > span:
            groups.append([])
            newest = when
        groups[-1].append(host)
    return groups


def _recorded(
    conn: sa.Connection, query: sa.Select[typing.Any]
) -> datetime.datetime | None:
    # MIN and MAX keep the column's type: datetimes on SQLite too.
    return conn.execute(query).scalar()


def _gap_after(
    conn: sa.Connection, when: datetime.datetime, span: datetime.timedelta
) -> Gap | None:
    """A gap longer than ``span`` that began within ``span`` of
    ``when``, if the observer had one: its last recording before the
    gap is the last one up to ``when + span``."""
    t = models.sample.c
    began = _recorded(
        conn,
        sa.select(sa.func.max(t.recorded_at)).where(
            t.recorded_at <= when + span
        ),
    )
    if began is None:
        return None
    ended = _recorded(
        conn,
        sa.select(sa.func.min(t.recorded_at)).where(t.recorded_at > began),
    )
    if ended is None or ended - began <= span:
        return None
    return Gap(began, ended)


def resumptions(
    conn: sa.Connection,
    last_heard: collections.abc.Mapping[str, datetime.datetime],
    stale_after: float,
) -> dict[str, Gap]:
    """The gap of the observer in which each stale host fell silent.

    ``last_heard``: when each stale host's last sample was recorded.
    A host is returned when the observer recorded no sample of any host
    for more than ``stale_after`` from less than ``stale_after`` after
    it: its silence was not seen for that long before the gap. Nothing
    recorded since is an outage still going on, not a gap.
    """
    span = datetime.timedelta(seconds=stale_after)
    gaps: dict[str, Gap] = {}
    for group in _groups(last_heard, span)[:MAX_GROUPS]:
        gap = _gap_after(conn, last_heard[group[0]], span)
        if gap is None:
            continue
        for host in group:
            if gap.began - last_heard[host] < span:
                gaps[host] = gap
    return gaps
