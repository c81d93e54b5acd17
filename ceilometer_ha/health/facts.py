"""Facts about one host from its ``ha_latest`` rows.

Turns the rows the reader fetched into the typed records the pure rules
take: storage addresses (loss and reachability paired by resource id),
hypervisors (with the ``reason`` from their metadata) and the last
heartbeat recorded by the collector, with the host clock's offset from
the collector's as that heartbeat shows it (its ``recorded_at`` minus its
``timestamp``: the skew, plus the few milliseconds the datagram
travelled). Rows older than the stale limit are
ignored for storage and hypervisor, since they no longer describe the
host; a storage address among them that reported within
``forget_address_cycles`` is kept as *silent* (its samples may only have
been lost on the way), one older is forgotten (an address removed from
the configuration, say).
"""

import collections.abc
import datetime
import json

from ceilometer_ha.health import host_facts
from ceilometer_ha.health import latest_rows
from ceilometer_ha.health import reader
from ceilometer_ha.health import settings as health_settings
from ceilometer_ha.health import storage_rules


def _hypervisor_reason(text: str) -> str | None:
    try:
        reason = json.loads(text or "{}").get("reason")
    except (ValueError, AttributeError):
        return None
    return str(reason) if reason else None


def _gapped(
    row: latest_rows.LatestRow, settings: health_settings.HealthSettings
) -> bool:
    """Whether the row's run spans more than its ``streak`` cycles take
    (by the host's clock: the cut cycles of a run are stamped an
    interval apart), by half an interval or more."""
    span = (row.timestamp - row.since).total_seconds()
    return span > (row.streak - 0.5) * settings.polling_interval


def build_facts(
    summary: reader.HostSummary,
    rows: collections.abc.Iterable[latest_rows.LatestRow],
    now: datetime.datetime,
    settings: health_settings.HealthSettings,
) -> host_facts.HostFacts:
    """Facts of one host from its ``ha_latest`` rows (stale rows ignored)."""
    fresh_from = now - datetime.timedelta(seconds=settings.stale_after)
    forget_from = now - datetime.timedelta(
        seconds=settings.forget_address_after
    )
    heartbeat = last_seen = silent = None
    offset = None
    loss, reach, hypervisors = {}, {}, []
    quiet: dict[str, latest_rows.LatestRow] = {}
    prefix = summary.host + "-"
    for row in rows:
        last_seen = max(filter(None, (last_seen, row.recorded_at)))
        if row.meter == reader.HEARTBEAT:
            heartbeat = max(filter(None, (heartbeat, row.recorded_at)))
            offset = row.recorded_at - row.timestamp
        if row.recorded_at < fresh_from:
            if row.meter == reader.STORAGE_LOSS:
                silent = max(filter(None, (silent, row.recorded_at)))
                if row.recorded_at >= forget_from:
                    quiet[row.resource_id] = row
            continue
        if row.meter == reader.STORAGE_LOSS:
            loss[row.resource_id] = row
        elif row.meter == reader.STORAGE_REACHABLE:
            reach[row.resource_id] = row
        elif row.meter == reader.HYPERVISOR_UP:
            hypervisors.append(
                host_facts.HypervisorState(
                    row.resource_id,
                    row.volume >= 0.5,
                    row.streak,
                    row.since,
                    _hypervisor_reason(row.resource_metadata),
                )
            )
    addresses = []
    # The host's latest cycle, by its clock: an address whose latest
    # sample is older than that cycle's is behind the others.
    newest = max((row.timestamp for row in loss.values()), default=None)
    spread = datetime.timedelta(seconds=settings.cycle_spread)
    for resource_id, row in sorted(loss.items()):
        cut = row.volume >= settings.failing_loss
        r = reach.get(resource_id)
        addresses.append(
            storage_rules.AddressState(
                resource_id=resource_id,
                address=resource_id.removeprefix(prefix),
                loss=float(row.volume),
                loss_streak=row.streak,
                loss_since=row.since,
                reachable=None if r is None else r.volume >= 0.5,
                reachable_streak=0 if r is None else r.streak,
                reachable_since=None if r is None else r.since,
                current=newest is None or newest - row.timestamp <= spread,
                gapped=cut and _gapped(row, settings),
            )
        )
    return host_facts.HostFacts(
        host=summary.host,
        cluster=summary.cluster,
        last_heartbeat=heartbeat,
        last_seen=last_seen,
        addresses=tuple(addresses),
        silent_addresses=tuple(
            host_facts.SilentAddress(
                resource_id=rid,
                address=rid.removeprefix(prefix),
                last_recorded=row.recorded_at,
                loss=float(row.volume),
                streak=row.streak,
                since=row.since,
            )
            for rid, row in sorted(quiet.items())
        )
        if addresses
        else (),
        hypervisors=tuple(hypervisors),
        storage_silent_since=None if addresses else silent,
        clock_offset=offset,
    )
