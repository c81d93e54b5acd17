"""Lost samples never make a host of several addresses fail sooner.

Every sample is a datagram of its own, and ``ha_latest``'s ``streak``
counts the samples received: a lost one can join two runs. Cycles are
written through the collector's own store (SQLite and MySQL), stamped
as ceilometer stamps them (every loss sample of a cycle alike).
"""

import datetime

import pytest

from ceilometer_ha.health import judge
from ceilometer_ha.health import model
from ceilometer_ha.health import settings as health_settings
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import migration
from ceilometer_ha.storage import store as store_mod
from tests import records

T0 = datetime.datetime(2026, 3, 1, 8, 0, 0)
SETTINGS = health_settings.HealthSettings()
X, Y = "198.51.100.2", "198.51.100.3"


def _at(second: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=second)


@pytest.fixture
def store(database_url):
    engine = engine_mod.create_engine(database_url)
    migration.upgrade(engine)
    yield store_mod.SampleStore(engine)
    engine.dispose()


def _write(store, host, losses, lost=(), start=0):
    """One cycle a second from 0: ``losses`` maps each address to its
    loss per cycle; the samples of (address, cycle) in ``lost`` never
    arrive. Another host, cmp-2, reports beside it. Only the cycles
    from ``start`` are written."""
    cycles = len(next(iter(losses.values())))
    for cycle in range(start, cycles):
        batch = []
        for name, values in [(host, losses), ("cmp-2", None)]:
            for address, loss in (values or {X: [0.0] * cycles}).items():
                if (address, cycle) in lost and name == host:
                    continue
                batch += records.storage_cycle(
                    name, address, loss[cycle], _at(cycle)
                )
        store.write_batch(batch)
    return _at(cycles - 1) + datetime.timedelta(seconds=0.5)


def _verdict(store, now):
    report = judge.judge(store.engine, SETTINGS, now=now)
    return next(v for v in report.hosts if v.host == "cmp-1")


def test_a_late_address_does_not_join_two_failing_runs(store):
    """X is cut in cycles 20 to 22 and good again in 23, whose sample is
    lost; Y is cut in 21 to 23. Two failing cycles in a row, not three:
    X's row still says cut for 3 samples, but it is a cycle behind Y's."""
    good, cut = [0.0] * 20, 1.0
    now = _write(
        store,
        "cmp-1",
        {X: good + [cut, cut, cut, 0.0], Y: good + [0.0, cut, cut, cut]},
        lost={(X, 23)},
    )
    found = _verdict(store, now)
    assert found.verdict != model.FAILED, found


def test_a_late_address_is_still_failed_when_it_was(store):
    """Both addresses cut for 5 cycles, X's last sample lost: failed
    (by the history, the last cycle counted possibly reachable)."""
    good, cut = [0.0] * 20, [1.0] * 5
    now = _write(
        store, "cmp-1", {X: good + cut, Y: good + cut}, lost={(X, 24)}
    )
    found = _verdict(store, now)
    assert found.verdict == model.FAILED, found


def test_the_history_lines_cycles_up_by_time(store):
    """X cut in 20 to 22, Y in 21 to 23, X's sample of cycle 24 lost:
    counted from the newest sample of each, the cycles would line up as
    three failing ones."""
    good, cut = [0.0] * 20, 1.0
    now = _write(
        store,
        "cmp-1",
        {
            X: good + [cut, cut, cut, 0.0, 0.0, 0.0],
            Y: good + [0.0, cut, cut, cut, 0.0, 0.0],
        },
        lost={(X, 24)},
    )
    found = _verdict(store, now)
    assert found.verdict == model.OK, found


def test_an_address_taken_out_of_the_configuration_is_not_replayed(store):
    """X was taken out 76 s ago (forgotten after 60 cycles); with a
    replay window of 100 cycles its old good samples are in it, but do
    not keep Y's 5 cut cycles from having failed the host."""
    settings = health_settings.HealthSettings(history_cycles=100)
    y = [0.0] * 80 + [1.0] * 5 + [0.0]
    now = _write(
        store,
        "cmp-1",
        {X: [0.0] * len(y), Y: y},
        lost={(X, cycle) for cycle in range(10, len(y))},
    )
    report = judge.judge(store.engine, settings, now=now)
    found = next(v for v in report.hosts if v.host == "cmp-1")
    assert (found.verdict, found.reason) == (
        model.FAILED,
        model.STORAGE_RECOVERING,
    ), found


def test_lost_samples_of_a_cut_host_never_make_it_recover(store):
    """Both addresses cut from cycle 20; three loss samples lost in a
    row of cycles, one address then the other. Judged after every
    cycle, the host stays failed, its storage lost: a lost sample is no
    good cycle."""
    cut = [0.0] * 20 + [1.0] * 22
    lost = {(X, 37), (Y, 38), (X, 39)}
    _write(store, "cmp-1", {X: cut[:36], Y: cut[:36]})
    seen = []
    for cycle in range(36, len(cut)):
        now = _write(
            store,
            "cmp-1",
            {X: cut[: cycle + 1], Y: cut[: cycle + 1]},
            lost,
            start=cycle,
        )
        found = _verdict(store, now)
        seen.append((cycle, found.verdict, found.reason))
    assert seen == [
        (cycle, model.FAILED, model.STORAGE_LOST)
        for cycle in range(36, len(cut))
    ]


def _judged_after_each(store, losses, lost, first, settings=SETTINGS):
    """Write the cycles up to ``first``, then judge after each later."""
    _write(store, "cmp-1", {a: v[:first] for a, v in losses.items()}, lost)
    seen = []
    cycles = len(next(iter(losses.values())))
    for cycle in range(first, cycles):
        now = _write(
            store,
            "cmp-1",
            {a: v[: cycle + 1] for a, v in losses.items()},
            lost,
            start=cycle,
        )
        found = judge.judge(store.engine, settings, now=now).hosts[0]
        assert found.host == "cmp-1"
        seen.append((cycle, found.verdict, found.reason, found.since))
    return seen


def test_a_lost_sample_of_a_long_failed_host_keeps_its_since(store):
    """Cut since cycle 5, longer than the replay window (20 cycles): the
    read whose latest cycle misses a sample still says since cycle 5."""
    cut = [0.0] * 5 + [1.0] * 40
    seen = _judged_after_each(store, {X: cut, Y: cut}, {(X, 40)}, first=38)
    assert seen == [
        (cycle, model.FAILED, model.STORAGE_LOST, _at(5))
        for cycle in range(38, 45)
    ]


def test_an_address_silent_since_it_was_cut_keeps_a_failed_host_failed(
    store,
):
    """Three addresses cut since cycle 5; Z's samples stop at cycle 20
    (silent 5 s later), and X's sample of cycle 25 is lost. Z fell
    silent cut: the host stays failed, since cycle 5, throughout."""
    z = "198.51.100.4"
    cut = [0.0] * 5 + [1.0] * 23
    lost = {(z, c) for c in range(20, 26)} | {(X, 25)}
    seen = _judged_after_each(store, {X: cut, Y: cut, z: cut}, lost, 22)
    assert seen == [
        (cycle, model.FAILED, model.STORAGE_LOST, _at(5))
        for cycle in range(22, 28)
    ]


def test_an_address_silent_since_it_was_good_keeps_a_host_from_failing(
    store,
):
    """X is cut from cycle 20; Y's samples stopped at cycle 19, when Y
    was good: possibly reachable, the host is degraded, never failed."""
    cut = [0.0] * 20 + [1.0] * 10
    lost = {(Y, c) for c in range(20, 30)}
    seen = _judged_after_each(store, {X: cut, Y: [0.0] * 30}, lost, first=25)
    assert {(verdict, reason) for _, verdict, reason, _ in seen} == {
        (model.DEGRADED, model.STORAGE_SILENT)
    }, seen


def test_the_since_of_a_failed_host_stays_under_datagram_loss(store):
    """Cut from cycle 20 on both addresses, X's sample lost every third
    cycle and Y's twice: read after every cycle, still since cycle 20
    once the run is longer than the replay window."""
    cut = [0.0] * 20 + [1.0] * 35
    lost = {(X, c) for c in range(21, 55, 3)} | {(Y, 45), (Y, 52)}
    seen = _judged_after_each(store, {X: cut, Y: cut}, lost, first=40)
    assert {(v, r, since) for _, v, r, since in seen} == {
        (model.FAILED, model.STORAGE_LOST, _at(20))
    }, seen


def test_the_edge_of_the_replay_window_does_not_move_since(store):
    """X's samples of cycles 38 to 40 lost, then whole cycles lost: when
    a later read replays a window that begins before X's first sample
    in it, that edge is no break in the run."""
    cut = [0.0] * 24 + [1.0] * 40
    lost = (
        {(X, c) for c in (38, 39, 40)}
        | {(a, c) for c in (45, 48, 51, 54, 57) for a in (X, Y)}
        | {(Y, 62)}
    )
    seen = _judged_after_each(store, {X: cut, Y: cut}, lost, first=58)
    assert {(v, r, since) for _, v, r, since in seen} == {
        (model.FAILED, model.STORAGE_LOST, _at(24))
    }, seen


def test_a_cycle_none_of_whose_samples_arrived_is_no_failing_cycle(store):
    """One address, cut in cycles 20 and 21; every sample of cycle 22 is
    lost (it may have been good); 23 is cut: one failing cycle in a row
    is known, not three, though the row says cut for 3 samples."""
    cut = [0.0] * 20 + [1.0] * 4
    now = _write(store, "cmp-1", {X: cut}, lost={(X, 22)})
    found = _verdict(store, now)
    assert (found.verdict, found.reason) == (
        model.DEGRADED,
        model.STORAGE_FAILING,
    ), found
    assert "failing for 1/3 cycles" in found.detail
    assert found.since == _at(23)


def test_failing_cycles_apart_across_a_gap_of_the_observer_are_no_run(
    store,
):
    """Two addresses cut in cycles 18 and 19, then nothing recorded of
    anyone for a minute, then cut again: one failing cycle after the
    gap, three only once two more followed."""
    cut = [0.0] * 18 + [1.0, 1.0]
    _write(store, "cmp-1", {X: cut, Y: cut})
    for cycle, expected in ((80, model.DEGRADED), (81, model.DEGRADED)):
        later = [0.0] * 80 + [1.0] * (cycle - 79)
        now = _write(store, "cmp-1", {X: later, Y: later}, start=cycle)
        found = _verdict(store, now)
        assert (found.verdict, found.since) == (expected, _at(80)), found
        assert f"failing for {cycle - 79}/3 cycles" in found.detail
    later = [0.0] * 80 + [1.0] * 3
    now = _write(store, "cmp-1", {X: later, Y: later}, start=82)
    assert _verdict(store, now).verdict == model.FAILED


def test_a_failed_host_whose_clock_steps_forward_keeps_its_history(store):
    """Cut from cycle 5, one good cycle at 25, cut again: failed
    throughout. Its clock is stepped forward by 30 s at cycle 25: its
    history window, on its clock, still holds the samples of before."""
    seen = []
    for cycle in range(31):
        step = datetime.timedelta(seconds=30 if cycle >= 25 else 0)
        cut = 5 <= cycle != 25
        batch = [
            sample._replace(recorded_at=_at(cycle + 0.1))
            for host, loss in (("cmp-1", float(cut)), ("cmp-2", 0.0))
            for sample in records.storage_cycle(
                host, X, loss, _at(cycle) + step
            )
            + [records.heartbeat(host, _at(cycle) + step)]
        ]
        store.write_batch(batch)
        if cycle >= 24:
            found = _verdict(store, _at(cycle + 0.5))
            seen.append((cycle, found.verdict))
    assert seen == [(cycle, model.FAILED) for cycle in range(24, 31)]


def test_a_failed_host_whose_latest_cycles_went_unrecorded_stays_lost(
    store,
):
    """Both addresses cut from cycle 5: every sample of cycles 20 and 21
    lost, and Y's of 22. No good cycle arrived: still storage lost,
    since cycle 5, not recovering."""
    cut = [0.0] * 5 + [1.0] * 18
    lost = {(X, 20), (Y, 20), (X, 21), (Y, 21), (Y, 22)}
    now = _write(store, "cmp-1", {X: cut, Y: cut}, lost=lost)
    found = _verdict(store, now)
    assert (found.verdict, found.reason, found.since) == (
        model.FAILED,
        model.STORAGE_LOST,
        _at(5),
    ), found


def test_a_failed_host_stays_failed_under_heavy_datagram_loss(store):
    """One address, cut from cycle 20, failed at 22; from then on every
    third cycle goes unrecorded, so that the last 20 cycles never hold
    three cut ones in a row: failed throughout, since cycle 20."""
    cut = [0.0] * 20 + [1.0] * 40
    lost = {(X, cycle) for cycle in range(23, 60, 3)}
    seen = _judged_after_each(store, {X: cut}, lost, first=22)
    assert {(v, r, since) for _, v, r, since in seen} == {
        (model.FAILED, model.STORAGE_LOST, _at(20))
    }, seen
