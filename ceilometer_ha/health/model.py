"""Verdict records and their JSON shape (``schema_version`` 1).

These are what the health library returns and what ``ceilometer-ha
status --format json`` prints; doc/health.rst documents the shape. Times
are ISO 8601 UTC strings with a ``Z``; absent values are ``null``.
"""

import dataclasses
import datetime
from typing import Any

SCHEMA_VERSION = 1

OK = "ok"
DEGRADED = "degraded"
FAILED = "failed"
STALE = "stale"
VERDICTS = (OK, DEGRADED, FAILED, STALE)

# Reasons, most serious first within each verdict.
HEARTBEAT_MISSING = "heartbeat_missing"
STORAGE_LOST = "storage_lost"
STORAGE_RECOVERING = "storage_recovering"
STORAGE_OUTAGE = "storage_outage"
STORAGE_FAILING = "storage_failing"
STORAGE_UNREACHABLE = "storage_unreachable"
STORAGE_SILENT = "storage_silent"
HYPERVISOR_DOWN = "hypervisor_down"

# Report-level reasons why the observer cannot judge.
NO_HOSTS = "no_hosts"
ALL_STALE = "all_stale"
STALE_CLIFF = "stale_cliff"


def isoformat(when: datetime.datetime | None) -> str | None:
    """Naive UTC (as stored) or aware time as ``...T...ffffffZ`` text."""
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return when.isoformat(timespec="microseconds") + "Z"


@dataclasses.dataclass(slots=True)
class Evidence:
    """One measured resource behind a verdict (an address or the hypervisor).

    ``value`` is the loss ratio for an address, 1/0 for the hypervisor
    and the heartbeat; ``streak`` consecutive samples had that value,
    the first at ``since``.
    """

    check: str
    resource_id: str
    value: float
    streak: int
    since: datetime.datetime | None
    address: str | None = None
    reachable: bool | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["since"] = isoformat(self.since)
        return data


@dataclasses.dataclass(slots=True)
class HostVerdict:
    """The verdict on one host.

    ``reason`` is the first of ``reasons``, the one the verdict rests on
    (``None`` when ``ok``; a host the outage guard protects has
    ``storage_outage`` first, then what it would have failed for);
    ``since`` is when the condition behind the verdict began (the first
    failing sample, the last sample recorded for a stale host);
    ``protected_by``
    names the cluster guard that kept the host from ``failed``.
    """

    host: str
    cluster: str
    verdict: str
    reason: str | None = None
    detail: str = ""
    since: datetime.datetime | None = None
    last_heartbeat: datetime.datetime | None = None
    reasons: list[str] = dataclasses.field(default_factory=list)
    protected_by: str | None = None
    evidence: list[Evidence] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "cluster": self.cluster,
            "verdict": self.verdict,
            "reason": self.reason,
            "reasons": list(self.reasons),
            "detail": self.detail,
            "since": isoformat(self.since),
            "last_heartbeat": isoformat(self.last_heartbeat),
            "protected_by": self.protected_by,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclasses.dataclass
class ClusterSummary:
    """Hosts of one cluster by verdict, and the guards in force there."""

    cluster: str
    hosts: int
    verdicts: dict[str, int]
    storage_outage: bool = False
    outage_hosts: list[str] = dataclasses.field(default_factory=list)
    guards: list[str] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Report:
    """All verdicts at ``generated_at``, by the reader's clock.

    When ``can_judge`` is false an HA engine must not act on any host:
    ``reason`` says why (``no_hosts``, ``all_stale``, ``stale_cliff``).
    """

    generated_at: datetime.datetime
    can_judge: bool
    hosts: list[HostVerdict]
    clusters: list[ClusterSummary]
    reason: str | None = None
    detail: str = ""
    settings: dict[str, float | int] = dataclasses.field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(VERDICTS, 0)
        for verdict in self.hosts:
            counts[verdict.verdict] += 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "generated_at": isoformat(self.generated_at),
            "can_judge": self.can_judge,
            "reason": self.reason,
            "detail": self.detail,
            "counts": self.counts(),
            "clusters": [c.to_dict() for c in self.clusters],
            "hosts": [h.to_dict() for h in self.hosts],
            "settings": dict(self.settings),
        }
