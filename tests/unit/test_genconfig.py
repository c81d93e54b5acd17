"""The options reach oslo-config-generator through their entry points."""

import pathlib

from oslo_config import generator

REPO = pathlib.Path(__file__).resolve().parents[2]
GENERATOR_CONF = REPO / "etc" / "oslo-config-generator" / "ceilometer-ha.conf"


def test_sample_config_documents_every_group(tmp_path):
    output = tmp_path / "ceilometer_ha.conf.sample"
    generator.main(
        ["--config-file", str(GENERATOR_CONF), "--output-file", str(output)]
    )
    text = output.read_text()
    for group in (
        "[compute]",
        "[collector]",
        "[database]",
        "[health]",
        "[publisher]",
    ):
        assert group in text
    for option in (
        "#storage_server_address =",
        "#ping_loss_ratio = 0.5",
        "#udp_port = 4953",
        "#metering_time_to_live = -1",
        "#meter_dispatchers = database",
    ):
        assert option in text
    assert "#fail_cycles = 3" in text
