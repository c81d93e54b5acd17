"""The report from every host's verdict: by cluster, guards applied.

``judge`` judges hosts one by one; the guards against mass false alarms
(``guards``) need them all. ``assemble`` applies the storage outage
guard within each cluster, which changes the verdicts of the hosts it
covers in place, counts each cluster's verdicts, asks the observer
guards whether the report can judge at all, and returns the
``model.Report``, hosts ordered by cluster, then host. It reads no
database: what it needs of a host beyond its verdict is passed in.
"""

import collections.abc
import datetime
import operator

from ceilometer_ha.health import guards
from ceilometer_ha.health import model
from ceilometer_ha.health import observer_gaps
from ceilometer_ha.health import settings as health_settings


def _cluster_summary(
    name: str,
    members: list[model.HostVerdict],
    losses: dict[str, datetime.datetime],
    storage: collections.abc.Container[str],
    settings: health_settings.HealthSettings,
) -> model.ClusterSummary:
    """Apply the storage outage guard to one cluster and count verdicts.

    The share is of the judged hosts with current storage samples: hosts
    without a storage check (local disks, or every address silent) can
    neither lose storage nor dilute an outage of those that can.
    """
    judged = [v for v in members if v.verdict != model.STALE]
    mine = {v.host: losses[v.host] for v in judged if v.host in losses}
    checked = sum(1 for v in judged if v.host in storage)
    covered = guards.storage_outage_hosts(checked, mine, settings)
    if covered:
        for verdict in judged:
            if verdict.host in mine or (
                verdict.reason in guards.STORAGE_FAILURES
            ):
                guards.protect(verdict)
    counts = dict.fromkeys(model.VERDICTS, 0)
    for verdict in members:
        counts[verdict.verdict] += 1
    return model.ClusterSummary(
        cluster=name,
        hosts=len(members),
        verdicts=counts,
        storage_outage=bool(covered),
        outage_hosts=covered,
        guards=[model.STORAGE_OUTAGE] if covered else [],
    )


def assemble(
    verdicts: list[model.HostVerdict],
    losses: dict[str, datetime.datetime],
    storage: collections.abc.Container[str],
    now: datetime.datetime,
    settings: health_settings.HealthSettings,
    gaps: collections.abc.Mapping[str, observer_gaps.Gap] | None = None,
) -> model.Report:
    """The report on ``verdicts`` at ``now``, the guards applied.

    ``losses``: when each host losing storage lost it (``Judgement``);
    ``storage``: the hosts with a storage check; ``gaps``: the stale
    hosts that fell silent in a gap of the observer.
    """
    # Ordered by cluster, then host: grouped first, then each group
    # sorted, which costs little as the reader returns hosts by name.
    by_cluster: dict[str, list[model.HostVerdict]] = {}
    for verdict in verdicts:
        by_cluster.setdefault(verdict.cluster, []).append(verdict)
    by_host = operator.attrgetter("host")
    ordered: list[model.HostVerdict] = []
    clusters = []
    for name in sorted(by_cluster):
        members = by_cluster[name]
        members.sort(key=by_host)
        ordered.extend(members)
        clusters.append(
            _cluster_summary(name, members, losses, storage, settings)
        )
    reason, detail = guards.observer_blind(ordered, settings, now, gaps)
    return model.Report(
        generated_at=now,
        can_judge=reason is None,
        hosts=ordered,
        clusters=clusters,
        reason=reason,
        detail=detail,
        settings=settings.as_dict(),
    )
