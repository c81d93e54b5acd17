"""The in-process pipeline driver against ceilometer's test publisher."""

import concurrent.futures
import logging
import socket

from ceilometer import sample
from ceilometer.publisher import utils as publisher_utils
import yaml

from ceilometer_ha import notifier
from tests.unit import fakes

SECRET = "s3cret"
PIPELINE = """
sources:
    - name: ha_source
      interval: 10
      meters: ["ha.*"]
      sinks: [ha_sink]
sinks:
    - name: ha_sink
      publishers: ["test://"]
"""


def _driver(tmp_path):
    pipeline = tmp_path / "pipeline_ha.yaml"
    pipeline.write_text(PIPELINE)
    conf = fakes.ceilometer_conf(
        tmp_path,
        f"[DEFAULT]\npipeline_cfg_file = {pipeline}\n"
        f"[publisher]\ntelemetry_secret = {SECRET}\n",
    )
    return notifier.PipelineDriver(conf, ["notifications"], None)


def _signed(name, volume):
    s = sample.Sample(
        name=name,
        type=sample.TYPE_GAUGE,
        unit="bool",
        volume=volume,
        user_id=None,
        project_id=None,
        resource_id="compute-1-192.0.2.10",
        timestamp="2026-11-22T03:00:00.000000",
        resource_metadata={"host": "compute-1", "cluster": "cluster-a"},
    )
    return publisher_utils.meter_message_from_counter(s, SECRET)


def _message(*samples):
    return {"event_type": "telemetry.polling", "payload": {"samples": samples}}


def _recorded(driver):
    [pipeline] = driver.pipeline_manager().pipelines
    [publisher] = pipeline.publishers
    return publisher.samples


def test_samples_reach_the_sink_unchanged(tmp_path):
    driver = _driver(tmp_path)
    sent = [_signed("ha.storage.reachable", 1), _signed("ha.heartbeat", 1)]
    driver.notify({}, _message(*sent), "SAMPLE", None)
    got = _recorded(driver)
    assert [s.id for s in got] == [m["message_id"] for m in sent]
    for msg, smp in zip(sent, got, strict=True):
        assert smp.timestamp == msg["timestamp"]
        assert smp.resource_metadata == msg["resource_metadata"]
        # Re-signed by the publisher, the sample verifies as the original.
        again = publisher_utils.meter_message_from_counter(smp, SECRET)
        assert again["message_signature"] == msg["message_signature"]
        assert publisher_utils.verify_signature(again, SECRET)


def test_meters_outside_the_sources_are_filtered(tmp_path):
    driver = _driver(tmp_path)
    driver.notify({}, _message(_signed("cpu", 1)), "SAMPLE", None)
    assert _recorded(driver) == []


def test_none_volume_is_dropped_by_ceilometer_rules(tmp_path):
    driver = _driver(tmp_path)
    driver.notify(
        {}, _message(_signed("ha.storage.rtt", None)), "SAMPLE", None
    )
    assert _recorded(driver) == []


def test_errors_never_reach_the_poller(tmp_path):
    driver = _driver(tmp_path)
    broken = _signed("ha.heartbeat", 1)
    del broken["counter_name"]
    driver.notify({}, _message(broken), "SAMPLE", None)
    driver.notify({}, {"payload": None}, "SAMPLE", None)
    driver.notify({}, _message(_signed("ha.heartbeat", 1)), "SAMPLE", None)
    assert [s.name for s in _recorded(driver)] == ["ha.heartbeat"]


def test_missing_pipeline_file_is_logged_not_raised(tmp_path, caplog):
    conf = fakes.ceilometer_conf(
        tmp_path, f"[DEFAULT]\npipeline_cfg_file = {tmp_path}/absent.yaml\n"
    )
    driver = notifier.PipelineDriver(conf, [], None)
    caplog.set_level(logging.ERROR)
    driver.notify({}, _message(_signed("ha.heartbeat", 1)), "SAMPLE", None)
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "Cannot publish 1 polled samples" in record.getMessage()


def test_pipeline_manager_is_built_once_across_threads(tmp_path):
    driver = _driver(tmp_path)
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        managers = list(
            pool.map(lambda _: driver.pipeline_manager(), range(16))
        )
    assert all(m is managers[0] for m in managers)


def test_a_publisher_that_publishes_nothing_is_an_error(tmp_path, caplog):
    """ceilometer leaves out a publisher it cannot load (it logs that
    once, among its start-up lines) and the sink publishes nothing."""
    pipeline = tmp_path / "pipeline_ha.yaml"
    pipeline.write_text(
        PIPELINE.replace('["test://"]', '["test://", "upd://127.0.0.1"]')
    )
    conf = fakes.ceilometer_conf(
        tmp_path, f"[DEFAULT]\npipeline_cfg_file = {pipeline}\n"
    )
    driver = notifier.PipelineDriver(conf, [], None)
    caplog.set_level(logging.ERROR, logger="ceilometer_ha")
    for _ in range(2):
        driver.notify({}, _message(_signed("ha.heartbeat", 1)), "SAMPLE", None)
    ours = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("ceilometer_ha") and r.levelno == logging.ERROR
    ]
    assert ours == [
        f"[DEFAULT] pipeline_cfg_file {pipeline}: sink ha_sink: publisher "
        "upd://127.0.0.1 cannot be loaded (No 'ceilometer.sample.publisher' "
        "driver found, looking for 'upd'); ceilometer leaves it out: "
        "samples sent there go nowhere",
        "ha.heartbeat samples reach no collector: no sink of [DEFAULT] "
        f"pipeline_cfg_file {pipeline} sends them to a udp:// publisher "
        "that names a host; the controllers never see them",
    ]
    # The publisher that loaded still publishes.
    assert [s.name for s in _recorded(driver)] == ["ha.heartbeat"] * 2


def test_meters_sent_to_no_collector_are_an_error_once(tmp_path, caplog):
    """Heartbeats go to a collector, storage samples only to another
    sink: the storage meter is named once, whatever is published."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as collector:
        collector.bind(("127.0.0.1", 0))
        port = collector.getsockname()[1]
        pipeline = tmp_path / "pipeline_ha.yaml"
        definition = {
            "sources": [
                {"name": "beat", "meters": ["ha.heartbeat"], "sinks": ["ha"]},
                {"name": "disk", "meters": ["ha.storage.*"], "sinks": ["x"]},
            ],
            "sinks": [
                {"name": "ha", "publishers": [f"udp://127.0.0.1:{port}"]},
                {"name": "x", "publishers": ["test://"]},
            ],
        }
        pipeline.write_text(yaml.safe_dump(definition))
        conf = fakes.ceilometer_conf(
            tmp_path,
            f"[DEFAULT]\npipeline_cfg_file = {pipeline}\n"
            f"[publisher]\ntelemetry_secret = {SECRET}\n",
        )
        driver = notifier.PipelineDriver(conf, [], None)
        caplog.set_level(logging.ERROR, logger="ceilometer_ha")
        for _ in range(3):
            driver.notify(
                {},
                _message(
                    _signed("ha.heartbeat", 1), _signed("ha.storage.loss", 0)
                ),
                "SAMPLE",
                None,
            )
        collector.settimeout(5)
        assert collector.recv(65535)  # a heartbeat reached the collector
    ours = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("ceilometer_ha") and r.levelno == logging.ERROR
    ]
    assert ours == [
        "ha.storage.loss samples reach no collector: no sink of [DEFAULT] "
        f"pipeline_cfg_file {pipeline} sends them to a udp:// publisher "
        "that names a host; the controllers never see them"
    ]
