"""When the observer itself stopped recording: gaps in ``recorded_at``.

A host is stale when nothing of it was recorded for ``stale_after``
seconds. That shows the host silent only while the observer (the
collectors, their network, the database) went on recording the others.
When the observer pauses, even for less than ``stale_after`` (a
collector restarting), a host's silence is the pause plus up to a
polling cycle on each side; after an outage every host is stale, and as
recording resumes the hosts come back one batch, one polling cycle at a
time. Those not heard from yet went silent when the observer did, not
on their own, however long the outage lasted.

``resumptions`` tells such hosts apart. A gap is a stretch of more than
``spacing`` seconds in which the observer recorded no sample of any
host: two polling intervals and a batch's delay, more than lie between
two recordings while any host reports. For each group of stale hosts
last heard within ``spacing`` of each other, it walks the
``recorded_at`` index forward from the newest of them, one indexed read
per step of up to ``spacing``, looking for a gap that began within
``stale_after``; gaps less than ``stale_after`` apart count as one (a
sample recorded alone in the middle of an outage does not end it), and
a gap still going on at ``now`` (nothing recorded since, or a reader
whose clock runs ahead of the collectors') ends at ``now``.
"""

import collections.abc
import datetime
import typing

import sqlalchemy as sa

from ceilometer_ha.health import settings as health_settings
from ceilometer_ha.storage import models

# Groups of stale hosts looked at, newest first: each costs a few
# indexed reads, and only gaps within the stale cliff's hold change a
# report.
MAX_GROUPS = 10
# Indexed reads per group, at most: a walk takes about
# 2 * stale_after / spacing of them, and one or two per gap.
MAX_STEPS = 32
# Seconds a polling cycle's samples may reach the database late: the
# collector's batch timeout (0.2 s by default) and the probe run.
BATCH_SLACK = 0.25


class Gap(typing.NamedTuple):
    """The observer recorded nothing from ``began`` until ``ended``;
    ``going_on``: nothing since, ``ended`` is the time of the report."""

    began: datetime.datetime
    ended: datetime.datetime
    going_on: bool = False


def spacing(settings: health_settings.HealthSettings) -> float:
    """Seconds without any recording that make a gap of the observer."""
    return min(
        2 * settings.polling_interval + BATCH_SLACK, settings.stale_after
    )


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
    conn: sa.Connection,
    when: datetime.datetime,
    span: datetime.timedelta,
    step: datetime.timedelta,
    now: datetime.datetime,
) -> Gap | None:
    """The gap of the observer that began within ``span`` after
    ``when`` (the last recording of a host, which counts even when
    expiry already deleted its row), joined with those that followed it
    within ``span``; None if there was none."""
    t = models.sample.c
    at, until = when, when + span
    found: Gap | None = None
    for _ in range(MAX_STEPS):
        if at > until:
            break
        # The last recording within a step: if there is one, no gap
        # began before it.
        later = _recorded(
            conn,
            sa.select(sa.func.max(t.recorded_at)).where(
                t.recorded_at > at, t.recorded_at <= at + step
            ),
        )
        if later is not None:
            at = later
            continue
        began = found.began if found else at
        ended = _recorded(
            conn,
            sa.select(sa.func.min(t.recorded_at)).where(t.recorded_at > at),
        )
        if ended is None or ended >= now:
            if now - at <= step:
                break
            return Gap(began, now, going_on=True)
        found = Gap(began, ended)
        at, until = ended, ended + span
    return found


def resumptions(
    conn: sa.Connection,
    last_heard: collections.abc.Mapping[str, datetime.datetime],
    settings: health_settings.HealthSettings,
    now: datetime.datetime,
) -> dict[str, Gap]:
    """The gap of the observer in which each stale host fell silent.

    ``last_heard``: when each stale host's last sample was recorded.
    A host is returned when a gap began less than ``stale_after`` after
    it: its silence was not seen for that long before the gap.
    """
    span = datetime.timedelta(seconds=settings.stale_after)
    step = datetime.timedelta(seconds=spacing(settings))
    gaps: dict[str, Gap] = {}
    for group in _groups(last_heard, step)[:MAX_GROUPS]:
        gap = _gap_after(conn, last_heard[group[0]], span, step, now)
        if gap is None:
            continue
        for host in group:
            if gap.began - last_heard[host] < span:
                gaps[host] = gap
    return gaps
