"""Stale hosts after a gap of the observer itself (SQLite and MySQL).

Cycles are written through the collector's own store, so that
``ha_sample`` and ``ha_latest`` hold what a collector would: hosts
report every second, then the observer records nothing for a while,
then hosts come back one batch at a time.
"""

import dataclasses
import datetime

import pytest

from ceilometer_ha.health import guards
from ceilometer_ha.health import judge
from ceilometer_ha.health import model
from ceilometer_ha.health import observer_gaps
from ceilometer_ha.health import settings as health_settings
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import migration
from ceilometer_ha.storage import models
from ceilometer_ha.storage import store as store_mod
from tests import records

T0 = datetime.datetime(2026, 3, 1, 8, 0, 0)
SETTINGS = health_settings.HealthSettings()
HOSTS = [f"cmp-{n:02d}" for n in range(10)]


def _at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


class Observer:
    """What the collector stores of each host's polling cycles."""

    def __init__(self, url: str) -> None:
        self.engine = engine_mod.create_engine(url)
        migration.upgrade(self.engine)
        self.store = store_mod.SampleStore(self.engine)

    def cycle(self, hosts, at: datetime.datetime) -> None:
        self.store.write_batch(
            [
                sample
                for host in hosts
                for sample in records.storage_cycle(
                    host, "198.51.100.2", 0.0, at
                )
            ]
        )

    def cycles(self, hosts, first: float, last: float) -> None:
        for second in range(int(first), int(last) + 1):
            self.cycle(hosts, _at(second))

    def judge(self, now: datetime.datetime, settings=SETTINGS):
        return judge.judge(self.engine, settings, now=now)


@pytest.fixture
def observer(database_url):
    made = Observer(database_url)
    yield made
    made.engine.dispose()


@pytest.mark.parametrize("outage", [60, 360])
def test_hosts_not_heard_since_the_observer_resumed_are_no_verdict(
    observer, outage
):
    """The collector recorded nothing for ``outage`` seconds, longer
    than the cliff's hold in the second case; as it resumes, 3 of 10
    hosts are back: the other 7 fell silent when it did."""
    observer.cycles(HOSTS, 0, 19)
    resumed = _at(19 + outage)
    observer.cycle(HOSTS[:3], resumed)
    report = observer.judge(resumed + datetime.timedelta(seconds=0.3))
    assert report.counts()[model.STALE] == 7
    assert (report.can_judge, report.reason) == (False, model.STALE_CLIFF)
    assert "recorded no sample from any host" in report.detail
    assert "7 hosts not heard from since" in report.detail

    # The others come back with the next cycle: judged again.
    observer.cycle(HOSTS, resumed + datetime.timedelta(seconds=1))
    report = observer.judge(resumed + datetime.timedelta(seconds=1.3))
    assert (report.can_judge, report.counts()[model.OK]) == (True, 10)


def test_hosts_still_silent_after_the_observer_resumed_are_judged(observer):
    """Two hosts never come back after a gap of the observer: once
    ``stale_after`` has passed since it resumed, with the 8 others
    reporting, they are stale and the report can judge them."""
    observer.cycles(HOSTS, 0, 19)
    observer.cycles(HOSTS[2:], 80, 90)
    report = observer.judge(_at(90.5))
    assert (report.can_judge, report.reason) == (True, None)
    assert {v.host for v in report.hosts if v.verdict == model.STALE} == {
        "cmp-00",
        "cmp-01",
    }


def test_a_gap_after_a_host_was_seen_silent_changes_nothing(observer):
    """cmp-00 stopped 10 s before the observer's gap: its silence was
    seen for longer than ``stale_after``, so it is no longer news."""
    observer.cycles(HOSTS, 0, 9)
    observer.cycles(HOSTS[1:], 10, 19)
    observer.cycles(HOSTS[1:], 80, 80)
    gaps = _gaps(observer, _at(80.3))
    assert gaps == {}
    report = observer.judge(_at(80.3))
    assert (report.can_judge, report.counts()[model.STALE]) == (True, 1)


def test_a_host_silent_long_after_a_short_pause_is_judged(observer):
    """Recording paused for 4 s (a collector restart) as cmp-00 stopped:
    a gap, but once ``stale_after`` has passed since it ended, with the
    others reporting, cmp-00 is stale and the report can judge."""
    observer.cycles(HOSTS, 0, 19)
    observer.cycles(HOSTS[1:], 23, 40)
    assert _gaps(observer, _at(40.3)) == {
        "cmp-00": observer_gaps.Gap(_at(19), _at(23))
    }
    report = observer.judge(_at(40.3))
    assert (report.can_judge, report.counts()[model.STALE]) == (True, 1)


def _phased(observer, hosts, first, last, skip=(None, None), reads=()):
    """Each host reports every second at its own phase (i / 10 s), as
    real hosts do; nothing is recorded strictly within ``skip``. The
    reports at ``reads`` (seconds), each read once everything before it
    was recorded."""
    reads = sorted(reads)
    reports = []
    for second in range(first, last + 1):
        for index, host in enumerate(hosts):
            at = second + index / 10
            while reads and reads[0] < at:
                reports.append(observer.judge(_at(reads.pop(0))))
            if skip[0] is not None and skip[0] < at < skip[1]:
                continue
            observer.cycle([host], _at(at))
    return reports


def test_a_pause_shorter_than_stale_after_stales_no_host(observer):
    """The collector records nothing for 4.6 s, less than ``stale_after``:
    a host last heard just before is silent for up to a polling cycle
    more on each side, over ``stale_after``. Until every host is back
    the report cannot judge the ones not heard from yet."""
    _phased(observer, HOSTS, 0, 19)
    reads = (24.75, 25.05, 25.25, 25.45)
    reports = _phased(
        observer, HOSTS, 20, 26, skip=(19.95, 24.55), reads=reads
    )
    seen_stale = 0
    for report in reports:
        if report.counts()[model.STALE]:
            seen_stale += 1
            assert (report.can_judge, report.reason) == (
                False,
                model.STALE_CLIFF,
            ), report.detail
            assert "recorded no sample from any host" in report.detail
    assert seen_stale == 4
    report = observer.judge(_at(26.05))
    assert (report.can_judge, report.counts()[model.OK]) == (True, 10)


def test_a_sample_recorded_alone_does_not_end_an_outage(observer):
    """One sample of one host recorded in the middle of a 60 s outage
    (a datagram that got through): as recording resumes with 6 of 10
    hosts, the outage is still the one that began at 19 s."""
    observer.cycles(HOSTS, 0, 19)
    observer.cycle(HOSTS[:1], _at(50))
    observer.cycle(HOSTS[:6], _at(80))
    report = observer.judge(_at(80.3))
    assert (report.can_judge, report.reason) == (False, model.STALE_CLIFF)
    assert report.counts()[model.STALE] == 4
    assert "from 2026-03-01T08:00:19.000000Z to 2026-03-01T08:01:20" in (
        report.detail
    )


def test_a_gap_is_found_when_the_samples_before_it_expired(observer):
    """The TTL removed the samples of before a long outage from
    ``ha_sample`` (expiry deletes them before the ``ha_latest`` rows):
    the hosts' own last recordings still begin the gap."""
    observer.cycles(HOSTS, 0, 19)
    observer.cycle(HOSTS[:3], _at(4019))
    with observer.engine.begin() as conn:
        conn.execute(
            models.sample.delete().where(
                models.sample.c.recorded_at < _at(1000)
            )
        )
    report = observer.judge(_at(4019.3))
    assert (report.can_judge, report.reason) == (False, model.STALE_CLIFF)
    assert report.counts()[model.STALE] == 7


@pytest.mark.parametrize("ahead", [4.2, 30])
def test_a_reader_whose_clock_runs_ahead_cannot_judge(observer, ahead):
    """A reader whose clock is ahead of the collectors' sees nothing
    recorded lately: a gap still going on, not hosts gone silent."""
    _phased(observer, HOSTS, 0, 19)
    report = observer.judge(_at(19.95))
    assert (report.can_judge, report.counts()[model.OK]) == (True, 10)
    report = observer.judge(_at(19.95 + ahead))
    assert report.counts()[model.STALE] > 0
    assert (report.can_judge, report.reason) != (True, None)
    if report.reason == model.STALE_CLIFF:
        assert "has recorded no sample from any host since" in (report.detail)


def test_the_gap_found_is_the_observers(observer):
    observer.cycles(HOSTS, 0, 19)
    observer.cycles(HOSTS[3:], 100, 101)
    gaps = _gaps(observer, _at(101.5))
    assert gaps == dict.fromkeys(
        HOSTS[:3], observer_gaps.Gap(_at(19), _at(100))
    )


def _gaps(observer, now):
    report = observer.judge(now)
    stale = {v.host: v.since for v in report.hosts if v.verdict == "stale"}
    with observer.engine.connect() as conn:
        return observer_gaps.resumptions(conn, stale, SETTINGS, now)


def _stale(host: str, since: datetime.datetime) -> model.HostVerdict:
    return model.HostVerdict(host, "rack-1", model.STALE, since=since)


def _ok(host: str) -> model.HostVerdict:
    return model.HostVerdict(host, "rack-1", model.OK)


def test_hosts_gone_longer_than_the_hold_do_not_dilute_a_cliff():
    """20 hosts decommissioned a day ago keep their rows (no TTL); 12
    of the 20 live ones stop at once: a cliff of the live hosts."""
    now = _at(0)
    verdicts = (
        [_stale(f"old-{n}", _at(-86400)) for n in range(20)]
        + [_stale(f"cmp-{n}", _at(-10)) for n in range(12)]
        + [_ok(f"cmp-{n}") for n in range(12, 20)]
    )
    reason, detail = guards.observer_blind(verdicts, SETTINGS, now)
    assert reason == model.STALE_CLIFF
    assert detail == "12 of 20 hosts went stale within 5 s"
    # Fewer than half of the live hosts: no cliff, they are judged.
    for index in range(3):
        verdicts[20 + index] = _ok(f"cmp-{index}")
    assert guards.observer_blind(verdicts, SETTINGS, now) == (None, "")


def test_a_cliff_holds_from_when_the_observer_resumed():
    """Hosts silent since before a gap of the observer that ended within
    the hold are a cliff, however long ago they were last heard."""
    now = _at(0)
    hold = SETTINGS.stale_cliff_hold
    last = _at(-2 * hold)
    verdicts = [_stale(f"gone-{n}", last) for n in range(3)] + [
        _ok(f"up-{n}") for n in range(2)
    ]
    assert guards.observer_blind(verdicts, SETTINGS, now) == (None, "")
    gap = observer_gaps.Gap(last, _at(-hold / 2))
    gaps = {f"gone-{n}": gap for n in range(3)}
    reason, _ = guards.observer_blind(verdicts, SETTINGS, now, gaps)
    assert reason == model.STALE_CLIFF
    later = dataclasses.replace(
        SETTINGS, stale_cliff_hold_cycles=SETTINGS.stale_cliff_hold_cycles // 4
    )
    assert guards.observer_blind(verdicts, later, now, gaps) == (None, "")
