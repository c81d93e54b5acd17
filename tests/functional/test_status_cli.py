"""``ceilometer-ha status`` as a subprocess on a database filled by the
real collector, from samples sent by ceilometer's own UDPPublisher.

Three hosts of one cluster report healthy cycles; then one loses every
storage packet for three cycles (``failed``, exit 1); then, read with a
short polling interval, every host has gone quiet (cannot judge, exit 3).
"""

import datetime
import json
import subprocess

from ceilometer import sample as ceilometer_sample
import pytest
import sqlalchemy as sa

from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import migration
from tests.functional import collector as collector_helper

HOSTS = ("cmp-1", "cmp-2", "cmp-3")
STORAGE = ("198.51.100.2", "198.51.100.3")
CLUSTER = "rack-a"


def _sample(host, name, volume, resource_id, when, **metadata):
    return ceilometer_sample.Sample(
        name=name,
        type=ceilometer_sample.TYPE_GAUGE,
        unit="ratio" if name.endswith("loss") else "",
        volume=volume,
        user_id=None,
        project_id=None,
        resource_id=resource_id,
        timestamp=when.isoformat(),
        resource_metadata=dict(metadata, host=host, cluster=CLUSTER),
        source="openstack",
    )


def cycle(host, when, loss):
    """The samples of one polling cycle of ``host``, as the agent sends."""
    samples = [_sample(host, "ha.heartbeat", 1, host, when)]
    for address in STORAGE:
        rid = f"{host}-{address}"
        meta = {"address": address, "network": "storage"}
        samples += [
            _sample(host, "ha.storage.loss", loss, rid, when, **meta),
            _sample(
                host,
                "ha.storage.reachable",
                int(loss <= 0.5),
                rid,
                when,
                **meta,
            ),
        ]
    return samples


def status(database_url, *args):
    done = subprocess.run(
        [
            str(collector_helper.BIN / "ceilometer-ha"),
            "status",
            "--database-url",
            database_url,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def test_status_on_collected_samples(database_url, tmp_path):
    start = datetime.datetime.now(datetime.timezone.utc)
    with collector_helper.CollectorProcess(database_url, tmp_path) as coll:
        publisher = collector_helper.ceilometer_publisher(
            coll.address, coll.port
        )
        sent = 0

        def send_cycle(index, cut_host=None):
            nonlocal sent
            when = start - datetime.timedelta(seconds=10 - index)
            batch = []
            for host in HOSTS:
                batch += cycle(host, when, 1.0 if host == cut_host else 0.0)
            publisher.publish_samples(batch)
            sent += len(batch)
            coll.wait_for_rows(sent)

        for index in range(5):
            send_cycle(index)
        code, out, err = status(database_url)
        assert code == 0, err
        assert "3 hosts: 3 ok, 0 degraded, 0 failed, 0 stale" in out

        send_cycle(5, cut_host="cmp-2")
        code, out, _ = status(database_url, "--format", "json")
        report = json.loads(out)
        cmp2 = next(h for h in report["hosts"] if h["host"] == "cmp-2")
        assert code == 0
        assert (cmp2["verdict"], cmp2["reason"]) == (
            "degraded",
            "storage_failing",
        )

        send_cycle(6, cut_host="cmp-2")
        send_cycle(7, cut_host="cmp-2")
        code, out, _ = status(database_url, "--format", "json")
        report = json.loads(out)
        assert code == 1
        assert report["can_judge"] is True
        assert report["counts"] == {
            "ok": 2,
            "degraded": 0,
            "failed": 1,
            "stale": 0,
        }
        cmp2 = next(h for h in report["hosts"] if h["host"] == "cmp-2")
        assert (cmp2["verdict"], cmp2["reason"]) == ("failed", "storage_lost")
        assert {e["address"] for e in cmp2["evidence"]} == set(STORAGE)
        assert all(e["value"] == 1.0 for e in cmp2["evidence"])

        code, out, _ = status(database_url, "--host", "cmp-2")
        assert code == 1
        assert "storage 198.51.100.3: loss 100%, unreachable, 3 cycles" in out

    # The collector is gone; with a 0.1 s interval every heartbeat is old.
    quick = tmp_path / "quick.conf"
    quick.write_text("[health]\npolling_interval = 0.1\nstale_cycles = 2\n")
    code, out, _ = status(database_url, "--config-file", str(quick))
    assert code == 3
    assert "CANNOT JUDGE (all_stale)" in out


@pytest.mark.mysql
def test_a_timed_out_query_is_reported_not_the_rollback(mysql_database):
    # A query that times out closes its connection; the ROLLBACK after
    # it fails too, with PyMySQL's "(0, '')": the timeout is the news.
    engine = engine_mod.create_engine(mysql_database)
    migration.upgrade(engine)
    quick = (
        sa.engine.make_url(mysql_database)
        .update_query_dict({"read_timeout": "1"})
        .render_as_string(hide_password=False)
    )
    try:
        with engine.connect() as locker:
            locker.exec_driver_sql(
                "LOCK TABLES ha_sample WRITE, ha_latest WRITE"
            )
            code, out, err = status(quick)
            locker.exec_driver_sql("UNLOCK TABLES")
    finally:
        engine.dispose()
    assert code == 4, out
    assert "(0, '')" not in err
    assert "Lost connection to MySQL server during query" in err
