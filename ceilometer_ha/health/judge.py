"""The public entry point: every verdict, with its guards, as a Report.

``judge(engine, settings)`` reads the database once (see reader) and
returns a :class:`~ceilometer_ha.health.model.Report`; ``report.to_dict()``
is the documented JSON shape. Hosts that are plainly healthy are judged
from the per-host aggregate alone; the others (and those in
``explain``) get their evidence read and are judged by host_rules;
``assembly`` applies the guards and builds the report.
"""

import collections
import collections.abc
import contextlib
import dataclasses
import datetime
import gc
import itertools

from oslo_log import log
import sqlalchemy as sa

from ceilometer_ha.health import assembly
from ceilometer_ha.health import facts as facts_builder
from ceilometer_ha.health import fetch
from ceilometer_ha.health import history as health_history
from ceilometer_ha.health import host_facts
from ceilometer_ha.health import host_rules
from ceilometer_ha.health import latest_rows
from ceilometer_ha.health import model
from ceilometer_ha.health import observer_gaps
from ceilometer_ha.health import reader
from ceilometer_ha.health import replay
from ceilometer_ha.health import settings as health_settings
from ceilometer_ha.health import storage_rules

LOG = log.getLogger(__name__)
ZERO = datetime.timedelta(0)
SECOND = datetime.timedelta(seconds=1)
# How many history windows back a cut run across unrecorded cycles is
# replayed, at most (200 cycles with the defaults).
LONG_RUNS = 10


def utcnow() -> datetime.datetime:
    """Naive UTC, the way times are stored."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def needs_detail(
    summary: reader.HostSummary, settings: health_settings.HealthSettings
) -> bool:
    """False only for a host the aggregate alone shows to be ``ok``.

    Reads only the counts (the fields after host and cluster): ``judge``
    asks once per distinct set of counts.
    """
    if not summary.reporting or summary.hypervisor_down:
        return True
    if summary.addresses == 0:
        return summary.silent_addresses > 0
    k = storage_rules.needed_addresses(
        summary.addresses, settings.min_storage_reachable
    )
    if summary.addresses - summary.cut < k:
        return True
    return summary.reachable < k or summary.reachable_long < k


def _replay(
    series: health_history.Series,
    settings: health_settings.HealthSettings,
    addresses: collections.abc.Collection[str],
    silent: collections.abc.Collection[str] = (),
    whole: bool = False,
) -> replay.Hysteresis:
    """The hysteresis over the recent cycles of the host's current
    ``addresses`` and its ``silent`` ones (whose samples stopped: as
    they said until then, possibly reachable since). Addresses no longer
    current (taken out of the configuration) are not replayed. Every
    cycle read when ``whole``, else the last ``history_cycles``."""
    current = {
        rid: series[rid]
        for rid in itertools.chain(addresses, silent)
        if rid in series
    }
    unheard = sum(1 for rid in silent if rid not in series)
    cycles = replay.failing_cycles(current, settings, unheard, silent)
    return replay.hysteresis(
        cycles if whole else cycles[-settings.history_cycles :],
        settings.fail_cycles,
        settings.recover_cycles,
    )


def _window_start(
    f: host_facts.HostFacts,
    now: datetime.datetime,
    span: datetime.timedelta,
) -> tuple[datetime.datetime, bool]:
    """Where the host's replayed history begins, on its clock, and
    whether all of it is replayed.

    ``ha_sample.timestamp`` is each host's clock: so is its window, but
    never later than by the collector's clock (the offset of a host
    whose clock was stepped forward is that of its latest samples; its
    samples from before the step, stamped by the old clock, must stay
    in). A host with a cut run that spans unrecorded cycles (``gapped``)
    is replayed from that run's first sample, up to ``LONG_RUNS`` times
    the window back: the last ``history_cycles`` may not hold the
    failing cycles in a row that made it failed. ``span``: the
    history window and the stale limit."""
    offset = max(f.clock_offset or ZERO, ZERO)
    start = now - span - offset
    runs = [a.loss_since for a in f.addresses if a.gapped and a.loss_since]
    if not runs:
        return start, False
    earliest = now - LONG_RUNS * span - offset
    return max(min(start, min(runs) - SECOND), earliest), True


def _detailed_facts(conn, summaries, now, settings):
    rows_by_host = collections.defaultdict(list)
    for row in latest_rows.read_latest_rows(conn, [s.host for s in summaries]):
        rows_by_host[row.host].append(row)
    facts = {
        s.host: facts_builder.build_facts(
            s, rows_by_host[s.host], now, settings
        )
        for s in summaries
    }
    undecided = [
        host
        for host, f in facts.items()
        if storage_rules.needs_history(
            storage_rules.storage_state(
                f.addresses, settings, len(f.silent_addresses)
            ),
            settings,
        )
    ]
    if undecided:
        span = datetime.timedelta(
            seconds=settings.history_window + settings.stale_after
        )
        windows = {
            host: _window_start(facts[host], now, span) for host in undecided
        }
        history = health_history.read_recent_loss_history(
            conn, {host: start for host, (start, _) in windows.items()}, span
        )
        for host, series in history.items():
            f = facts[host]
            replayed = _replay(
                series,
                settings,
                [a.resource_id for a in f.addresses],
                [a.resource_id for a in f.silent_addresses],
                whole=windows[host][1],
            )
            facts[host] = dataclasses.replace(f, history=replayed)
    LOG.debug(
        "%d hosts read in detail, %d replayed", len(facts), len(undecided)
    )
    return facts


def judge(
    engine: sa.Engine,
    settings: health_settings.HealthSettings,
    now: datetime.datetime | None = None,
    explain: collections.abc.Collection[str] = (),
) -> model.Report:
    """Judge every host known to ``ha_latest`` at ``now`` (default: now).

    ``now`` is naive UTC by the reader's clock (an aware time is
    converted to it); ``explain`` names hosts whose evidence is wanted
    even when they are ``ok``.
    """
    if now is None:
        now = utcnow()
    elif now.tzinfo is not None:
        # Stored times are naive UTC: an aware one would fail to compare
        # with them, and only once some host needs its details.
        now = now.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    with _without_gc_pauses(), engine.connect() as conn:
        fetch.begin_snapshot(conn)
        summaries = reader.read_summaries(conn, settings, now)
        # Hosts with the same counts (``HostSummary`` after host and
        # cluster) share the answer.
        plain: dict[tuple, bool] = {}
        detailed = []
        for s in summaries:
            need = plain.get(s[2:])
            if need is None:
                need = plain[s[2:]] = needs_detail(s, settings)
            if need or s.host in explain:
                detailed.append(s)
        facts = _detailed_facts(conn, detailed, now, settings)
        verdicts, losses, stale = [], {}, {}
        # The hosts with a storage check: what an outage is a share of.
        storage = {s.host for s in summaries if s.addresses}
        for s in summaries:
            if s.host not in facts:
                verdicts.append(model.HostVerdict(s.host, s.cluster, model.OK))
                continue
            judgement = host_rules.judge_host(facts[s.host], now, settings)
            verdict = judgement.verdict
            verdicts.append(verdict)
            if judgement.storage_lost_since:
                losses[s.host] = judgement.storage_lost_since
            if verdict.verdict == model.STALE and verdict.since:
                stale[s.host] = verdict.since
        gaps = observer_gaps.resumptions(conn, stale, settings, now)
        return assembly.assemble(
            verdicts, losses, storage, now, settings, gaps
        )


@contextlib.contextmanager
def _without_gc_pauses() -> collections.abc.Iterator[None]:
    """Hold the cyclic garbage collector while a report is built.

    A report allocates tens of thousands of small acyclic objects; the
    collections they trigger scan the whole heap of the caller's process
    (about a quarter of the time at 10,000 hosts in the benchmark).
    Reference counting still frees everything; collection resumes after.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def filter_report(
    report: model.Report, cluster: str | None = None, host: str | None = None
) -> model.Report:
    """The same report restricted to one cluster and/or host.

    Guards were decided on every host; ``can_judge`` stays as it was.
    """
    hosts = [
        v
        for v in report.hosts
        if (cluster is None or v.cluster == cluster)
        and (host is None or v.host == host)
    ]
    names = {v.cluster for v in hosts} if host else {cluster}
    clusters = [
        c
        for c in report.clusters
        if cluster is None and host is None or c.cluster in names
    ]
    return model.Report(
        **{**report.__dict__, "hosts": hosts, "clusters": clusters}
    )
