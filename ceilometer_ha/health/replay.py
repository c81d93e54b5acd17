"""The replay of a host's recent cycles through the hysteresis.

For the few hosts whose state ``ha_latest`` cannot decide
(``storage_rules.needs_history``), the loss samples of their current
addresses (``history``) are put into polling cycles by time
(:func:`group_cycles`: ceilometer stamps all the loss samples of one
cycle alike), each cycle is failing, good or unknown
(:func:`failing_cycles`: an address whose sample was lost takes the
state the cycles on both sides of the gap agree on; a cycle it decides
otherwise is unknown), and :func:`hysteresis` replays them from a
not-failed start.
"""

import collections.abc
import dataclasses
import datetime
import typing

from ceilometer_ha.health import settings as health_settings
from ceilometer_ha.health import storage_rules


@dataclasses.dataclass(frozen=True)
class Hysteresis:
    """Outcome of replaying failing/good cycles through the hysteresis."""

    failed: bool
    failing_run: int
    good_run: int
    failed_since: datetime.datetime | None
    # The first cycle of the current failing run, if there is one.
    failing_since: datetime.datetime | None = None


def group_cycles(
    series: collections.abc.Mapping[
        str, collections.abc.Sequence[tuple[int, datetime.datetime, float]]
    ],
    spread: float,
) -> list[tuple[int, datetime.datetime, dict[str, float]]]:
    """The loss samples of every address as polling cycles, oldest first:
    (epoch, time, {address: loss}).

    ``series``: per address, (epoch of the host's clock, timestamp,
    loss). A cycle's samples are made together, after its one probe
    run: a sample more than ``spread`` seconds after the first of a
    cycle, of another epoch, or a second one of an address, begins the
    next. An address whose sample of a cycle was lost on the way is
    absent from it.
    """
    merged = sorted(
        (epoch, stamp, rid, loss)
        for rid, values in series.items()
        for epoch, stamp, loss in values
    )
    cycles: list[tuple[int, datetime.datetime, dict[str, float]]] = []
    first: tuple[int, datetime.datetime] | None = None
    for epoch, stamp, rid, loss in merged:
        if (
            first is None
            or epoch != first[0]
            or (stamp - first[1]).total_seconds() > spread
            or rid in cycles[-1][2]
        ):
            cycles.append((epoch, stamp, {}))
            first = (epoch, stamp)
        cycles[-1][2][rid] = loss
    return cycles


def _unrecorded_before(
    grouped: list[tuple[int, datetime.datetime, dict[str, float]]],
    settings: health_settings.HealthSettings,
) -> set[int]:
    """Indexes of the cycles that follow one or more unrecorded cycles:
    more than an interval and a half after the cycle before, by the
    same clock (cycles are an interval apart, give or take a probe
    run's length)."""
    limit = 1.5 * settings.polling_interval + settings.cycle_spread
    return {
        index
        for index in range(1, len(grouped))
        if grouped[index][0] == grouped[index - 1][0]
        and (grouped[index][1] - grouped[index - 1][1]).total_seconds() > limit
    }


# A cycle's state in the replay: failing (True), good (False), unknown
# at the end of an address's samples (None: changes neither run), or
# BREAK: unknown where an address changed state across a lost sample,
# which ends a failing run without counting as good.
BREAK: typing.Literal["break"] = "break"
Flag = bool | None | typing.Literal["break"]
# An address's state before its first sample in the window: unknown, but
# the window's edge, not a lost sample, hides it.
_EARLY: typing.Literal["early"] = "early"


def _filled(
    cycles: list[dict[str, float]],
    rid: str,
    failing_loss: float,
    quiet: bool = False,
) -> list[Flag | typing.Literal["early"]]:
    """Whether ``rid`` was cut in each cycle. Where its sample is absent
    (lost on the way): what the cycles on both sides agree on (it was
    likely cut throughout a run of cut samples), ``BREAK`` where they
    disagree (nothing tells where the run changed), ``_EARLY`` before
    its first sample, ``None`` after its last, or not cut after it if
    ``quiet`` (an address whose samples stopped: possibly reachable
    since) and that last one was not cut."""
    known: list[bool | None] = [
        None if rid not in c else c[rid] >= failing_loss for c in cycles
    ]
    filled: list[Flag | typing.Literal["early"]] = list(known)
    before: bool | None = None
    for i, cut in enumerate(known):
        if cut is not None:
            before = cut
            continue
        after = next((c for c in known[i + 1 :] if c is not None), None)
        if before is None:
            filled[i] = _EARLY
        elif after is None:
            # Possibly reachable since, unless it was cut when it fell
            # silent: then unknown, as the newest cycles are.
            filled[i] = False if quiet and not before else None
        else:
            filled[i] = before if before == after else BREAK
    return filled


def failing_cycles(
    series: collections.abc.Mapping[
        str, collections.abc.Sequence[tuple[int, datetime.datetime, float]]
    ],
    settings: health_settings.HealthSettings,
    silent: int = 0,
    quiet: collections.abc.Collection[str] = (),
) -> list[tuple[datetime.datetime, Flag]]:
    """Per-cycle states, oldest first, from the loss samples of the
    host's addresses (``group_cycles``); ``silent`` more addresses,
    without samples, count as possibly reachable in every cycle, and so
    do the ``quiet`` ones of ``series`` (silent too) after their last.

    An address absent from a cycle (its sample lost on the way) is taken
    as cut or not when the cycles on both sides of the gap agree. When
    it decides the cycle otherwise, the cycle is ``None`` among the
    newest (whose samples may still be on their way), ``BREAK`` before
    a decided one: see ``hysteresis``. A cycle of which no loss sample
    was recorded leaves a gap in time: a ``BREAK`` before the next one.
    So a lost sample never counts as a good cycle, nor joins two failing
    runs; only a good cycle lost for one address between its cut ones,
    while another address's sample of it arrived, goes unseen.
    """
    if not series:
        return []
    k = storage_rules.needed_addresses(
        len(series) + silent, settings.min_storage_reachable
    )
    grouped = group_cycles(series, settings.cycle_spread)
    losses = [cycle for _, _, cycle in grouped]
    columns = [
        _filled(losses, rid, settings.failing_loss, rid in quiet)
        for rid in series
    ]
    cycles: list[tuple[datetime.datetime, Flag]] = []
    lost: list[int] = []
    for index, (_, when, _) in enumerate(grouped):
        states = [column[index] for column in columns]
        good = states.count(False) + silent
        unknown = len(states) - states.count(False) - states.count(True)
        if good >= k:
            cycles.append((when, False))
        elif good + unknown < k:
            cycles.append((when, True))
        elif BREAK in states:
            cycles.append((when, BREAK))
        else:
            cycles.append((when, None))
            if None in states:
                lost.append(index)
    # A cycle unknown for a lost sample, before a decided one, is a break
    # too: only the newest, whose samples may still be on their way, and
    # those before an address's first sample in the window are skipped.
    last = max(
        (i for i, (_, flag) in enumerate(cycles) if flag is not None),
        default=-1,
    )
    for index in lost:
        if index < last:
            cycles[index] = (cycles[index][0], BREAK)
    # Cycles nobody recorded (every loss sample lost, the observer away)
    # could have been good: a break before the cycle that follows them.
    unrecorded = _unrecorded_before(grouped, settings)
    if not unrecorded:
        return cycles
    with_breaks: list[tuple[datetime.datetime, Flag]] = []
    for index, cycle in enumerate(cycles):
        if index in unrecorded:
            with_breaks.append((cycle[0], BREAK))
        with_breaks.append(cycle)
    return with_breaks


def hysteresis(
    cycles: collections.abc.Iterable[tuple[datetime.datetime, Flag]],
    fail_cycles: int,
    recover_cycles: int,
) -> Hysteresis:
    """Replay cycles (oldest first) from a not-failed start.

    Failed after ``fail_cycles`` failing cycles in a row; not failed
    again only after ``recover_cycles`` good cycles in a row. An unknown
    cycle (``None``) changes neither run; ``BREAK`` ends both, and
    counts toward neither.
    """
    failed = False
    failing_run = good_run = 0
    run_start: datetime.datetime | None = None
    failed_since: datetime.datetime | None = None
    for when, failing in cycles:
        if failing is None:
            continue
        if failing == BREAK:
            failing_run = good_run = 0
            continue
        if failing:
            if failing_run == 0:
                run_start = when
            failing_run += 1
            good_run = 0
            if failing_run >= fail_cycles and not failed:
                failed, failed_since = True, run_start
        else:
            good_run += 1
            failing_run = 0
            if good_run >= recover_cycles:
                failed, failed_since = False, None
    return Hysteresis(
        failed,
        failing_run,
        good_run,
        failed_since,
        run_start if failing_run else None,
    )
