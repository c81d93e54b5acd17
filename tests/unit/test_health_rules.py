"""The pure verdict rules: runs, hysteresis, guards, random loss."""

import datetime
import random

from ceilometer_ha.health import guards
from ceilometer_ha.health import host_facts
from ceilometer_ha.health import host_rules
from ceilometer_ha.health import model
from ceilometer_ha.health import replay
from ceilometer_ha.health import settings as health_settings
from ceilometer_ha.health import storage_rules

T0 = datetime.datetime(2026, 3, 1, 8, 0, 0)
DEFAULTS = health_settings.HealthSettings()


def at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


def address(name, loss, streak, reachable=None):
    return storage_rules.AddressState(
        resource_id=f"h-{name}",
        address=name,
        loss=loss,
        loss_streak=streak,
        loss_since=at(-streak),
        reachable=loss <= 0.5 if reachable is None else reachable,
        reachable_streak=streak,
        reachable_since=at(-streak),
    )


def test_kth_largest():
    items = [(3, at(3)), (9, at(9)), (5, at(5))]
    assert storage_rules.kth_largest(items, 1) == (9, at(9))
    assert storage_rules.kth_largest(items, 3) == (3, at(3))
    assert storage_rules.kth_largest(items, 4) == (0, None)


def test_failing_run_is_the_shortest_cut_streak_for_k1():
    state = storage_rules.storage_state(
        [address("a", 1.0, 7), address("b", 1.0, 2)], DEFAULTS
    )
    assert (state.failing, state.failing_run) == (True, 2)
    assert state.failing_since == at(-2)


def test_k2_failing_run_is_the_longest_cut_streak_when_one_is_enough():
    settings = health_settings.HealthSettings(min_storage_reachable=2)
    state = storage_rules.storage_state(
        [address("a", 1.0, 7), address("b", 1.0, 2), address("c", 0, 9)],
        settings,
    )
    assert (state.failing, state.failing_run) == (True, 2)
    state = storage_rules.storage_state(
        [address("a", 1.0, 7), address("b", 0.0, 2), address("c", 0, 9)],
        settings,
    )
    assert (state.failing, state.good_run) == (False, 2)


def test_more_needed_than_addresses_means_all():
    settings = health_settings.HealthSettings(min_storage_reachable=3)
    state = storage_rules.storage_state([address("a", 0.0, 4)], settings)
    assert (state.needed, state.failing, state.good_run) == (1, False, 4)


def test_partial_loss_is_lost_not_failing():
    state = storage_rules.storage_state([address("a", 0.75, 4)], DEFAULTS)
    assert (state.failing, state.lost) == (False, True)


def test_hysteresis_both_ways():
    def run(flags):
        cycles = [(at(i), f) for i, f in enumerate(flags)]
        return replay.hysteresis(cycles, 3, 3)

    assert not run([1, 1]).failed
    assert run([1, 1, 1]).failed
    assert run([1, 1, 1]).failed_since == at(0)
    assert run([1, 1, 1, 0, 0]).failed
    assert run([1, 1, 1, 0, 0, 1, 0, 0]).failed
    assert not run([1, 1, 1, 0, 0, 0]).failed
    assert not run([1, 1, 0, 1, 1, 0, 1, 1]).failed


def _series(*losses, epoch=0, first=0, lost=()):
    """Loss samples of one address, a cycle a second, from ``first``;
    the cycles in ``lost`` never arrived."""
    return [
        (epoch, at(first + i), loss)
        for i, loss in enumerate(losses)
        if first + i not in lost
    ]


def test_failing_cycles_align_by_time():
    series = {"a": _series(0.0, 1.0, 1.0), "b": _series(0.0, 1.0, first=1)}
    cycles = replay.failing_cycles(series, DEFAULTS)
    # Before b's first sample, b counts as possibly reachable.
    assert cycles == [(at(0), False), (at(1), False), (at(2), True)]


def test_a_lost_sample_never_joins_two_failing_runs():
    """a is cut in cycles 0 to 2, b in 1 to 3; a is good again in cycle
    3, but that sample was lost, and b's in cycle 4. Two failing cycles
    in a row, never three: not failed, however the samples line up by
    count."""
    series = {
        "a": _series(1.0, 1.0, 1.0, 0.0, 0.0, lost={3}),
        "b": _series(0.0, 1.0, 1.0, 1.0, 0.0),
    }
    cycles = replay.failing_cycles(series, DEFAULTS)
    # In cycle 3 a, cut before and good after, decides: a break.
    assert [f for _, f in cycles] == [False, True, True, replay.BREAK, False]
    replayed = replay.hysteresis(cycles, 3, 3)
    assert not replayed.failed


def test_a_lost_sample_never_joins_runs_when_two_addresses_are_needed():
    """Two of three needed: a, cut then good again, decides the cycle
    whose sample was lost; the failing cycles on both sides are not one
    run of three."""
    settings = health_settings.HealthSettings(min_storage_reachable=2)
    series = {
        "a": _series(1.0, 0.0, 0.0, 1.0, lost={1}),
        "b": _series(1.0, 1.0, 1.0, 1.0),
        "c": _series(0.0, 0.0, 1.0, 0.0),
    }
    cycles = replay.failing_cycles(series, settings)
    assert [f for _, f in cycles] == [True, replay.BREAK, True, True]
    replayed = replay.hysteresis(cycles, 3, 3)
    assert (replayed.failed, replayed.failing_run) == (False, 2)


def test_an_unknown_cycle_before_a_decided_one_is_a_break():
    """Both addresses needed; a flaky (cut, good, cut, cut), b good but
    its samples lost after the first: cycle 1, good unless b was cut,
    is unknown, and must not join cycles 0, 2 and 3 into a failing run
    of three."""
    settings = health_settings.HealthSettings(min_storage_reachable=2)
    a = _series(1.0, 0.0, 1.0, 1.0)
    cycles = replay.failing_cycles({"a": a, "b": _series(0.0)}, settings)
    assert [f for _, f in cycles] == [True, replay.BREAK, True, True]
    assert not replay.hysteresis(cycles, 3, 3).failed
    # With b's good sample after the gap, the gap is filled as good.
    b = _series(0.0, 0.0, 0.0, 0.0, 0.0, lost={1, 2, 3})
    a = _series(1.0, 0.0, 1.0, 1.0, 0.0)
    cycles = replay.failing_cycles({"a": a, "b": b}, settings)
    assert [f for _, f in cycles] == [True, False, True, True, False]


def test_a_lost_sample_never_counts_as_a_good_cycle():
    """Both addresses cut throughout, one loss sample lost in most
    cycles, in turn: every cycle is failing (a sample lost between two
    cut ones was cut), but the newest two, whose lost samples have no
    cycle after them, are unknown and change nothing."""
    cut = [1.0] * 9
    series = {
        "a": _series(*cut, lost={1, 4, 7, 8}),
        "b": _series(*cut, lost={2, 5}),
    }
    cycles = replay.failing_cycles(series, DEFAULTS)
    assert [f for _, f in cycles] == [True] * 7 + [None, None]
    replayed = replay.hysteresis(cycles, 3, 3)
    assert (replayed.failed, replayed.failing_run, replayed.good_run) == (
        True,
        7,
        0,
    )
    assert replayed.failing_since == at(0)


def test_an_unknown_cycle_changes_neither_run():
    flags = [True, True, None, True, False, None, False, None, False]
    replayed = replay.hysteresis(
        [(at(i), f) for i, f in enumerate(flags)], 3, 3
    )
    assert (replayed.failed, replayed.good_run) == (False, 3)
    replayed = replay.hysteresis(
        [(at(i), f) for i, f in enumerate(flags[:7])], 3, 3
    )
    assert (replayed.failed, replayed.good_run) == (True, 2)


def test_a_cycle_of_which_no_sample_arrived_breaks_a_run():
    """Both addresses' samples of cycle 2 lost: the cycles on both sides
    are cut, but cycle 2 may have been good. A cycle whose samples
    arrived for one address only is filled in as before."""
    cut = (1.0,) * 5
    series = {"a": _series(*cut, lost={2}), "b": _series(*cut, lost={2})}
    cycles = replay.failing_cycles(series, DEFAULTS)
    assert cycles == [
        (at(0), True),
        (at(1), True),
        (at(3), replay.BREAK),
        (at(3), True),
        (at(4), True),
    ]
    assert not replay.hysteresis(cycles, 3, 3).failed
    series["b"] = _series(*cut)
    cycles = replay.failing_cycles(series, DEFAULTS)
    assert replay.BREAK not in [flag for _, flag in cycles]
    assert replay.hysteresis(cycles, 3, 3).failed


def test_the_samples_of_a_cycle_are_one_cycle_within_the_spread():
    """The samples of one cycle are stamped milliseconds apart, cycles a
    probe run or more apart; a second sample of an address begins the
    next cycle even sooner."""
    ms = datetime.timedelta(milliseconds=1)
    series = {
        "a": [(0, at(0), 1.0), (0, at(0) + 300 * ms, 1.0)],
        "b": [(0, at(0) + 2 * ms, 1.0), (0, at(0) + 302 * ms, 0.0)],
        "c": [(0, at(0) + 100 * ms, 1.0), (0, at(0) + 150 * ms, 1.0)],
    }
    cycles = replay.group_cycles(series, DEFAULTS.cycle_spread)
    assert [sorted(losses) for _, _, losses in cycles] == [
        ["a", "b", "c"],
        ["a", "b", "c"],
    ]
    assert cycles[1][2] == {"a": 1.0, "b": 0.0, "c": 1.0}
    # A clock stepped back: its epoch begins a cycle of its own.
    stepped = {"a": [(0, at(5), 1.0), (1, at(5), 1.0)]}
    assert len(replay.group_cycles(stepped, 1.0)) == 2


def test_a_silent_address_is_possibly_reachable_never_cut():
    cut = [address("a", 1.0, 65)]
    alone = storage_rules.storage_state(cut, DEFAULTS)
    assert (alone.failing, alone.failing_run) == (True, 65)
    state = storage_rules.storage_state(cut, DEFAULTS, silent=1)
    assert (state.addresses, state.failing, state.lost) == (2, False, False)
    # Two needed of three: one reachable and one silent are enough, one
    # silent alone is not; the failing run is how long both others have
    # been cut.
    settings = health_settings.HealthSettings(min_storage_reachable=2)
    state = storage_rules.storage_state(
        [address("a", 1.0, 7), address("b", 0.0, 4)], settings, silent=1
    )
    assert (state.needed, state.failing) == (2, False)
    state = storage_rules.storage_state(
        [address("a", 1.0, 7), address("b", 1.0, 4)], settings, silent=1
    )
    assert (state.failing, state.failing_run) == (True, 4)


def test_failing_cycles_count_silent_addresses_as_possibly_reachable():
    series = {"a": _series(*[1.0] * 5)}
    assert all(f for _, f in replay.failing_cycles(series, DEFAULTS))
    cycles = replay.failing_cycles(series, DEFAULTS, silent=1)
    assert [f for _, f in cycles] == [False] * 5


def test_largest_burst_and_enough():
    events = [(at(0), "a"), (at(1), "b"), (at(100), "c"), (at(2), "d")]
    assert guards.largest_burst(events, 5) == ["a", "b", "d"]
    assert guards.enough(2, 4, 0.5, 2)
    assert not guards.enough(1, 2, 0.5, 2)
    assert not guards.enough(2, 5, 0.5, 2)


def test_outage_needs_a_burst():
    losses = {"a": at(0), "b": at(1000), "c": at(2000)}
    assert guards.storage_outage_hosts(4, losses, DEFAULTS) == []
    losses = {"a": at(0), "b": at(10), "c": at(2000)}
    assert guards.storage_outage_hosts(4, losses, DEFAULTS) == ["a", "b", "c"]
    assert guards.storage_outage_hosts(1, {"a": at(0)}, DEFAULTS) == []


def test_hypervisor_down_degrades_but_missing_hypervisor_does_not():
    base = dict(
        host="h",
        cluster="c",
        last_heartbeat=T0,
        last_seen=T0,
        addresses=(address("a", 0.0, 50),),
    )
    down = host_facts.HypervisorState("h", False, 4, at(-4), "timeout")
    judged = host_rules.judge_host(
        host_facts.HostFacts(**base, hypervisors=(down,)), T0, DEFAULTS
    )
    assert (judged.verdict.verdict, judged.verdict.reason) == (
        model.DEGRADED,
        model.HYPERVISOR_DOWN,
    )
    judged = host_rules.judge_host(host_facts.HostFacts(**base), T0, DEFAULTS)
    assert judged.verdict.verdict == model.OK


def _simulate(settings, loss_ratio, addresses, cycles, seed, ping_count=4):
    """Count cycles judged failed for hosts with random packet loss only."""
    rng = random.Random(seed)
    k = storage_rules.needed_addresses(
        addresses, settings.min_storage_reachable
    )
    failed = 0
    flags = []
    for index in range(cycles):
        losses = [
            sum(rng.random() < loss_ratio for _ in range(ping_count))
            / ping_count
            for _ in range(addresses)
        ]
        flags.append(
            (
                at(index),
                storage_rules.is_failing_cycle(
                    losses, k, settings.failing_loss
                ),
            )
        )
        window = flags[-(settings.fail_cycles + settings.recover_cycles) :]
        if replay.hysteresis(
            window, settings.fail_cycles, settings.recover_cycles
        ).failed:
            failed += 1
    return failed


def test_no_false_failure_at_30_percent_loss():
    # 10,000 host-cycles with one storage address (the worst case).
    assert _simulate(DEFAULTS, 0.3, 1, 10_000, seed=7) == 0


def test_reachability_alone_would_fail_hosts_at_30_percent_loss():
    # failing_loss at the agent's ping_loss_ratio counts any unreachable
    # cycle as failing: the rule the defaults avoid.
    naive = health_settings.HealthSettings(failing_loss=0.75)
    assert _simulate(naive, 0.3, 1, 10_000, seed=7) > 0
