"""The verdict on one host from its facts, as a pure function.

Order of seriousness: ``stale`` (no sample of the meters the verdicts
read, heartbeat, hypervisor or storage, recorded for ``stale_cycles``
intervals) hides everything else, since nothing else is
current; then storage (``failed`` after ``fail_cycles`` failing cycles,
kept until ``recover_cycles`` good ones; ``degraded`` while failing for
fewer cycles or while no address is reachable but packets still get
through); then the hypervisor (``degraded`` only: a host whose storage
and heartbeat are fine is not evacuated for it).
"""

import dataclasses
import datetime

from ceilometer_ha.health import host_facts
from ceilometer_ha.health import model
from ceilometer_ha.health import settings as health_settings
from ceilometer_ha.health import storage_findings


@dataclasses.dataclass(frozen=True)
class Judgement:
    """A host's verdict and when it lost storage (for the outage guard):
    set while it loses storage, and while it is failed for storage that
    recovers; None otherwise. On the collector's clock, so that hosts
    whose clocks disagree are compared right."""

    verdict: model.HostVerdict
    storage_lost_since: datetime.datetime | None


def _evidence(facts: host_facts.HostFacts) -> list[model.Evidence]:
    evidence = [
        model.Evidence(
            check="storage",
            resource_id=a.resource_id,
            address=a.address,
            value=a.loss,
            reachable=a.reachable,
            streak=a.loss_streak,
            since=a.loss_since,
        )
        for a in facts.addresses
    ]
    evidence += [
        model.Evidence(
            check="storage",
            resource_id=s.resource_id,
            address=s.address,
            value=s.loss,
            streak=s.streak,
            since=s.since,
            note="no sample recorded since "
            f"{model.isoformat(s.last_recorded)}",
        )
        for s in facts.silent_addresses
    ]
    evidence += [
        model.Evidence(
            check="hypervisor",
            resource_id=h.resource_id,
            value=1.0 if h.up else 0.0,
            streak=h.streak,
            since=h.since,
            note=h.reason,
        )
        for h in facts.hypervisors
    ]
    return evidence


def _is_stale(
    facts: host_facts.HostFacts,
    now: datetime.datetime,
    settings: health_settings.HealthSettings,
) -> bool:
    seen = facts.last_seen
    if seen is None:
        return True
    return (now - seen).total_seconds() > settings.stale_after


def judge_host(
    facts: host_facts.HostFacts,
    now: datetime.datetime,
    settings: health_settings.HealthSettings,
) -> Judgement:
    """The verdict on one host at ``now`` (reader clock, naive UTC)."""
    verdict = model.HostVerdict(
        host=facts.host,
        cluster=facts.cluster,
        verdict=model.OK,
        last_heartbeat=facts.last_heartbeat,
        evidence=_evidence(facts),
    )
    if _is_stale(facts, now, settings):
        verdict.verdict = model.STALE
        verdict.reason = model.HEARTBEAT_MISSING
        verdict.reasons = [model.HEARTBEAT_MISSING]
        verdict.since = facts.last_seen
        verdict.detail = (
            "no heartbeat, hypervisor or storage sample recorded for more "
            f"than {settings.stale_after:g} s"
        )
        return Judgement(verdict, None)
    findings, state, alone = storage_findings.find(facts, settings)
    if facts.storage_silent_since:
        findings.append(
            (
                model.DEGRADED,
                model.STORAGE_SILENT,
                "no current storage samples (the last was recorded at "
                f"{model.isoformat(facts.storage_silent_since)})",
                facts.storage_silent_since,
            )
        )
    down = [h for h in facts.hypervisors if not h.up]
    if down:
        why = "; ".join(h.reason for h in down if h.reason)
        findings.append(
            (
                model.DEGRADED,
                model.HYPERVISOR_DOWN,
                f"hypervisor down ({why or 'no reason given'})",
                min((h.since for h in down if h.since), default=None),
            )
        )
    if findings:
        rank = {model.FAILED: 0, model.DEGRADED: 1}
        findings.sort(key=lambda f: rank[f[0]])
        verdict.verdict, verdict.reason, _, verdict.since = findings[0]
        verdict.reasons = [f[1] for f in findings]
        verdict.detail = "; ".join(f[2] for f in findings)
    # For the storage outage guard, a host whose reporting addresses lost
    # storage counts as losing it, whatever its silent ones may say: in
    # an outage they fall silent too, or are lost on the way.
    for lost in (state, alone):
        if lost.failing or lost.lost:
            since = lost.failing_since if lost.failing else lost.lost_since
            return Judgement(verdict, facts.on_collector_clock(since) or now)
    if verdict.reason == model.STORAGE_RECOVERING:
        # Still failed while its storage recovers: counted with the
        # hosts losing it, by when it lost it, so that a storage outage
        # that ends does not leave its hosts failed for recover_cycles.
        return Judgement(
            verdict, facts.on_collector_clock(verdict.since) or now
        )
    return Judgement(verdict, None)
