"""Guards against mass false alarms, as pure functions.

*Storage outage* (per cluster): when at least ``outage_share`` of the
judged (not stale) hosts of a cluster that have a storage check, and at
least ``outage_min_hosts`` of them, lost storage within
``outage_window_cycles`` of each other, the storage itself is the
likelier culprit: no host of that cluster is
failed for storage; such hosts are ``degraded`` with reason
``storage_outage`` and ``protected_by`` set. A cluster of one host never
has an outage: its host fails normally.

*Observer guards* (report level): when no host is known, when every
host is stale, or when at least ``stale_cliff_share`` of the hosts
heard within the hold (and at least ``stale_cliff_min_hosts``) stopped
sending samples within ``stale_cliff_window_cycles`` of each other, the
observer is more likely cut off than the hosts dead: the report says it
cannot judge. A cliff holds for ``stale_cliff_hold_cycles``: hosts whose
samples stopped longer ago than that, while others still report, are
judged stale. A host that fell silent in a gap of the observer itself
(``observer_gaps``) is silent only since the gap ended: for
``stale_after`` after that, and while a gap goes on, the report cannot
judge, and the hold counts from its end.
"""

import collections.abc
import datetime
import math

from ceilometer_ha.health import model
from ceilometer_ha.health import observer_gaps
from ceilometer_ha.health import settings as health_settings

STORAGE_FAILURES = (model.STORAGE_LOST, model.STORAGE_RECOVERING)


def largest_burst(
    events: collections.abc.Iterable[tuple[datetime.datetime, str]],
    window: float,
) -> list[str]:
    """Largest set of events whose times all lie within ``window`` seconds."""
    ordered = sorted(events)
    best: list[str] = []
    start = 0
    for end in range(len(ordered)):
        while (ordered[end][0] - ordered[start][0]).total_seconds() > window:
            start += 1
        if end - start + 1 > len(best):
            best = [name for _, name in ordered[start : end + 1]]
    return best


def enough(count: int, total: int, share: float, minimum: int) -> bool:
    """True when ``count`` reaches both ``minimum`` and ``share`` of total."""
    return count >= minimum and count >= math.ceil(share * total - 1e-9)


def storage_outage_hosts(
    judged_hosts: int,
    losses: collections.abc.Mapping[str, datetime.datetime],
    settings: health_settings.HealthSettings,
) -> list[str]:
    """Hosts of one cluster covered by a storage outage (empty if none).

    ``losses`` maps each host of the cluster that currently lost storage,
    or is still failed while its storage recovers, to when it lost it.
    Once the burst qualifies, every such host of the cluster is covered,
    including those that lost storage earlier: when an outage ends, its
    hosts stay covered until they have recovered.
    """
    burst = largest_burst(
        ((since, host) for host, since in losses.items()),
        settings.outage_window,
    )
    if enough(
        len(burst),
        judged_hosts,
        settings.outage_share,
        settings.outage_min_hosts,
    ):
        return sorted(losses)
    return []


def protect(verdict: model.HostVerdict) -> None:
    """Turn a host covered by a storage outage into ``degraded``."""
    if verdict.verdict == model.FAILED and verdict.reason in STORAGE_FAILURES:
        verdict.verdict = model.DEGRADED
        verdict.protected_by = model.STORAGE_OUTAGE
        verdict.detail = "cluster storage outage; " + verdict.detail
    if verdict.verdict != model.STALE:
        verdict.reason = model.STORAGE_OUTAGE
        verdict.reasons = [model.STORAGE_OUTAGE] + verdict.reasons


def observer_blind(
    verdicts: collections.abc.Sequence[model.HostVerdict],
    settings: health_settings.HealthSettings,
    now: datetime.datetime,
    gaps: collections.abc.Mapping[str, observer_gaps.Gap] | None = None,
) -> tuple[str | None, str]:
    """(reason, detail) when the observer cannot judge, else (None, "").

    ``gaps``: the stale hosts that fell silent in a gap of the observer
    (``observer_gaps.resumptions``), which they are known silent only
    since it ended.
    """
    if not verdicts:
        return model.NO_HOSTS, "no host has ever reported"
    stale = [v for v in verdicts if v.verdict == model.STALE]
    if len(stale) == len(verdicts):
        return model.ALL_STALE, f"all {len(stale)} hosts are stale"
    gaps = gaps or {}
    stale_after = datetime.timedelta(seconds=settings.stale_after)
    waiting = [
        gaps[v.host]
        for v in stale
        if v.host in gaps and now - gaps[v.host].ended <= stale_after
    ]
    if waiting:
        gap = max(waiting, key=lambda g: g.ended)
        if gap.going_on:
            return model.STALE_CLIFF, (
                f"the observer has recorded no sample from any host since "
                f"{model.isoformat(gap.began)}, for more than "
                f"{observer_gaps.spacing(settings):g} s; {len(waiting)} "
                f"hosts silent since before"
            )
        return model.STALE_CLIFF, (
            f"the observer recorded no sample from any host from "
            f"{model.isoformat(gap.began)} to {model.isoformat(gap.ended)}; "
            f"{len(waiting)} hosts not heard from since, for less than "
            f"{settings.stale_after:g} s"
        )
    # A host's silence counts from when the observer could hear it.
    gone: dict[str, datetime.datetime] = {}
    for v in stale:
        at = gaps[v.host].ended if v.host in gaps else v.since
        if at is not None:
            gone[v.host] = at
    # Only hosts gone within the hold make a cliff, and only hosts heard
    # within it count: long-gone hosts (rows kept until the TTL) must not
    # dilute a cliff of the live ones.
    recent = now - datetime.timedelta(seconds=settings.stale_cliff_hold)
    current = [h for h, at in gone.items() if at >= recent]
    burst = largest_burst(
        ((gone[h], h) for h in current), settings.stale_cliff_window
    )
    heard = len(verdicts) - len(stale) + len(current)
    if enough(
        len(burst),
        heard,
        settings.stale_cliff_share,
        settings.stale_cliff_min_hosts,
    ):
        return model.STALE_CLIFF, (
            f"{len(burst)} of {heard} hosts went stale within "
            f"{settings.stale_cliff_window:g} s"
        )
    return None, ""
