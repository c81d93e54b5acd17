"""The [health] options and the settings the rules take agree."""

from oslo_config import cfg
import pytest

from ceilometer_ha import opts
from ceilometer_ha.health import settings as health_settings


def test_option_defaults_are_the_settings_defaults():
    defaults = {opt.name: opt.default for opt in opts.HEALTH_OPTS}
    assert defaults == health_settings.HealthSettings().as_dict()


def test_every_option_has_a_sentence_of_help_and_bounds():
    for opt in opts.HEALTH_OPTS:
        assert opt.help.endswith("."), opt.name
        assert opt.type.min is not None and opt.type.max is not None


def test_from_conf_reads_the_file(tmp_path):
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text("[health]\nfail_cycles = 4\npolling_interval = 0.5\n")
    conf = cfg.ConfigOpts()
    opts.register_health_opts(conf)
    conf(["--config-file", str(path)])
    settings = health_settings.from_conf(conf)
    assert (settings.fail_cycles, settings.polling_interval) == (4, 0.5)
    assert settings.stale_after == 2.5


@pytest.mark.parametrize(
    "line, option",
    [
        ("outage_share = 1.5", "outage_share"),
        # A host alone in its cluster would never fail.
        ("outage_min_hosts = 1", "outage_min_hosts"),
        # Every address, at no loss at all, would be cut.
        ("failing_loss = 0", "failing_loss"),
    ],
)
def test_out_of_range_value_names_the_option(tmp_path, line, option):
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text(f"[health]\n{line}\n")
    conf = cfg.ConfigOpts()
    opts.register_health_opts(conf)
    conf(["--config-file", str(path)])
    with pytest.raises(cfg.ConfigFileValueError, match=option):
        health_settings.from_conf(conf)
