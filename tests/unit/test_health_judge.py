"""Verdicts read from a real SQLite ``ha_latest`` with a fake clock."""

import dataclasses
import datetime
import json

import pytest

from ceilometer_ha.health import fetch
from ceilometer_ha.health import history as history_mod
from ceilometer_ha.health import judge
from ceilometer_ha.health import latest_rows
from ceilometer_ha.health import model
from ceilometer_ha.health import reader
from ceilometer_ha.health import settings as health_settings
from ceilometer_ha.storage import models
from ceilometer_ha.storage import store as store_mod
from tests import records
from tests.unit import health_fixtures

A, B = "198.51.100.2", "198.51.100.3"
DEFAULTS = health_settings.HealthSettings()


@pytest.fixture
def clock():
    return health_fixtures.FakeClock()


@pytest.fixture
def table(tmp_path, clock):
    return health_fixtures.SampleTable(
        f"sqlite:///{tmp_path / 'ha.sqlite'}", clock
    )


@pytest.fixture
def any_table(database_url, clock):
    """SQLite and MariaDB: the history read differs between them."""
    table = health_fixtures.SampleTable(database_url, clock)
    yield table
    table.engine.dispose()


def verdict_of(table, clock, host, settings=DEFAULTS):
    report = judge.judge(table.engine, settings, now=clock.now())
    return next(v for v in report.hosts if v.host == host), report


def healthy(n=20):
    return [0.0] * n


@pytest.mark.parametrize(
    "cut_cycles, verdict, reason",
    [
        (0, model.OK, None),
        (1, model.DEGRADED, model.STORAGE_FAILING),
        (2, model.DEGRADED, model.STORAGE_FAILING),
        (3, model.FAILED, model.STORAGE_LOST),
        (7, model.FAILED, model.STORAGE_LOST),
    ],
)
def test_hysteresis_to_failed(any_table, clock, cut_cycles, verdict, reason):
    table = any_table
    cut = [1.0] * cut_cycles
    table.host("cmp-1", {A: healthy() + cut, B: healthy() + cut})
    table.host("cmp-2", {A: healthy(), B: healthy()})
    found, report = verdict_of(table, clock, "cmp-1")
    assert (found.verdict, found.reason) == (verdict, reason)
    assert report.can_judge
    if cut_cycles:
        assert f"{cut_cycles}" in found.detail
        first_cut = clock.now() - datetime.timedelta(seconds=cut_cycles - 1)
        assert found.since == first_cut
        assert {e.address for e in found.evidence} == {A, B}
        assert all(e.value == 1.0 for e in found.evidence)


@pytest.mark.parametrize(
    "good_cycles, verdict, reason",
    [
        (1, model.FAILED, model.STORAGE_RECOVERING),
        (2, model.FAILED, model.STORAGE_RECOVERING),
        (3, model.OK, None),
    ],
)
def test_hysteresis_back_to_ok(any_table, clock, good_cycles, verdict, reason):
    table = any_table
    history = healthy(5) + [1.0] * 4 + [0.25] * good_cycles
    table.host("cmp-1", {A: history, B: [1.0] * len(history)})
    table.host("cmp-2", {A: healthy()})
    found, _ = verdict_of(table, clock, "cmp-1")
    assert (found.verdict, found.reason) == (verdict, reason)


@pytest.mark.parametrize("hours", [0, 2])
def test_an_aware_now_is_taken_as_the_utc_time_it_is(table, clock, hours):
    """An HA engine's datetime.now(timezone.utc), or one in its own zone:
    the same report as naive UTC, a failed host included."""
    table.host("cmp-1", {A: healthy() + [1.0] * 3, B: healthy() + [1.0] * 3})
    table.host("cmp-2", {A: healthy(), B: healthy()})
    zone = datetime.timezone(datetime.timedelta(hours=hours))
    aware = clock.now().replace(tzinfo=datetime.timezone.utc).astimezone(zone)
    naive = judge.judge(table.engine, DEFAULTS, now=clock.now())
    report = judge.judge(table.engine, DEFAULTS, now=aware)
    assert [(v.host, v.verdict) for v in report.hosts] == [
        ("cmp-1", model.FAILED),
        ("cmp-2", model.OK),
    ]
    assert report.hosts == naive.hosts


def test_failed_host_failing_again_stays_failed(any_table, clock):
    table = any_table
    history = healthy(5) + [1.0] * 4 + [0.0] + [1.0]
    table.host("cmp-1", {A: history})
    table.host("cmp-2", {A: healthy()})
    found, _ = verdict_of(table, clock, "cmp-1")
    assert (found.verdict, found.reason) == (model.FAILED, model.STORAGE_LOST)


def test_short_cut_after_long_health_is_degraded_only(table, clock):
    table.host("cmp-1", {A: healthy(5) + [1.0, 0.0, 1.0, 0.0, 1.0, 1.0]})
    table.host("cmp-2", {A: healthy()})
    found, _ = verdict_of(table, clock, "cmp-1")
    assert (found.verdict, found.reason) == (
        model.DEGRADED,
        model.STORAGE_FAILING,
    )
    assert "2/3" in found.detail


def test_lossy_but_not_cut_is_degraded_not_failed(table, clock):
    table.host("cmp-1", {A: healthy() + [0.75] * 10, B: [0.75] * 30})
    table.host("cmp-2", {A: healthy()})
    found, _ = verdict_of(table, clock, "cmp-1")
    assert (found.verdict, found.reason) == (
        model.DEGRADED,
        model.STORAGE_UNREACHABLE,
    )


def test_one_of_two_addresses_cut_is_ok_by_default(table, clock):
    table.host("cmp-1", {A: [1.0] * 10, B: healthy()})
    table.host("cmp-2", {A: healthy()})
    found, _ = verdict_of(table, clock, "cmp-1")
    assert found.verdict == model.OK
    strict = health_settings.HealthSettings(min_storage_reachable=2)
    found, _ = verdict_of(table, clock, "cmp-1", strict)
    assert (found.verdict, found.reason) == (model.FAILED, model.STORAGE_LOST)


def test_stale_host(table, clock):
    table.host("cmp-1", {A: healthy()}, heartbeat_age=5.5)
    table.host("cmp-2", {A: healthy()})
    table.host("cmp-3", {A: healthy()})
    found, report = verdict_of(table, clock, "cmp-1")
    assert (found.verdict, found.reason) == (
        model.STALE,
        model.HEARTBEAT_MISSING,
    )
    assert report.can_judge
    table.clear()
    table.host("cmp-1", {A: healthy()}, heartbeat_age=4.5)
    table.host("cmp-2", {A: healthy()})
    assert verdict_of(table, clock, "cmp-1")[0].verdict == model.OK


def test_a_host_whose_heartbeats_are_lost_but_not_its_other_samples(
    any_table, clock
):
    """Each sample is a datagram of its own: a host whose last heartbeats
    were lost while its storage samples arrived still reports, and is
    not stale; it is once nothing of it arrived for ``stale_cycles``."""
    table = any_table
    for host in ("cmp-1", "cmp-2", "cmp-3"):
        table.host(host, {A: healthy()})
    _age_rows(
        table,
        8,
        models.latest.c.host == "cmp-1",
        models.latest.c.meter == reader.HEARTBEAT,
    )
    found, report = verdict_of(table, clock, "cmp-1")
    assert found.verdict == model.OK
    assert report.can_judge
    clock.advance(5.5)
    table.host("cmp-2", {A: healthy()})
    table.host("cmp-3", {A: healthy()})
    found, _ = verdict_of(table, clock, "cmp-1")
    assert (found.verdict, found.reason) == (
        model.STALE,
        model.HEARTBEAT_MISSING,
    )
    # Since its last sample of a verdict meter, not its last heartbeat.
    assert found.since == clock.now() - datetime.timedelta(seconds=5.5)


def test_an_outage_is_a_share_of_the_hosts_that_use_storage(table, clock):
    """Three hosts on the shared storage and four on local disks (no
    storage address): the three losing it at once are an outage, not
    three failures diluted by hosts that cannot lose it."""
    for index in range(3):
        table.host(f"ceph-{index}", {A: healthy() + [1.0] * 5})
    for index in range(4):
        table.host(f"local-{index}")
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    assert report.counts()[model.FAILED] == 0
    (cluster,) = report.clusters
    assert cluster.storage_outage
    assert cluster.outage_hosts == ["ceph-0", "ceph-1", "ceph-2"]
    # One of the three alone is a host failure.
    table.clear()
    table.host("ceph-0", {A: healthy() + [1.0] * 5})
    for index in (1, 2):
        table.host(f"ceph-{index}", {A: healthy()})
    for index in range(4):
        table.host(f"local-{index}")
    found, report = verdict_of(table, clock, "ceph-0")
    assert found.verdict == model.FAILED
    assert not report.clusters[0].storage_outage


def _age_rows(table, seconds, *where):
    """Make the latest rows ``where`` selects ``seconds`` old, as when
    their samples stopped arriving that long ago."""
    old = table.clock.now() - datetime.timedelta(seconds=seconds)
    with table.engine.begin() as conn:
        conn.execute(
            models.latest.update()
            .where(*where)
            .values(recorded_at=old, timestamp=old)
        )


def _age_address(table, host, address, seconds):
    _age_rows(
        table, seconds, models.latest.c.resource_id == f"{host}-{address}"
    )


def _latest_row(host, meter, resource_id, at, **values):
    """An ``ha_latest`` row of ``host`` recorded (and stamped) at ``at``."""
    row = dict(
        host=host,
        meter=meter,
        resource_id=resource_id,
        cluster="rack-1",
        message_id=f"{resource_id}-{meter}",
        volume=0.0,
        unit="",
        timestamp=at,
        recorded_at=at,
        streak=1,
        since=at,
        resource_metadata="{}",
    )
    row.update(values)
    return row


@pytest.mark.parametrize("cut_cycles", [2, 65])
def test_an_address_gone_silent_beside_a_cut_one_does_not_fail_the_host(
    any_table, clock, cut_cycles
):
    """A long dead, B's samples stopped arriving (lost on the way, or B
    cannot be probed): B is possibly reachable, the host degraded, not
    failed, until B is forgotten after forget_address_cycles."""
    table = any_table
    table.host("cmp-1", {A: healthy() + [1.0] * cut_cycles, B: healthy(22)})
    table.host("cmp-2", {A: healthy()})
    table.host("cmp-3", {A: healthy()})
    _age_address(table, "cmp-1", B, 6)
    found, _ = verdict_of(table, clock, "cmp-1")
    assert (found.verdict, found.reason) == (
        model.DEGRADED,
        model.STORAGE_SILENT,
    )
    silent = [e for e in found.evidence if e.address == B]
    assert silent and "no sample recorded since" in silent[0].note
    # Forgotten: A alone is the host's storage, cut.
    _age_address(table, "cmp-1", B, DEFAULTS.forget_address_after + 1)
    found, _ = verdict_of(table, clock, "cmp-1")
    if cut_cycles >= DEFAULTS.fail_cycles:
        assert (found.verdict, found.reason) == (
            model.FAILED,
            model.STORAGE_LOST,
        )
    else:
        assert found.verdict == model.DEGRADED


def test_a_host_with_a_silent_address_is_part_of_a_storage_outage(
    any_table, clock
):
    """The fabric fails under both hosts while one of cmp-1's addresses
    is silent: cmp-1's reporting addresses lost storage, so it counts
    with cmp-2 as an outage, and neither host fails."""
    table = any_table
    table.host("cmp-1", {A: healthy() + [1.0] * 5, B: healthy(15)})
    table.host("cmp-2", {A: healthy() + [1.0] * 5, B: healthy() + [1.0] * 5})
    _age_address(table, "cmp-1", B, 10)
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    assert report.counts()[model.FAILED] == 0
    (cluster,) = report.clusters
    assert cluster.storage_outage
    assert cluster.outage_hosts == ["cmp-1", "cmp-2"]


@pytest.mark.parametrize("explain", [(), ("cmp-1",)])
def test_a_silent_address_beside_enough_good_ones_is_no_finding(
    any_table, clock, explain
):
    """Two addresses needed, one reporting fine, the other silent: the
    reporting one alone is not failing, and the host is ok whether or
    not it is read in detail."""
    table = any_table
    table.host("cmp-1", {A: healthy(), B: healthy()})
    table.host("cmp-2", {A: healthy(), B: healthy()})
    _age_address(table, "cmp-1", B, 6)
    strict = health_settings.HealthSettings(min_storage_reachable=2)
    report = judge.judge(
        table.engine, strict, now=clock.now(), explain=explain
    )
    found = next(v for v in report.hosts if v.host == "cmp-1")
    assert (found.verdict, found.reason) == (model.OK, None)


def test_an_address_gone_silent_beside_a_good_one_leaves_the_host_ok(
    any_table, clock
):
    table = any_table
    table.host("cmp-1", {A: healthy(), B: healthy()})
    table.host("cmp-2", {A: healthy()})
    _age_address(table, "cmp-1", B, 6)
    assert verdict_of(table, clock, "cmp-1")[0].verdict == model.OK


@pytest.mark.parametrize("explain", [(), ("cmp-1",)])
def test_stale_is_judged_alike_with_and_without_detail(
    any_table, clock, explain
):
    """A host whose heartbeat, hypervisor and storage samples stopped
    while samples of a meter the verdicts do not read still arrive
    (ha.management.loss) is stale, whether it is read in detail or
    judged from the summary alone."""
    table = any_table
    for host in ("cmp-2", "cmp-3"):
        table.host(host, {A: healthy()})
    # On local disks: no storage row sends it to the detailed path.
    table.host("cmp-1", heartbeat_age=8)
    with table.engine.begin() as conn:
        conn.execute(
            models.latest.insert().values(
                _latest_row(
                    "cmp-1",
                    "ha.management.loss",
                    "cmp-1-203.0.113.9",
                    clock.now(),
                    streak=30,
                )
            )
        )
    report = judge.judge(
        table.engine, DEFAULTS, now=clock.now(), explain=explain
    )
    found = next(v for v in report.hosts if v.host == "cmp-1")
    assert found.verdict == model.STALE


@pytest.mark.parametrize("explain", [(), ("many",)])
def test_a_thousand_silent_addresses_do_not_pass_for_a_current_sample(
    any_table, clock, explain
):
    """The summary packs its counts into numbers: a host whose 1,000
    storage addresses all fell silent, and nothing else arrives, is
    stale, not ok, with or without detail."""
    table = any_table
    for host in ("cmp-2", "cmp-3"):
        table.host(host, {A: healthy()})
    old = clock.now() - datetime.timedelta(seconds=8)
    with table.engine.begin() as conn:
        conn.execute(
            models.latest.insert(),
            [
                _latest_row("many", "ha.storage.loss", f"many-{i}", old)
                for i in range(1000)
            ],
        )
    report = judge.judge(
        table.engine, DEFAULTS, now=clock.now(), explain=explain
    )
    found = next(v for v in report.hosts if v.host == "many")
    assert found.verdict == model.STALE


def test_storage_outage_is_not_host_failures(table, clock):
    for index in range(4):
        table.host(f"cmp-{index}", {A: healthy() + [1.0] * 5})
    table.host("cmp-9", {A: healthy()})
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    assert report.counts()[model.FAILED] == 0
    (cluster,) = report.clusters
    assert cluster.storage_outage
    assert cluster.outage_hosts == [f"cmp-{i}" for i in range(4)]
    cut = [v for v in report.hosts if v.host != "cmp-9"]
    assert {(v.verdict, v.reason, v.protected_by) for v in cut} == {
        (model.DEGRADED, model.STORAGE_OUTAGE, model.STORAGE_OUTAGE)
    }


@pytest.mark.parametrize("recovered", [1, 2, 3, 4])
@pytest.mark.parametrize("good", [1, DEFAULTS.recover_cycles - 1])
def test_hosts_stay_covered_while_an_outage_ends(
    table, clock, good, recovered
):
    """Storage comes back, to some hosts first: those still failed while
    they recover are no more failed than while it was lost."""
    for index in range(4):
        back = [0.0] * good if index < recovered else []
        table.host(f"cmp-{index}", {A: healthy(5) + [1.0] * 15 + back})
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    assert report.counts()[model.FAILED] == 0, report.hosts
    (cluster,) = report.clusters
    assert cluster.storage_outage
    assert {(v.verdict, v.protected_by) for v in report.hosts} == {
        (model.DEGRADED, model.STORAGE_OUTAGE)
    }


def test_hosts_recovered_from_an_outage_are_ok(table, clock):
    for index in range(4):
        table.host(
            f"cmp-{index}",
            {A: healthy(5) + [1.0] * 15 + [0.0] * DEFAULTS.recover_cycles},
        )
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    assert report.counts()[model.OK] == 4
    assert not report.clusters[0].storage_outage


def test_a_host_recovering_alone_stays_failed(table, clock):
    table.host("cmp-0", {A: healthy(5) + [1.0] * 15 + [0.0]})
    for index in range(1, 4):
        table.host(f"cmp-{index}", {A: healthy()})
    host, report = verdict_of(table, clock, "cmp-0")
    assert (host.verdict, host.reason) == (
        model.FAILED,
        model.STORAGE_RECOVERING,
    )
    assert not report.clusters[0].storage_outage


def test_single_host_storage_loss_in_big_cluster_fails(table, clock):
    table.host("cmp-0", {A: healthy() + [1.0] * 5})
    for index in range(1, 4):
        table.host(f"cmp-{index}", {A: healthy()})
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    assert report.counts()[model.FAILED] == 1
    assert not report.clusters[0].storage_outage


def test_cluster_of_one_host_fails_normally(table, clock):
    table.host("lonely", {A: healthy() + [1.0] * 5}, cluster="solo")
    table.host("cmp-1", {A: healthy()}, cluster="rack-1")
    table.host("cmp-2", {A: healthy()}, cluster="rack-1")
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    solo = next(c for c in report.clusters if c.cluster == "solo")
    assert not solo.storage_outage
    assert solo.verdicts[model.FAILED] == 1


def test_outages_are_per_cluster(table, clock):
    for index in range(3):
        table.host(f"a-{index}", {A: [1.0] * 5}, cluster="rack-a")
        table.host(f"b-{index}", {A: healthy()}, cluster="rack-b")
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    outages = {c.cluster: c.storage_outage for c in report.clusters}
    assert outages == {"rack-a": True, "rack-b": False}


def test_hosts_sorted_by_cluster_then_host_each_judged(any_table, clock):
    # Host names in the opposite order to their clusters, healthy and
    # cut hosts alternating: hosts in one state share their counts.
    layout = [
        ("z-1", "rack-a", healthy()),
        ("y-1", "rack-b", [1.0] * 5),
        ("x-1", "rack-a", [1.0] * 5),
        ("w-1", "rack-b", healthy()),
        ("v-1", "rack-a", healthy()),
        ("u-1", "rack-c", healthy()),
    ]
    for host, cluster, losses in layout:
        any_table.host(host, {A: losses, B: losses}, cluster=cluster)
    report = judge.judge(any_table.engine, DEFAULTS, now=clock.now())
    assert [(v.cluster, v.host, v.verdict) for v in report.hosts] == [
        ("rack-a", "v-1", model.OK),
        ("rack-a", "x-1", model.FAILED),
        ("rack-a", "z-1", model.OK),
        ("rack-b", "w-1", model.OK),
        ("rack-b", "y-1", model.FAILED),
        ("rack-c", "u-1", model.OK),
    ]
    assert [(c.cluster, c.hosts) for c in report.clusters] == [
        ("rack-a", 3),
        ("rack-b", 2),
        ("rack-c", 1),
    ]


@pytest.mark.parametrize("explained", ["cmp-1", "cmp-2", "cmp-3"])
def test_explain_reads_evidence_of_the_named_host_only(
    table, clock, explained
):
    # Three hosts in one state: what one of them needs is not the others'.
    for host in ("cmp-1", "cmp-2", "cmp-3"):
        table.host(host, {A: healthy(), B: healthy()})
    report = judge.judge(
        table.engine, DEFAULTS, now=clock.now(), explain=[explained]
    )
    evidence = {v.host: {e.address for e in v.evidence} for v in report.hosts}
    expected = {"cmp-1": set(), "cmp-2": set(), "cmp-3": set()}
    assert evidence == dict(expected, **{explained: {A, B}})
    assert {v.verdict for v in report.hosts} == {model.OK}


def test_all_stale_cannot_judge(table, clock):
    table.host("cmp-1", {A: healthy()}, heartbeat_age=60)
    table.host("cmp-2", {A: healthy()}, heartbeat_age=300)
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    assert not report.can_judge
    assert report.reason == model.ALL_STALE


def test_stale_cliff_cannot_judge(table, clock):
    for index in range(3):
        table.host(f"gone-{index}", {A: healthy()}, heartbeat_age=8 + index)
    for index in range(2):
        table.host(f"up-{index}", {A: healthy()})
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    assert (report.can_judge, report.reason) == (False, model.STALE_CLIFF)


def test_a_stale_cliff_holds_only_for_its_hold(table, clock):
    """Half the hosts stopped together longer ago than the hold, and the
    others still report, recorded all along: the observer is not cut
    off, they are stale."""
    hold = DEFAULTS.stale_cliff_hold
    for index in range(3):
        table.host(
            f"gone-{index}", {A: healthy()}, heartbeat_age=hold + 8 + index
        )
    recorded_all_along = [0.0] * (DEFAULTS.stale_cliff_hold_cycles + 20)
    for index in range(2):
        table.host(f"up-{index}", {A: recorded_all_along})
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    assert (report.can_judge, report.reason) == (True, None)
    assert report.counts()[model.STALE] == 3
    # Within the hold, the same hosts are a cliff.
    cycles = DEFAULTS.stale_cliff_hold_cycles + 20
    longer = dataclasses.replace(DEFAULTS, stale_cliff_hold_cycles=cycles)
    report = judge.judge(table.engine, longer, now=clock.now())
    assert (report.can_judge, report.reason) == (False, model.STALE_CLIFF)


def test_stale_hosts_spread_in_time_are_no_cliff(table, clock):
    for index in range(3):
        table.host(
            f"gone-{index}", {A: healthy()}, heartbeat_age=10**index * 8
        )
    for index in range(2):
        table.host(f"up-{index}", {A: healthy()})
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    assert report.can_judge
    assert report.counts()[model.STALE] == 3


def test_no_hosts_cannot_judge(table, clock):
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    assert (report.can_judge, report.reason) == (False, model.NO_HOSTS)


def test_hypervisor_down_only_degrades(any_table, clock):
    table = any_table
    table.host(
        "cmp-1",
        {A: healthy()},
        hypervisor=[1.0] * 5 + [0.0] * 9,
        hypervisor_reason="libvirt: connection refused",
    )
    table.host("cmp-2", {A: healthy()})
    found, _ = verdict_of(table, clock, "cmp-1")
    assert (found.verdict, found.reason) == (
        model.DEGRADED,
        model.HYPERVISOR_DOWN,
    )
    assert "connection refused" in found.detail


def test_no_hypervisor_rows_is_ok(table, clock):
    table.host("cmp-1", {A: healthy()}, hypervisor=None)
    table.host("cmp-2", {A: healthy()}, hypervisor=[1.0])
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    assert [v.verdict for v in report.hosts] == [model.OK, model.OK]


def test_json_shape(table, clock):
    table.host("cmp-1", {A: [1.0] * 4})
    table.host("cmp-2", {A: healthy()})
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    data = report.to_dict()
    assert set(data) == {
        "schema_version",
        "generated_at",
        "can_judge",
        "reason",
        "detail",
        "counts",
        "clusters",
        "hosts",
        "settings",
    }
    host = data["hosts"][0]
    assert host["verdict"] == "failed" and host["host"] == "cmp-1"
    assert host["evidence"][0]["address"] == A
    assert host["since"].endswith("Z")
    assert data["settings"]["fail_cycles"] == 3
    assert json.loads(json.dumps(data)) == data


def test_filter_keeps_guards(table, clock):
    table.host("cmp-1", {A: [1.0] * 4}, cluster="x")
    table.host("cmp-2", {A: healthy()}, cluster="y")
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    only = judge.filter_report(report, cluster="y")
    assert [v.host for v in only.hosts] == ["cmp-2"]
    assert [c.cluster for c in only.clusters] == ["y"]
    assert judge.filter_report(report, host="cmp-1").clusters[0].cluster == "x"


def test_storage_samples_that_stopped_degrade(table, clock):
    table.host("cmp-1", {A: healthy()}, heartbeat_age=30)
    table.host("cmp-2", {A: healthy()})
    table.host("cmp-3", {A: healthy()})
    with table.engine.begin() as conn:
        conn.execute(
            models.latest.update()
            .where(models.latest.c.meter == "ha.heartbeat")
            .values(recorded_at=clock.now())
        )
    found, _ = verdict_of(table, clock, "cmp-1")
    assert (found.verdict, found.reason) == (
        model.DEGRADED,
        model.STORAGE_SILENT,
    )
    assert verdict_of(table, clock, "cmp-2")[0].verdict == model.OK


def test_a_host_is_in_the_cluster_of_its_heartbeat(any_table, clock):
    """Moved from rack-9 to rack-1, with a row of an address it no
    longer pings still in rack-9: judged in rack-1, and part of its
    storage outage there."""
    table = any_table
    table.host("cmp-1", {B: healthy()}, cluster="rack-9")
    # B's rows are no longer updated, for longer than an address that
    # stopped reporting counts as possibly reachable.
    clock.advance(DEFAULTS.forget_address_after + 30)
    table.host("cmp-1", {A: healthy() + [1.0] * 5}, cluster="rack-1")
    table.host("cmp-2", {A: healthy() + [1.0] * 5}, cluster="rack-1")
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    assert {v.host: v.cluster for v in report.hosts} == {
        "cmp-1": "rack-1",
        "cmp-2": "rack-1",
    }
    (cluster,) = report.clusters
    assert cluster.storage_outage
    assert report.counts()[model.FAILED] == 0


def _short_concat(conn):
    """What the server returns past max_allowed_packet, in small: a
    GROUP_CONCAT text cut at 200 bytes (with its warning)."""
    conn.exec_driver_sql("SET SESSION group_concat_max_len = 200")


@pytest.mark.mysql
def test_texts_the_server_cuts_are_read_as_rows(
    mysql_database, clock, monkeypatch
):
    """MariaDB cuts a GROUP_CONCAT text longer than max_allowed_packet,
    whatever group_concat_max_len says: the rows and the history of
    the hosts read in detail are then read as plain rows, and the
    summary of every host, which must not lose any, is an error."""
    table = health_fixtures.SampleTable(mysql_database, clock)
    history = healthy(5) + [1.0] * 4 + [0.0]  # undecided: history read
    for index in range(6):
        table.host(
            f"cmp-{index}", {A: history, B: history}, cluster=f"s{index}"
        )
    for index in range(6):
        table.host(f"ok-{index}", {A: healthy()}, cluster="r2")
    whole = judge.judge(table.engine, DEFAULTS, now=clock.now())
    assert whole.counts()[model.FAILED] == 6

    hosts = [f"cmp-{index}" for index in range(6)]
    not_before = clock.now() - datetime.timedelta(seconds=60)
    with table.engine.connect() as conn:
        full_rows = latest_rows.read_latest_rows(conn, hosts)
        full_history = history_mod.read_loss_history(conn, hosts, not_before)
    monkeypatch.setattr(fetch, "allow_long_concat", _short_concat)
    with table.engine.connect() as conn:
        assert sorted(latest_rows.read_latest_rows(conn, hosts)) == sorted(
            full_rows
        )
        assert (
            history_mod.read_loss_history(conn, hosts, not_before)
            == full_history
        )
        assert len(full_history) == 6
        with pytest.raises(reader.SummaryTooLongError):
            reader.read_summaries(conn, DEFAULTS, clock.now())
    table.engine.dispose()


@pytest.mark.parametrize("skew", [-90.0, 90.0])
def test_an_outage_is_found_across_disagreeing_host_clocks(
    any_table, clock, skew
):
    """Both hosts lost storage at the same moment; one's clock is 90 s
    off (beyond outage_window_cycles): still one outage, no failure."""
    table = any_table
    cut = healthy(5) + [1.0] * 5
    table.host("cmp-0", {A: cut})
    table.host("cmp-1", {A: cut}, clock_skew=skew)
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    assert report.clusters[0].storage_outage
    assert report.counts()[model.FAILED] == 0


@pytest.mark.parametrize(
    "history, verdict, reason",
    [
        # Failed, then one good cycle: still failed while it recovers.
        (
            healthy(5) + [1.0] * 10 + [0.0],
            model.FAILED,
            model.STORAGE_RECOVERING,
        ),
        # Failed, one good cycle, failing again: failed, not degraded.
        (
            healthy(5) + [1.0] * 5 + [0.0] + [1.0],
            model.FAILED,
            model.STORAGE_LOST,
        ),
    ],
)
def test_history_is_read_on_the_hosts_own_clock(
    any_table, clock, history, verdict, reason
):
    """The hysteresis of a host whose clock is 60 s behind: its samples'
    timestamps lie before the reader's window, yet are its last ones."""
    table = any_table
    table.host("cmp-1", {A: history}, clock_skew=-60.0, cluster="solo")
    table.host("cmp-2", {A: healthy()})
    found, _ = verdict_of(table, clock, "cmp-1")
    assert (found.verdict, found.reason) == (verdict, reason)


def test_the_reads_of_one_report_see_one_snapshot(any_table, clock):
    """A row written between the summary and the details is not seen:
    both reads describe the same moment."""
    table = any_table
    table.host("cmp-1", {A: healthy() + [1.0] * 5}, cluster="solo")
    with table.engine.connect() as conn:
        fetch.begin_snapshot(conn)
        [summary] = reader.read_summaries(conn, DEFAULTS, clock.now())
        table.host("cmp-1", {A: healthy(), B: healthy()}, cluster="solo")
        rows = latest_rows.read_latest_rows(conn, [summary.host])
    addresses = {r.resource_id for r in rows if r.meter != "ha.heartbeat"}
    assert addresses == {f"cmp-1-{A}"}
    assert {r.volume for r in rows if r.meter == "ha.storage.loss"} == {1.0}


def test_a_host_whose_clock_is_stepped_back_stays_fresh(any_table, clock):
    """Heartbeats written by the collector's own store, the host's clock
    stepped back 60 s half way: the collector records them on, and the
    host is not stale (it would be for 60 s if only a newer timestamp
    counted)."""
    table = any_table
    table.host("cmp-2", {A: healthy()})
    store = store_mod.SampleStore(table.engine)
    start = clock.now()
    for cycle in range(10):
        host_time = start + datetime.timedelta(
            seconds=cycle - (60 if cycle >= 5 else 0)
        )
        recorded = start + datetime.timedelta(seconds=cycle)
        store.write_batch(
            [
                records.record(
                    f"hb-{cycle}",
                    host="cmp-1",
                    meter="ha.heartbeat",
                    resource_id="cmp-1",
                    timestamp=host_time,
                    recorded_at=recorded,
                )
            ]
        )
    clock.advance(9.5)
    table.host("cmp-2", {A: healthy()})
    report = judge.judge(
        table.engine, DEFAULTS, now=clock.now(), explain=["cmp-1"]
    )
    found = next(v for v in report.hosts if v.host == "cmp-1")
    assert found.verdict != model.STALE, found
    assert found.last_heartbeat == start + datetime.timedelta(seconds=9)


def _cycles_through_the_store(table, host, losses, skews, late=None):
    """``host``'s polling cycles written by the collector's own store,
    one second apart by the collector's clock (the last at the fake
    clock's now), each cycle's samples stamped with the host's clock
    ``skew`` seconds ahead, and recorded ``late`` seconds later (by a
    collector whose clock is ahead)."""
    store = store_mod.SampleStore(table.engine)
    start = table.clock.now() - datetime.timedelta(seconds=len(losses) - 1)
    rid = f"{host}-{A}"
    late = late or [0.0] * len(losses)
    for cycle, (loss, skew) in enumerate(zip(losses, skews, strict=True)):
        stamp = start + datetime.timedelta(seconds=cycle + skew)
        recorded = start + datetime.timedelta(seconds=cycle + late[cycle])
        fields = dict(host=host, timestamp=stamp, recorded_at=recorded)
        store.write_batch(
            [
                records.record(
                    f"{host}-{cycle}-hb",
                    meter="ha.heartbeat",
                    resource_id=host,
                    **fields,
                ),
                records.record(
                    f"{host}-{cycle}-loss",
                    meter="ha.storage.loss",
                    resource_id=rid,
                    volume=loss,
                    **fields,
                ),
                records.record(
                    f"{host}-{cycle}-reach",
                    meter="ha.storage.reachable",
                    resource_id=rid,
                    volume=1.0 if loss <= 0.5 else 0.0,
                    **fields,
                ),
            ]
        )


@pytest.mark.parametrize(
    "last, verdict, reason",
    [
        (0.75, model.DEGRADED, model.STORAGE_UNREACHABLE),
        (1.0, model.DEGRADED, model.STORAGE_FAILING),
    ],
)
def test_history_before_a_clock_step_back_is_replayed_as_older(
    any_table, clock, last, verdict, reason
):
    """The host's clock ran 60 s ahead while its storage was cut (failed,
    rightly); NTP stepped it back as the storage came back, and it
    recovered for 6 cycles. One bad cycle now is one bad cycle: the
    samples from before the step, stamped later than the newer ones,
    are not replayed as the newest."""
    table = any_table
    for host in ("cmp-2", "cmp-3"):
        table.host(host, {A: healthy()})
    losses = [0.0] * 20 + [1.0] * 5 + [0.0] * 6 + [last]
    skews = [60.0] * 25 + [0.0] * 7
    _cycles_through_the_store(table, "cmp-1", losses, skews)
    found, _ = verdict_of(table, clock, "cmp-1")
    assert (found.verdict, found.reason) == (verdict, reason)


def test_a_cycle_recorded_by_a_collector_a_second_ahead_stays_in_place(
    any_table, clock
):
    """Each sample is stored by whichever collector stored it first: one
    good cycle between cut ones, recorded by a collector whose clock is
    1.5 s ahead, is still between them when the history is replayed, and
    there never were three failing cycles in a row."""
    table = any_table
    for host in ("cmp-2", "cmp-3"):
        table.host(host, {A: healthy()})
    losses = [0.0] * 15 + [0.25, 1.0, 1.0, 0.25, 1.0]
    late = [0.0] * 18 + [1.5, 0.0]
    _cycles_through_the_store(
        table, "cmp-1", losses, [0.0] * len(losses), late
    )
    found, _ = verdict_of(table, clock, "cmp-1")
    assert (found.verdict, found.reason) == (
        model.DEGRADED,
        model.STORAGE_FAILING,
    )


def test_loss_samples_alone_are_judged_by_their_loss(any_table, clock):
    """A pipeline that sends ha.storage.loss but not reachable: healthy
    hosts are ok (not 'unreachable', and no outage), a cut one fails,
    and one recovering counts its good cycles."""
    table = any_table
    for index in range(3):
        table.host(f"ok-{index}", {A: healthy()}, reachability=False)
    table.host("cut", {A: healthy() + [1.0] * 5}, reachability=False)
    table.host(
        "back",
        {A: healthy(5) + [1.0] * 5 + [0.0] * DEFAULTS.recover_cycles},
        reachability=False,
    )
    report = judge.judge(table.engine, DEFAULTS, now=clock.now())
    verdicts = {v.host: (v.verdict, v.reason) for v in report.hosts}
    assert verdicts == {
        "ok-0": (model.OK, None),
        "ok-1": (model.OK, None),
        "ok-2": (model.OK, None),
        "cut": (model.FAILED, model.STORAGE_LOST),
        "back": (model.OK, None),
    }
    assert not report.clusters[0].storage_outage
