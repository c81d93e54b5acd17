"""Storage rules: cut cycles, run lengths and hysteresis, as pure functions.

A cycle is *failing* when fewer than ``k`` storage addresses stay below
``failing_loss`` (by default: every address lost every packet), where
``k`` is ``min_storage_reachable`` capped at the host's number of
addresses ``T``. Storage is *lost* (a milder state) when fewer than
``k`` addresses are reachable as the agent judged them (without its
reachability samples: whose loss is below ``failing_loss``).

From ``ha_latest`` alone the current failing run is the ``(T-k+1)``-th
largest streak among cut addresses (the minimum when ``k`` is 1) and the
current good run is at least the ``k``-th largest streak among reachable
addresses; when every cycle's samples arrived both are exact for k = 1
(for k of 2 or more the failing run is a lower bound). A streak
counts the samples received: a cut address whose latest sample is of an
earlier cycle than the others', or whose run spans more time than its
streak's cycles take, counts as possibly reachable, and the host's
history decides (:func:`needs_history`, ``replay``). Whether a
host that is good again *was* failed is not in ``ha_latest`` either:
``replay`` replays the stored loss samples of such hosts.

An address whose samples stopped while its host still reports is
*silent*: counted among the ``T`` addresses, it is possibly reachable
(a lost sample never makes a host failing), and never cut.
"""

import collections.abc
import dataclasses
import datetime

from ceilometer_ha.health import settings as health_settings


@dataclasses.dataclass(frozen=True)
class AddressState:
    """Latest loss and reachability of one storage address of a host."""

    resource_id: str
    address: str
    loss: float
    loss_streak: int
    loss_since: datetime.datetime | None
    reachable: bool | None = None
    reachable_streak: int = 0
    reachable_since: datetime.datetime | None = None
    # False when the host's newest loss samples are of a later cycle:
    # this address's sample of that cycle is late, or lost.
    current: bool = True
    # True when its run of cut samples spans more time than as many
    # cycles take: cycles of the run were not recorded (all their loss
    # samples lost, or the observer away), and might have been good.
    gapped: bool = False


@dataclasses.dataclass(frozen=True)
class StorageState:
    """What the latest samples say about a host's storage."""

    addresses: int
    needed: int
    failing: bool
    failing_run: int
    failing_since: datetime.datetime | None
    lost: bool
    lost_since: datetime.datetime | None
    good_run: int
    # Some cut address's latest sample is of an earlier cycle than the
    # others': its streak may join two runs across a lost sample.
    behind: bool = False


def needed_addresses(addresses: int, min_reachable: int) -> int:
    """Addresses a host must reach: the option, capped at what it has."""
    return min(min_reachable, addresses)


def kth_largest(
    items: collections.abc.Sequence[tuple[int, datetime.datetime | None]],
    k: int,
) -> tuple[int, datetime.datetime | None]:
    """The ``k``-th largest (streak, since) pair; ``(0, None)`` if too few."""
    if k < 1 or len(items) < k:
        return 0, None
    return sorted(items, key=lambda item: item[0], reverse=True)[k - 1]


def is_failing_cycle(
    losses: collections.abc.Iterable[float], k: int, failing_loss: float
) -> bool:
    """True when fewer than ``k`` of the addresses stay below failing_loss."""
    return sum(1 for loss in losses if loss < failing_loss) < k


def _reachability(
    address: AddressState, settings: health_settings.HealthSettings
) -> tuple[bool, int, datetime.datetime | None]:
    """(reachable, streak, since) of an address. Without a reachability
    sample (a pipeline that sends only ``ha.storage.loss``), an address
    that got any reply counts as reachable, by its loss samples."""
    if address.reachable is not None:
        return (
            address.reachable,
            address.reachable_streak,
            address.reachable_since,
        )
    up = address.loss < settings.failing_loss
    return up, address.loss_streak, address.loss_since


def storage_state(
    addresses: collections.abc.Sequence[AddressState],
    settings: health_settings.HealthSettings,
    silent: int = 0,
) -> StorageState:
    """Derive runs and states from the latest samples of every address,
    ``silent`` more addresses counting as possibly reachable.

    A cut address whose latest sample is of an earlier cycle than the
    others' (not ``current``) counts as possibly reachable too: its
    sample of the latest cycle has not arrived, and its streak, which
    counts the samples received, may span a lost one. So does one whose
    cut run spans cycles that were not recorded (``gapped``).
    """
    behind = [
        a
        for a in addresses
        if (not a.current or a.gapped) and a.loss >= settings.failing_loss
    ]
    if behind:
        state = storage_state(
            [a for a in addresses if a not in behind],
            settings,
            silent + len(behind),
        )
        return dataclasses.replace(state, behind=True)
    total = len(addresses) + silent
    k = needed_addresses(total, settings.min_storage_reachable)
    cut = [
        (a.loss_streak, a.loss_since)
        for a in addresses
        if a.loss >= settings.failing_loss
    ]
    failing = total > 0 and is_failing_cycle(
        (a.loss for a in addresses), k - silent, settings.failing_loss
    )
    failing_run, failing_since = (
        kth_largest(cut, total - k + 1) if failing else (0, None)
    )
    reach = [_reachability(a, settings) for a in addresses]
    reachable = [(streak, since) for up, streak, since in reach if up]
    unreachable = [(streak, since) for up, streak, since in reach if not up]
    lost = total > 0 and len(reachable) + silent < k
    lost_since = kth_largest(unreachable, total - k + 1)[1] if lost else None
    if lost and lost_since is None:
        lost_since = failing_since
    good_run = 0 if failing else kth_largest(reachable, k)[0]
    return StorageState(
        addresses=total,
        needed=k,
        failing=failing,
        failing_run=failing_run,
        failing_since=failing_since,
        lost=lost,
        lost_since=lost_since,
        good_run=good_run,
    )


def needs_history(
    state: StorageState, settings: health_settings.HealthSettings
) -> bool:
    """True when the latest samples cannot tell whether the host is failed.

    A failing run already ``fail_cycles`` long is failed whatever came
    before; a good run already ``recover_cycles`` long is not. Anything
    shorter depends on the runs before it, and so does a state with an
    address behind the others, whose cycles only the history lines up.
    """
    if state.addresses == 0:
        return False
    if state.behind:
        return True
    if state.failing:
        return state.failing_run < settings.fail_cycles
    return state.good_run < settings.recover_cycles
