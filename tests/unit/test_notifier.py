"""The in-process pipeline driver against ceilometer's test publisher."""

import concurrent.futures
import logging

from ceilometer import sample
from ceilometer.publisher import utils as publisher_utils

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
        "samples sent there go nowhere"
    ]
    # The publisher that loaded still publishes.
    assert [s.name for s in _recorded(driver)] == ["ha.heartbeat"] * 2
