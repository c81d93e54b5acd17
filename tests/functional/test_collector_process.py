"""The real ceilometer-collector-ha process, started from the seed file."""

import os
import pathlib
import signal
import socket
import struct
import urllib.request

import pytest
import sqlalchemy as sa

from ceilometer_ha import opts
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import models
from tests.functional import collector as helper
from tests.functional import collector_rows


def _latest(database_url):
    engine = engine_mod.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(models.latest)).mappings().all()
    finally:
        engine.dispose()
    return {(r["host"], r["resource_id"]): dict(r) for r in rows}


def _refused(collector, timeout=30):
    """What a collector that must not start said as it exited."""
    try:
        collector.start(timeout=timeout)
    except RuntimeError as exc:
        return str(exc)
    collector.stop()
    raise AssertionError("the collector started")


def test_ceilometer_udp_publisher_samples_stored_once(database_url, tmp_path):
    with helper.CollectorProcess(database_url, tmp_path) as collector:
        publisher = helper.ceilometer_publisher("127.0.0.1", collector.port)
        samples = [
            helper.make_sample(host=f"compute-{i % 5}", resource_id=f"r{i}")
            for i in range(60)
        ]
        publisher.publish_samples(samples)
        publisher.publish_samples(samples[:10])  # the same message_ids
        collector.wait_for_rows(60)
        assert collector.stop() == 0
    assert collector.count_rows() == 60
    latest = _latest(database_url)
    assert len(latest) == 60
    assert {row["cluster"] for row in latest.values()} == {"rack-a"}
    assert all(row["streak"] == 1 for row in latest.values())
    log = collector.log_text()
    assert "received=70 stored=60 duplicates=10" in log


def test_streak_counts_repeated_volumes(database_url, tmp_path):
    with helper.CollectorProcess(database_url, tmp_path) as collector:
        publisher = helper.ceilometer_publisher("127.0.0.1", collector.port)
        for volume in (1, 0, 0, 0):
            publisher.publish_samples([helper.make_sample(volume=volume)])
        collector.wait_for_rows(4)
        assert collector.stop() == 0
    row = _latest(database_url)[("compute-1", "compute-1-storage")]
    assert (row["volume"], row["streak"]) == (0.0, 3)


def test_refuses_the_placeholder_secret(tmp_path):
    template = helper.SEED_CONFIG.read_text().replace(
        helper.SEED_SECRET, opts.PLACEHOLDER_SECRET
    )
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    collector = helper.CollectorProcess(
        database_url, tmp_path, template=template
    )
    collector.run_dbsync = True
    assert "telemetry_secret" in _refused(collector)
    assert collector.proc.returncode == 2


def test_refuses_a_missing_schema_naming_dbsync(database_url, tmp_path):
    collector = helper.CollectorProcess(
        database_url, tmp_path, run_dbsync=False
    )
    assert "run ceilometer-ha dbsync" in _refused(collector)
    assert collector.proc.returncode == 2


@pytest.mark.parametrize("workers", [1, 2])
def test_a_refusal_is_in_the_log_file_with_any_workers(tmp_path, workers):
    # As the Pacemaker agent runs it: standard error goes nowhere, the
    # log file must say why, once per process that refused.
    log_file = tmp_path / "ceilometer-collector-ha.log"
    options = {
        "DEFAULT": {"log_file": log_file},
        "collector": {"workers": workers},
    }
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    # The file made first (in WAL mode): workers that both make it may
    # meet "database is locked" instead.
    engine = engine_mod.create_engine(database_url)
    engine.connect().close()
    engine.dispose()
    collector = helper.CollectorProcess(
        database_url, tmp_path, options, run_dbsync=False
    )
    output = _refused(collector)
    assert collector.proc.returncode == 2
    assert "Traceback" not in output
    log = log_file.read_text()
    refusals = [
        line
        for line in log.splitlines()
        if " ERROR " in line and "Cannot start: " in line
    ]
    assert len(refusals) == workers, log
    assert all("run ceilometer-ha dbsync" in line for line in refusals), log
    if workers > 1:
        for index in range(workers):
            assert f"Worker worker-{index} (pid " in log
        assert "exited with code 2 before all workers listened" in log


def test_workers_share_the_port(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    options = {"collector": {"workers": 2}}
    with helper.CollectorProcess(database_url, tmp_path, options) as collector:
        publisher = helper.ceilometer_publisher("127.0.0.1", collector.port)
        samples = [helper.make_sample(resource_id=f"r{i}") for i in range(200)]
        publisher.publish_samples(samples)
        collector.wait_for_rows(200)
        assert collector.stop() == 0
    assert collector.count_rows() == 200
    assert collector.log_text().count("Listening on UDP") == 2
    # TTL expiry (the seed's 1800 s) runs in one worker only.
    assert collector.log_text().count("TTL expiry of samples") == 1


def test_sigint_flushes_the_queue_and_exits_zero(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    # Batches that never fill nor time out: only the stop writes them.
    options = {
        "collector": {
            "batch_size": 100000,
            "batch_timeout": 3600,
            "stats_interval": 1,
        }
    }
    with helper.CollectorProcess(database_url, tmp_path, options) as collector:
        publisher = helper.ceilometer_publisher("127.0.0.1", collector.port)
        publisher.publish_samples(
            [helper.make_sample(resource_id=f"r{i}") for i in range(50)]
        )
        helper.wait_until(
            lambda: "received=50 stored=0" in collector.log_text(),
            30,
            "the 50 samples to be queued",
        )
        assert collector.count_rows() == 0
        collector.proc.send_signal(signal.SIGINT)
        collector.proc.wait(30)
        assert collector.stop() == 0  # already exited: its exit code
    assert collector.count_rows() == 50
    assert "received=50 stored=50" in collector.log_text()


def test_dual_stack_address_receives_ipv4(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    options = {"collector": {"udp_address": "::"}}
    with helper.CollectorProcess(database_url, tmp_path, options) as collector:
        publisher = helper.ceilometer_publisher("127.0.0.1", collector.port)
        publisher.publish_samples([helper.make_sample()])
        collector.wait_for_rows(1)
        assert collector.stop() == 0


def _two_free_tcp_ports():
    """A port p with p + 1 also free, both on loopback (bounded tries)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            if port == 65535:
                continue
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise AssertionError("no two consecutive free TCP ports in 50 tries")


def _metrics(port):
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
        return response.read().decode()


def test_each_worker_serves_metrics_on_its_own_port(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    port = _two_free_tcp_ports()
    options = {"collector": {"workers": 2, "metrics_port": port}}
    with helper.CollectorProcess(database_url, tmp_path, options) as collector:
        publisher = helper.ceilometer_publisher("127.0.0.1", collector.port)
        samples = [helper.make_sample(resource_id=f"r{i}") for i in range(40)]
        publisher.publish_samples(samples)
        collector.wait_for_rows(40)
        texts = [_metrics(port), _metrics(port + 1)]
        assert collector.stop() == 0
    received = [
        float(line.split()[-1])
        for text in texts
        for line in text.splitlines()
        if line.startswith("ceilometer_ha_collector_received_total ")
    ]
    # One counter per worker; together they saw every datagram once.
    assert len(received) == 2
    assert sum(received) == 40


def test_a_database_away_at_start_is_waited_for_samples_held(tmp_path):
    # Nothing listens on port 1 of loopback: the connection is refused.
    database_url = "mysql+pymysql://root@127.0.0.1:1/ceilometer_ha"
    options = {"collector": {"stats_interval": 1}}
    collector = helper.CollectorProcess(
        database_url, tmp_path, options, run_dbsync=False
    )
    with collector:
        publisher = helper.ceilometer_publisher("127.0.0.1", collector.port)
        publisher.publish_samples(
            [helper.make_sample(resource_id=f"r{i}") for i in range(20)]
        )
        helper.wait_until(
            lambda: (
                "received=20 stored=0 duplicates=0 queued=20"
                in collector.log_text()
            ),
            30,
            "the 20 samples to be held",
        )
        assert collector.running()
        # Never reachable: the stop says what it could not write.
        assert collector.stop() == 1
    log = collector.log_text()
    assert "does not answer at start" in log
    assert "Stopped with 20 samples not written" in log


def _notifications(listener):
    """(message, sender pid) of every datagram waiting on ``listener``."""
    received = []
    size = socket.CMSG_SPACE(struct.calcsize("3i"))
    while True:
        try:
            message, ancillary, _, _ = listener.recvmsg(512, size)
        except BlockingIOError:
            return received
        pid = None
        for level, kind, data in ancillary:
            if (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS):
                pid = struct.unpack("3i", data[: struct.calcsize("3i")])[0]
        received.append((message, pid))


@pytest.mark.parametrize("workers", [1, 2])
def test_tells_systemd_once_it_listens(tmp_path, monkeypatch, workers):
    """Type=notify, NotifyAccess=main: one READY=1, from the main
    process (the workers' parent), by the time it receives samples."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(tmp_path / "notify.sock"))
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
        database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
        options = {"collector": {"workers": workers}}
        with helper.CollectorProcess(database_url, tmp_path, options) as coll:
            publisher = helper.ceilometer_publisher("127.0.0.1", coll.port)
            publisher.publish_samples([helper.make_sample()])
            coll.wait_for_rows(1)
            listener.setblocking(False)
            assert _notifications(listener) == [(b"READY=1", coll.proc.pid)]
            assert coll.stop() == 0


def _children(pid):
    """Process ids whose parent is ``pid`` (from /proc)."""
    tasks = pathlib.Path(f"/proc/{pid}/task").iterdir()
    return [
        int(c) for t in tasks for c in (t / "children").read_text().split()
    ]


def _two_workers(parent):
    """The process ids of the two workers of ``parent``, once forked."""
    return collector_rows.wait_until(
        lambda: len(_children(parent)) == 2 and _children(parent),
        30,
        "two workers",
    )


def _gone(pid):
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"  # a zombie


def test_workers_flush_and_exit_when_their_parent_is_killed(tmp_path):
    # SIGKILL to the parent (the Pacemaker agent's last resort, the OOM
    # killer): its workers must not go on holding the port unmanaged.
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    # Batches that never fill nor time out: only a stop writes them.
    options = {
        "collector": {
            "workers": 2,
            "batch_size": 100000,
            "batch_timeout": 3600,
        }
    }
    with helper.CollectorProcess(database_url, tmp_path, options) as collector:
        parent = collector.proc.pid
        workers = _two_workers(parent)
        try:
            publisher = helper.ceilometer_publisher(
                "127.0.0.1", collector.port
            )
            publisher.publish_samples(
                [helper.make_sample(resource_id=f"r{i}") for i in range(100)]
            )
            collector.proc.kill()
            collector.proc.wait(10)
            collector_rows.wait_until(
                lambda: all(_gone(pid) for pid in workers),
                60,
                "the workers' exit",
            )
        finally:
            for pid in workers:
                if not _gone(pid):
                    os.kill(pid, signal.SIGKILL)
    assert collector.count_rows() == 100


def test_a_worker_that_exits_zero_alone_stops_the_collector(tmp_path):
    # Worker 0 alone runs the TTL expiry: a SIGTERM sent to it alone
    # ends it cleanly (exit code 0), and the collector must then end
    # too, to be restarted, not run on without expiry.
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    options = {"collector": {"workers": 2}}
    with helper.CollectorProcess(database_url, tmp_path, options) as collector:
        parent = collector.proc.pid
        workers = _two_workers(parent)
        expiring = collector_rows.wait_until(
            lambda: next(
                (
                    line
                    for line in collector.log_text().splitlines()
                    if "TTL expiry of samples" in line
                ),
                None,
            ),
            30,
            "worker 0's TTL expiry line",
        )
        worker0 = int(expiring.split()[2])  # the line's process id
        assert worker0 in workers
        os.kill(worker0, signal.SIGTERM)
        collector.proc.wait(30)
        assert collector.stop() == 1
    assert all(_gone(pid) for pid in workers)
    log = collector.log_text()
    assert (
        f"ERROR ceilometer_ha.collector.workers [-] Worker worker-0 "
        f"(pid {worker0}) exited with code 0 while the collector ran"
    ) in log
