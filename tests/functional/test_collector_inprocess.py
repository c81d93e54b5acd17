"""The collector service in-process: real UDP, real databases, counters."""

import datetime
import random
import socket
import urllib.request

from ceilometer.publisher import utils
import msgpack
import pytest

from ceilometer_ha import rejection
from ceilometer_ha.storage import models
from tests.functional import collector as helper


def _signed(sample, secret=helper.SEED_SECRET):
    return msgpack.dumps(
        utils.meter_message_from_counter(sample, secret), use_bin_type=True
    )


def _wait_received(collector, count):
    helper.wait_until(
        lambda: collector.stats.received >= count, 30, f"{count} datagrams"
    )


def test_bad_datagrams_are_counted_by_reason_and_not_stored(
    database_url, tmp_path
):
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(
        seconds=400
    )
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
        seconds=400
    )
    good = _signed(helper.make_sample(resource_id="good"))
    forged = msgpack.unpackb(good)
    forged["counter_volume"] = 0
    bad = {
        rejection.BAD_SIGNATURE: [
            msgpack.dumps(forged, use_bin_type=True),
            _signed(helper.make_sample(), secret="not the secret"),
        ],
        rejection.UNSIGNED: [_signed(helper.make_sample(), secret="")],
        rejection.STALE: [_signed(helper.make_sample(timestamp=old))],
        rejection.FUTURE: [_signed(helper.make_sample(timestamp=future))],
        rejection.UNDECODABLE: [good[: len(good) // 2], good[:1], b"\xc1"],
        rejection.OVERSIZED: [b"\x00" * 20000],
        rejection.INVALID: [_signed(helper.make_sample(host=""))],
    }
    # Random bytes: whatever msgpack makes of them, never a stored row.
    rng = random.Random(4953)
    junk = [rng.randbytes(n) for n in (1, 2, 7, 64, 300, 1400) * 20]
    datagrams = [d for batch in bad.values() for d in batch]
    with helper.InProcessCollector(database_url, tmp_path) as collector:
        helper.send_to("127.0.0.1", collector.port, *datagrams, good)
        _wait_received(collector, len(datagrams) + 1)
        before_junk = dict(collector.stats.rejected)
        for start in range(0, len(junk), 20):  # stay within SO_RCVBUF
            helper.send_to("127.0.0.1", collector.port, *junk[start:][:20])
            _wait_received(collector, len(datagrams) + 1 + start + 20)
        assert collector.stop() == 0
    expected = {reason: len(batch) for reason, batch in bad.items()}
    assert {k: v for k, v in before_junk.items() if v} == expected
    rejected = sum(collector.stats.rejected.values())
    assert rejected == len(datagrams) + len(junk)
    assert collector.stats.stored_count == 1
    assert collector.count_rows() == 1


def test_replay_after_window_is_rejected(database_url, tmp_path):
    options = {"collector": {"freshness_window": 1}}
    with helper.InProcessCollector(database_url, tmp_path, options) as coll:
        # Stamped once the collector listens: start-up runs dbsync.
        stamp = datetime.datetime.now(datetime.timezone.utc)
        datagram = _signed(helper.make_sample(timestamp=stamp))
        helper.send_to("127.0.0.1", coll.port, datagram)
        coll.wait_for_rows(1)
        # The replay arrives once the sample is older than the window.
        helper.wait_until(
            lambda: (
                datetime.datetime.now(datetime.timezone.utc)
                > stamp + datetime.timedelta(seconds=1.2)
            ),
            5,
            "the window to pass",
        )
        helper.send_to("127.0.0.1", coll.port, datagram)
        _wait_received(coll, 2)
        coll.stop()
    assert coll.stats.rejected[rejection.STALE] == 1
    assert coll.count_rows() == 1


def test_ipv6_loopback(tmp_path):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    options = {"collector": {"udp_address": "::1"}}
    with helper.InProcessCollector(database_url, tmp_path, options) as coll:
        publisher = helper.ceilometer_publisher("::1", coll.port)
        publisher.publish_samples([helper.make_sample()])
        coll.wait_for_rows(1)
        coll.stop()
    assert coll.stats.stored_count == 1


def test_ttl_expiry_runs_periodically(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    options = {
        "collector": {"freshness_window": 1, "expiry_interval": 1},
        "database": {"metering_time_to_live": 3},
    }
    with helper.InProcessCollector(database_url, tmp_path, options) as coll:
        publisher = helper.ceilometer_publisher("127.0.0.1", coll.port)
        publisher.publish_samples([helper.make_sample()])
        coll.wait_for_rows(1)
        helper.wait_until(lambda: coll.count_rows() == 0, 20, "expiry")
        assert coll.count_rows(models.latest) == 0
        coll.stop()


def _free_tcp_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_prometheus_endpoint_serves_the_counters(tmp_path):
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    port = _free_tcp_port()
    options = {"collector": {"metrics_port": port}}
    with helper.InProcessCollector(database_url, tmp_path, options) as coll:
        helper.send_to("127.0.0.1", coll.port, b"\xc1", b"\xc1")
        publisher = helper.ceilometer_publisher("127.0.0.1", coll.port)
        publisher.publish_samples([helper.make_sample()])
        coll.wait_for_rows(1)
        _wait_received(coll, 3)
        # The writer child commits before the parent counts the batch as
        # stored: wait for the counter, not only for the row.
        helper.wait_until(
            lambda: coll.stats.stored_count >= 1, 30, "the stored count"
        )
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            text = response.read().decode()
        coll.stop()
    assert (
        'ceilometer_ha_collector_rejected_total{reason="undecodable"} 2.0'
        in text
    )
    assert "ceilometer_ha_collector_received_total 3.0" in text
    assert "ceilometer_ha_collector_stored_total 1.0" in text
    # Read from the kernel's table for the collector's own socket.
    assert "ceilometer_ha_collector_kernel_dropped_total 0.0" in text
