from oslo_config import cfg
import pytest

from ceilometer_ha import opts


def _conf(tmp_path, text):
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text(text)
    conf = cfg.ConfigOpts()
    opts.register_compute_opts(conf)
    opts.register_collector_opts(conf)
    conf(["--config-file", str(path)])
    return conf


def test_seed_compute_values_parse(tmp_path):
    conf = _conf(
        tmp_path,
        "[compute]\n"
        "storage_server_address = 192.0.2.10, 2001:db8::20\n"
        "ping_count = 4\nping_loss_ratio = 0.5\n",
    )
    assert conf.compute.storage_server_address == [
        "192.0.2.10",
        "2001:db8::20",
    ]
    assert conf.compute.ping_count == 4
    assert conf.compute.ping_loss_ratio == 0.5


@pytest.mark.parametrize(
    "line, option",
    [
        ("ping_loss_ratio = 1.5", "ping_loss_ratio"),
        ("ping_count = 0", "ping_count"),
        ("storage_server_address = 300.1.1.1", "storage_server_address"),
    ],
)
def test_bad_compute_values_name_the_option(tmp_path, line, option):
    conf = _conf(tmp_path, f"[compute]\n{line}\n")
    with pytest.raises(cfg.ConfigFileValueError) as err:
        getattr(conf.compute, option)
    assert option in str(err.value)


def test_seed_deprecated_names_still_work(tmp_path):
    conf = _conf(
        tmp_path,
        "[database]\ntime_to_live = 1800\n"
        "[DEFAULT]\nmetering_secret = s3cret\n",
    )
    assert conf.database.metering_time_to_live == 1800
    assert conf.publisher.telemetry_secret == "s3cret"
