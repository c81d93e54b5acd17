"""Real network faults on the test bed, judged by the real verdicts.

Three compute hosts run the stock ``ceilometer-polling`` with the shipped
configuration (1 s interval), the collector runs on the controller
namespace and writes to MariaDB, and the verdicts are read from the root
namespace. The test bed is built once for the module; every scenario
first clears the faults and waits, bounded, for every host to be ``ok``.

No assertion is about time: how fast a fault is detected is the figure
of ``benchmarks/detection.py``. Waits are bounded, and observations are
sampled once per polling cycle.
"""

import datetime
import os
import threading
import time

import pytest
import sqlalchemy as sa

from ceilometer_ha.storage import models
from tests.functional import netns
from tests.functional import testbed
from tests.functional import testbed_services

pytestmark = [pytest.mark.netns, pytest.mark.mysql]

# Bounds of the waits, generous: a shared CI machine may be slow.
DETECT_TIMEOUT = 45.0
HEAL_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def bed(tmp_path_factory):
    reason = netns.missing_prerequisites()
    if reason:
        pytest.skip(reason)
    if not os.environ.get(testbed_services.MYSQL_URL_ENV):
        pytest.skip(f"{testbed_services.MYSQL_URL_ENV} is not set")
    bed = testbed.TestBed(tmp_path_factory.mktemp("testbed"))
    try:
        bed.database.create()
    except sa.exc.OperationalError as exc:
        pytest.skip(f"MariaDB is not reachable: {exc}")
    finally:
        bed.database.drop()
    bed.start(timeout=HEAL_TIMEOUT)
    try:
        yield bed
    finally:
        bed.stop()


@pytest.fixture
def healthy(bed):
    """No fault, every service up, every host ok; the same afterwards."""
    _heal(bed)
    yield bed
    _heal(bed)


def _heal(bed):
    bed.topology.reset_faults()
    for name, agent in bed.agents.items():
        if agent.wait(0) is not None:
            bed.start_agent(name)
    if not bed.collector.running():
        bed.collector.start()
    bed.wait_all_ok(HEAL_TIMEOUT)


def _watch(bed, cycles, until=None):
    """One report per polling cycle, for ``cycles`` cycles at most.

    Stops early when ``until(report)`` holds; returns every report seen.
    """
    reports = []
    for _ in range(cycles):
        reports.append(bed.report())
        if until and until(reports[-1]):
            break
        time.sleep(bed.interval)
    return reports


def _host(report, name):
    return next(h for h in report["hosts"] if h["host"] == name)


def test_storage_link_cut_fails_that_host_only_and_heals(healthy):
    bed = healthy
    bed.topology.cut_storage_link("compute-1")
    failed = bed.wait_for(
        lambda r: testbed.verdicts(r).get("compute-1") == "failed",
        DETECT_TIMEOUT,
        "compute-1 failed",
    )
    cut = _host(failed, "compute-1")
    assert cut["reason"].startswith("storage"), cut
    assert failed["can_judge"]
    assert testbed.verdicts(failed) == {
        "compute-1": "failed",
        "compute-2": "ok",
        "compute-3": "ok",
    }
    assert not any(c["storage_outage"] for c in failed["clusters"])
    # The operator's command says the same while the cut lasts.
    code, shown = testbed_services.status_cli(bed.database)
    assert code == 1
    assert testbed.verdicts(shown)["compute-1"] == "failed"
    assert _host(shown, "compute-1")["reason"] == cut["reason"]

    bed.topology.reset_faults()
    healed = bed.wait_all_ok(HEAL_TIMEOUT)
    assert _host(healed, "compute-1")["reason"] is None


def test_random_loss_of_30_percent_never_fails_a_host(healthy):
    bed = healthy
    started = _utcnow()
    bed.topology.storage_loss("compute-2", "random", percent=30)
    reports = _watch(bed, cycles=40)
    seen = {
        (r["generated_at"], h["host"], h["verdict"])
        for r in reports
        for h in r["hosts"]
    }
    assert not [s for s in seen if s[2] == "failed"]
    blind = [
        (r["generated_at"], r["reason"], r["detail"], testbed.verdicts(r))
        for r in reports
        if not r["can_judge"]
    ]
    assert not blind
    # The fault was real: nft dropped replies, and the agent saw loss.
    assert bed.topology.dropped_packets("compute-2") > 0
    assert _max_stored_loss(bed, "compute-2", started) > 0


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _max_stored_loss(bed, host, since):
    t = models.sample
    query = sa.select(sa.func.max(t.c.volume)).where(
        t.c.host == host,
        t.c.meter == "ha.storage.loss",
        t.c.recorded_at > since,
    )
    with bed.engine.connect() as conn:
        return conn.execute(query).scalar() or 0.0


def test_storage_outage_of_every_host_fails_none(healthy):
    bed = healthy
    bed.topology.storage_outage()

    def outage(report):
        return any(c["storage_outage"] for c in report["clusters"])

    reports = _watch(bed, cycles=int(DETECT_TIMEOUT), until=outage)
    assert outage(reports[-1]), testbed.verdicts(reports[-1])
    # A few more cycles in the outage: still nobody failed.
    reports += _watch(bed, cycles=5)
    failed = [
        (r["generated_at"], host)
        for r in reports
        for host, verdict in testbed.verdicts(r).items()
        if verdict == "failed"
    ]
    assert failed == []
    cluster = reports[-1]["clusters"][0]
    assert cluster["storage_outage"]
    assert sorted(cluster["outage_hosts"]) == bed.hosts


def test_killed_agent_goes_stale_and_comes_back(healthy):
    bed = healthy
    bed.kill_agent("compute-3")
    stale = bed.wait_for(
        lambda r: testbed.verdicts(r).get("compute-3") == "stale",
        DETECT_TIMEOUT,
        "compute-3 stale",
    )
    assert stale["can_judge"]
    assert testbed.verdicts(stale) == {
        "compute-1": "ok",
        "compute-2": "ok",
        "compute-3": "stale",
    }
    bed.start_agent("compute-3")
    bed.wait_all_ok(HEAL_TIMEOUT)


def test_collector_restart_changes_no_verdict(healthy):
    bed = healthy
    restarted = threading.Event()
    errors = []

    def restart():
        try:
            bed.restart_collector()
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            restarted.set()

    thread = threading.Thread(target=restart)
    reports = [bed.report()]
    thread.start()
    deadline = time.monotonic() + HEAL_TIMEOUT
    while not restarted.is_set() and time.monotonic() < deadline:
        reports.append(bed.report())
        time.sleep(0.25)
    thread.join(HEAL_TIMEOUT)
    assert errors == []
    assert bed.collector.running()
    back = _utcnow()
    # Samples flow again, and for a stale window nothing changed.
    reports += _watch(bed, cycles=bed.settings.stale_cycles + 2)
    changed = [
        (r["generated_at"], testbed.verdicts(r))
        for r in reports
        if not testbed.all_ok(r, bed.hosts)
    ]
    assert changed == []
    # The restarted collector stored every host's heartbeats again.
    assert _heartbeats_after(bed, back) == set(bed.hosts)


def _heartbeats_after(bed, since):
    t = models.sample
    query = (
        sa.select(t.c.host)
        .where(t.c.meter == "ha.heartbeat", t.c.recorded_at > since)
        .distinct()
    )
    with bed.engine.connect() as conn:
        return set(conn.execute(query).scalars())
