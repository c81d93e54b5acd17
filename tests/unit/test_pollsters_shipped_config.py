"""The shipped compute configuration and combined pipeline file.

Config parsing only: the UDP publishers are built (a socket is created)
but nothing is sent.
"""

import pathlib

from ceilometer.pipeline import sample as sample_pipeline
from ceilometer.polling import manager as polling_manager
from oslo_log import log

from ceilometer_ha.pollsters import advice
from ceilometer_ha.pollsters import validate
from tests.unit import fakes

REPO = pathlib.Path(__file__).resolve().parents[2]
CONF = REPO / "etc" / "ceilometer" / "compute" / "ceilometer_ha.conf"
PIPELINE = REPO / "etc" / "ceilometer" / "pipeline_ha.yaml"
METERS = [
    f"ha.{network}.{kind}"
    for network in ("storage", "management", "tenant")
    for kind in ("reachable", "loss", "rtt")
] + ["ha.hypervisor.up", "ha.heartbeat"]


def _shipped_conf(tmp_path):
    text = CONF.read_text().replace(
        "pipeline_cfg_file = pipeline_ha.yaml",
        f"pipeline_cfg_file = {PIPELINE}",
    )
    text = text.replace(
        "cfg_file = pipeline_ha.yaml", f"cfg_file = {PIPELINE}"
    )
    return fakes.ceilometer_conf(tmp_path, text)


def test_shipped_conf_is_valid_and_complete(tmp_path):
    conf = _shipped_conf(tmp_path)
    assert validate.validate_compute_conf(conf) == []
    assert advice.advise_compute_conf(conf) == []
    assert conf.publisher_notifier.telemetry_driver == "ha_pipeline"
    assert conf.reserved_metadata_keys == ["cluster"]
    assert conf.polling.cfg_file == conf.pipeline_cfg_file == str(PIPELINE)
    assert conf.compute.storage_server_address == ["192.0.2.10", "192.0.2.20"]
    assert conf.compute.ping_count == 4
    assert conf.compute.ping_loss_ratio == 0.5
    assert conf.polling.threads_to_process_pollsters == 0
    assert "DEAFULT" not in conf.list_all_sections()


def test_one_pipeline_file_serves_polling_and_publishing(tmp_path):
    conf = _shipped_conf(tmp_path)
    [source] = polling_manager.PollingManager(conf).sources
    assert source.get_interval() == 1
    assert all(source.support_meter(m) for m in METERS)
    assert not source.support_meter("cpu")

    [pipeline] = sample_pipeline.SamplePipelineManager(conf).pipelines
    assert all(pipeline.source.support_meter(m) for m in METERS)
    ports = [(p.host, p.port) for p in pipeline.publishers]
    assert ports == [("192.0.2.2", 4953), ("192.0.2.3", 4953)]


def test_the_polling_managers_lines_are_left_out_of_the_log(tmp_path):
    """The defaults the agent has without the option, all of them
    (oslo.log's, and those ceilometer adds), and ceilometer's polling
    manager (two INFO lines per pollster and cycle) at WARN."""
    shipped = fakes.ceilometer_conf(tmp_path, CONF.read_text(), logging=True)
    assert shipped.default_log_levels == [
        *log.get_default_log_levels(),
        # What ceilometer.service.prepare_service adds (not called here:
        # it sets the defaults of every later configuration).
        "futurist=INFO",
        "openstack=INFO",
        "ceilometer.polling.manager=WARN",
    ]
