"""What a host's storage says: findings for its verdict, as pure rules.

The runs of the latest state (``storage_rules.storage_state``) decide
when they can; otherwise the replay of the host's history
(``host_facts.HostFacts.history``, ``replay``) does, and while an
address is behind the others or silent since it was cut, the replay's
failing run goes on, dated by the streaks as received. Each finding is
(verdict, reason, detail, since); ``host_rules`` ranks them with the
host's other findings.
"""

import dataclasses
import datetime

from ceilometer_ha.health import host_facts
from ceilometer_ha.health import model
from ceilometer_ha.health import settings as health_settings
from ceilometer_ha.health import storage_rules


def _as_received(
    facts: host_facts.HostFacts,
) -> list[storage_rules.AddressState]:
    """The host's addresses as received: those behind at their latest
    sample, and those whose cut run spans unrecorded cycles, by their
    streaks."""
    return [
        dataclasses.replace(a, current=True, gapped=False)
        for a in facts.addresses
    ]


def find(
    facts: host_facts.HostFacts, settings: health_settings.HealthSettings
) -> tuple[
    list[tuple[str, str, str, datetime.datetime | None]],
    storage_rules.StorageState,
    storage_rules.StorageState,
]:
    """(verdict, reason, detail, since) findings about storage; the
    state of every address, and that of the reporting ones alone."""
    silent = len(facts.silent_addresses)
    state = storage_rules.storage_state(facts.addresses, settings, silent)
    alone = (
        storage_rules.storage_state(facts.addresses, settings)
        if silent
        else state
    )
    # The reporting addresses as received, those behind at their latest
    # sample (the same as alone when none is behind).
    received = (
        storage_rules.storage_state(_as_received(facts), settings)
        if alone.behind
        else alone
    )
    n, m = settings.fail_cycles, settings.recover_cycles
    k, total = state.needed, state.addresses
    findings = []
    failing_run, good_run = state.failing_run, state.good_run
    failed = state.failing and failing_run >= n
    failed_since = state.failing_since
    failing_since = state.failing_since
    failing = state.failing
    history = facts.history
    if not failed and history is not None:
        failed = history.failed
        failing_run = max(failing_run, history.failing_run)
        good_run = history.good_run
        failed_since = history.failed_since or failed_since
        # An address behind, or silent since it was cut, hides the
        # latest cycles: the replay's failing run goes on, and so does
        # the failure of a failed host whose replay ends in cycles it
        # cannot place, with no good cycle since.
        if (state.behind or silent) and (
            history.failing_run or (failed and not history.good_run)
        ):
            failing = not history.good_run
            failing_since = history.failing_since
            # The run of a failed host began before the window, or
            # before cycles the replay cannot place (a lost sample,
            # cycles not recorded at all): the streaks as received
            # (silent addresses aside), which the reads with no address
            # behind go by, tell since when it has lasted. A host not
            # failed goes by the replay alone: a streak across cycles
            # not recorded may join runs that were apart.
            earlier = received.failing_since
            if (
                failed
                and received.failing
                and earlier is not None
                and (failing_since is None or earlier < failing_since)
            ):
                failing_run = max(failing_run, received.failing_run)
                if failed_since is None or earlier < failed_since:
                    failed_since = earlier
                failing_since = earlier
    cut = (
        f"no reply from any of {total} storage addresses"
        if k == 1
        else f"fewer than {k} of {total} storage addresses got any reply"
    )
    if failed and failing:
        findings.append(
            (
                model.FAILED,
                model.STORAGE_LOST,
                f"{cut} for {failing_run} cycles",
                failed_since,
            )
        )
    elif failed:
        findings.append(
            (
                model.FAILED,
                model.STORAGE_RECOVERING,
                f"storage failed; good for {good_run}/{m} cycles",
                failed_since,
            )
        )
    elif failing:
        findings.append(
            (
                model.DEGRADED,
                model.STORAGE_FAILING,
                f"{cut}: failing for {failing_run}/{n} cycles",
                failing_since,
            )
        )
    if silent and received.failing:
        # Only the silent addresses keep the host from failing.
        others = (
            f"none of the other {alone.addresses} got any reply"
            if alone.needed == 1
            else f"fewer than {alone.needed} of the other "
            f"{alone.addresses} got any reply"
        )
        findings.append(
            (
                model.DEGRADED,
                model.STORAGE_SILENT,
                f"no current samples of {silent} of {total} storage "
                f"addresses, possibly reachable; {others}",
                max(s.last_recorded for s in facts.silent_addresses),
            )
        )
    if state.lost and not state.failing:
        findings.append(
            (
                model.DEGRADED,
                model.STORAGE_UNREACHABLE,
                f"fewer than {k} of {total} storage addresses "
                "reachable, but replies still arrive",
                state.lost_since,
            )
        )
    return findings, state, alone
