"""Option validation: bad values stop the agent, naming the option."""

import logging
import pathlib
import subprocess
import sys

from ceilometer.polling import plugin_base
import pytest

from ceilometer_ha.pollsters import address
from ceilometer_ha.pollsters import advice as advice_mod
from ceilometer_ha.pollsters import delivery
from ceilometer_ha.pollsters import pipeline_routes
from ceilometer_ha.pollsters import validate
from tests.unit import fakes

SHIPPED_PIPELINE = (
    pathlib.Path(__file__).resolve().parents[2]
    / "etc/ceilometer/pipeline_ha.yaml"
)
# What the agent needs besides, for its samples to reach the collectors.
DELIVERY = (
    "[publisher_notifier]\ntelemetry_driver = ha_pipeline\n"
    f"[polling]\ncfg_file = {SHIPPED_PIPELINE}\n"
    f"[DEFAULT]\npipeline_cfg_file = {SHIPPED_PIPELINE}\n"
)


def _conf(tmp_path, compute_lines, default_section="[DEFAULT]"):
    text = (
        f"{default_section}\nhost = compute-1\n[compute]\n"
        + "\n".join(compute_lines)
        + "\n"
    )
    return fakes.ceilometer_conf(tmp_path, text)


def test_good_configuration_has_no_problem(tmp_path):
    conf = fakes.ceilometer_conf(tmp_path)
    assert validate.validate_compute_conf(conf) == []


@pytest.mark.parametrize(
    "line, option",
    [
        ("ping_loss_ratio = 1.5", "ping_loss_ratio"),
        ("ping_loss_ratio = -0.1", "ping_loss_ratio"),
        ("ping_count = 0", "ping_count"),
        ("storage_server_address = 192.0.2.300", "storage_server_address"),
        ("management_address = not an address!", "management_address"),
        ("cluster_source = ldap", "cluster_source"),
        # An indented line after it continues the value: a line break
        # the collector would refuse every sample for.
        ("cluster = rack-1\n  rack-2", "cluster"),
        ("cluster = " + "r" * 256, "cluster"),
        # Refused by the collector too: a line break beyond ASCII.
        ("cluster = rack-1\u2028rack-2", "cluster"),
    ],
)
def test_bad_value_is_named(tmp_path, line, option):
    conf = _conf(tmp_path, ["storage_server_address = 192.0.2.10", line])
    problems = validate.validate_compute_conf(conf)
    assert len(problems) == 1
    assert problems[0].startswith(f"[compute] {option}:")


@pytest.mark.parametrize(
    "value, said",
    [
        (
            "::ffff:198.51.100.7",
            "IPv4-mapped IPv6 address, never answered "
            "here: write 198.51.100.7",
        ),
        ("0.0.0.0", "the unspecified address"),
        ("::", "the unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("255.255.255.255", "the broadcast address"),
        ("fe80::1", "link-local address"),
    ],
)
def test_an_address_no_storage_server_answers_from_is_refused(
    tmp_path, value, said
):
    """Each would read as a storage lost every cycle (a false failure)
    or as never checked."""
    conf = _conf(tmp_path, [f"storage_server_address = 198.51.100.2, {value}"])
    [problem] = validate.validate_compute_conf(conf)
    assert problem.startswith("[compute] storage_server_address: bad value: ")
    assert said in problem
    assert "LocationInfo" not in problem


def test_host_names_and_plain_addresses_are_taken(tmp_path):
    conf = _conf(
        tmp_path,
        ["storage_server_address = 198.51.100.2, 2001:db8::7, storage-1"],
    )
    assert validate.validate_compute_conf(conf) == []
    assert conf.compute.storage_server_address == [
        "198.51.100.2",
        "2001:db8::7",
        "storage-1",
    ]


def test_no_address_at_all_is_a_problem(tmp_path):
    conf = _conf(tmp_path, ["ping_count = 4"])
    [problem] = validate.validate_compute_conf(conf)
    assert "storage_server_address" in problem


def test_misspelt_default_section_is_named(tmp_path):
    conf = _conf(
        tmp_path,
        ["storage_server_address = 192.0.2.10"],
        default_section="[DEAFULT]",
    )
    [problem] = validate.validate_compute_conf(conf)
    assert problem.startswith("[DEAFULT]:")
    assert "[DEFAULT]" in problem


def test_bad_configuration_stops_loading_with_one_critical(tmp_path, caplog):
    conf = _conf(
        tmp_path,
        ["storage_server_address = 192.0.2.10", "ping_loss_ratio = 2"],
    )
    caplog.set_level(logging.CRITICAL)
    for cls in (address.StorageLossPollster, address.StorageRttPollster):
        with pytest.raises(plugin_base.ExtensionLoadError) as err:
            cls(conf)
        assert "ping_loss_ratio" in str(err.value.msg)
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert len(critical) == 1
    assert "ping_loss_ratio" in critical[0].getMessage()


@pytest.mark.parametrize(
    "log_lines, on_stderr",
    [
        ("log_file = /var/log/ceilometer/x.log\nuse_stderr = false", True),
        ("log_file = /var/log/ceilometer/x.log\nuse_stderr = true", False),
        ("use_stderr = false", False),
    ],
)
def test_the_stop_is_said_on_stderr_when_the_log_is_a_file(
    tmp_path, capsys, log_lines, on_stderr
):
    """The agent then exits 0; the journal or upstart's job log keep
    standard error, so that is where the reason must show too."""
    conf = fakes.ceilometer_conf(
        tmp_path,
        f"[DEFAULT]\nhost = compute-1\n{log_lines}\n"
        "[compute]\nstorage_server_address = 192.0.2.10\n"
        "ping_loss_ratio = 2\n",
        logging=True,
    )
    for _ in range(2):  # the sibling pollsters: said once
        with pytest.raises(validate.InvalidConfigurationError):
            validate.enforce(conf)
    err = capsys.readouterr().err
    said = [x for x in err.splitlines() if "ceilometer-ha cannot run" in x]
    if on_stderr:
        assert len(said) == 1, err
        assert said[0].startswith("CRITICAL ceilometer-ha cannot run")
        assert "[compute] ping_loss_ratio" in said[0]
    else:
        assert said == [], err


# A parent whose command line names ceilometer-polling, as the agent's
# master does; its child asks to stop it.
_MASTER = """
import signal, subprocess, sys
got = []
signal.signal(signal.SIGTERM, lambda *_: got.append("SIGTERM"))
child = subprocess.run(
    [sys.executable, "-c",
     "from ceilometer_ha.pollsters import validate; "
     "print(validate.stop_polling_master())"],
    capture_output=True, text=True, timeout=60,
)
print(child.stdout.strip(), *got)
"""


def test_only_the_polling_master_is_stopped():
    # The parent of the test runner is not ceilometer-polling.
    assert validate.stop_polling_master() is False
    master = subprocess.run(
        [sys.executable, "-c", _MASTER, validate.MASTER_PROCESS_NAME],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert master.stdout.split() == ["True", "SIGTERM"], master.stderr


def test_ceilometer_defaults_are_advised_against(tmp_path):
    conf = fakes.ceilometer_conf(
        tmp_path, fakes.BASE_CONF.replace("polling_namespaces = ha\n", "")
    )
    advice = advice_mod.advise_compute_conf(conf)
    assert len(advice) == 3, advice
    # ceilometer's default namespaces: compute and central.
    assert advice[0].startswith("[DEFAULT] polling_namespaces includes")
    assert advice[1].startswith("[publisher_notifier] telemetry_driver")
    assert "ha_pipeline" in advice[1]
    # ceilometer's default polling.yaml: absent here, or without ha.*
    assert advice[2].startswith("[polling] cfg_file polling.yaml")


@pytest.mark.parametrize(
    "namespaces, advised",
    [(["compute"], True), (["ha"], False), (["ha", "central"], False)],
)
def test_the_compute_namespace_is_advised_against(
    tmp_path, namespaces, advised
):
    """The agent as the deployment notes start it loads ceilometer's
    instance pollsters, whose libvirt connection can hold it; the
    shipped units pass --polling-namespaces ha."""
    conf = fakes.ceilometer_conf(tmp_path, fakes.BASE_CONF + DELIVERY)
    conf.set_override("polling_namespaces", namespaces)
    found = advice_mod.compute_namespace(conf)
    assert (found is not None) == advised, found
    assert advice_mod.advise_compute_conf(conf) == ([found] if found else [])


def test_management_addresses_alone_are_advised(tmp_path):
    conf = fakes.ceilometer_conf(
        tmp_path,
        fakes.BASE_CONF.replace("storage_server_address", "management_address")
        + DELIVERY,
    )
    assert validate.validate_compute_conf(conf) == []
    [advice] = advice_mod.advise_compute_conf(conf)
    assert advice.startswith("[compute] storage_server_address is empty")


def test_polling_file_without_ha_meters_is_advised(tmp_path):
    other = tmp_path / "polling.yaml"
    other.write_text("sources: [{name: s, interval: 60, meters: [cpu]}]\n")
    conf = fakes.ceilometer_conf(
        tmp_path,
        fakes.BASE_CONF
        + "[publisher_notifier]\ntelemetry_driver = ha_pipeline\n"
        + f"[polling]\ncfg_file = {other}\n",
    )
    [advice] = advice_mod.advise_compute_conf(conf)
    assert advice == f"[polling] cfg_file {other} polls no ha.* meter; " + (
        "point it at pipeline_ha.yaml"
    )


def test_unloadable_polling_file_is_advised(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("sources: [{name: s}]\n")
    conf = fakes.ceilometer_conf(
        tmp_path,
        fakes.BASE_CONF
        + "[publisher_notifier]\ntelemetry_driver = ha_pipeline\n"
        + f"[polling]\ncfg_file = {broken}\n",
    )
    [advice] = advice_mod.advise_compute_conf(conf)
    assert advice.startswith(f"[polling] cfg_file {broken}: cannot be loaded")


def test_advice_is_logged_once_and_does_not_stop(tmp_path, caplog):
    conf = fakes.ceilometer_conf(tmp_path)
    caplog.set_level(logging.WARNING)
    for _ in range(3):
        validate.enforce(conf)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "telemetry_driver" in warnings[0].getMessage()


def test_a_ping_run_longer_than_the_interval_is_advised(tmp_path):
    """ping(8)'s one-second spacing: six requests and a second's wait
    take up to 6 s, while the shipped pipeline polls every second."""
    conf = fakes.ceilometer_conf(
        tmp_path,
        fakes.BASE_CONF
        + "ping_count = 6\nping_interval = 1.0\nping_timeout = 1.0\n"
        + DELIVERY,
    )
    assert validate.validate_compute_conf(conf) == []
    [advice] = advice_mod.advise_compute_conf(conf)
    assert advice.startswith("[compute] ping_count, ping_interval")
    assert "up to 6 s, not less than the polling interval of 1 s" in advice


def test_the_shipped_ping_run_fits_the_interval(tmp_path):
    conf = fakes.ceilometer_conf(
        tmp_path,
        fakes.BASE_CONF + DELIVERY,
    )
    assert advice_mod.slow_cycle(conf) is None


def test_a_hypervisor_timeout_near_the_stale_window_is_advised(tmp_path):
    """A hung libvirtd holds the cycle, heartbeat included, for the
    timeout: 6 s and the ping run exceed the controllers' 5 s."""
    conf = fakes.ceilometer_conf(
        tmp_path, fakes.BASE_CONF + "hypervisor_timeout = 6\n" + DELIVERY
    )
    assert validate.validate_compute_conf(conf) == []
    [advice] = advice_mod.advise_compute_conf(conf)
    assert advice.startswith("[compute] hypervisor_timeout = 6: ")
    assert "up to 6.8 s with the ping run" in advice
    assert "keep it under 3.2 s" in advice


@pytest.mark.parametrize(
    "count, addresses, advised",
    [
        (1, "198.51.100.2", True),
        (3, "198.51.100.2", True),
        (4, "198.51.100.2", False),
        (2, "198.51.100.2, 198.51.100.3", False),
    ],
)
def test_few_echo_requests_per_cycle_are_advised(
    tmp_path, count, addresses, advised
):
    conf = _conf(
        tmp_path,
        [f"storage_server_address = {addresses}", f"ping_count = {count}"],
    )
    found = advice_mod.few_echo_requests(conf)
    assert bool(found) == advised
    if advised:
        assert found.startswith(f"[compute] ping_count = {count} with 1 ")


def test_the_shipped_settings_are_not_advised_against(tmp_path):
    conf = fakes.ceilometer_conf(tmp_path, fakes.BASE_CONF + DELIVERY)
    assert advice_mod.advise_compute_conf(conf) == []


@pytest.mark.parametrize(
    "host, mistyped",
    [("10.0.0.300", True), ("1.2.3.4.5", True), ("127.1", False)],
)
def test_digits_and_dots_are_mistyped_when_the_socket_refuses_them(
    host, mistyped
):
    assert pipeline_routes._mistyped_ip(host) is mistyped


def test_a_collector_address_mistyped_is_a_delivery_problem(tmp_path):
    """Digits and dots that are no IPv4 address resolve to nothing: not
    a host name to warn of, an address every sample is lost to. (Read
    from the file, not loaded: ceilometer's publisher would look the
    name up.)"""
    url = "udp://10.0.0.300:4953"
    pipeline = tmp_path / "pipeline_ha.yaml"
    pipeline.write_text(
        SHIPPED_PIPELINE.read_text().replace("udp://192.0.2.2:4953", url, 1)
    )
    conf = fakes.ceilometer_conf(
        tmp_path,
        fakes.BASE_CONF
        + "[publisher_notifier]\ntelemetry_driver = ha_pipeline\n"
        + f"[polling]\ncfg_file = {pipeline}\n"
        + f"[DEFAULT]\npipeline_cfg_file = {pipeline}\n",
    )
    assert delivery.problems(conf) == [
        f"[DEFAULT] pipeline_cfg_file {pipeline}: {url} is no IP address "
        "(digits and dots, but not four numbers up to 255): every sample "
        "sent there is lost"
    ]
    assert advice_mod.collectors_by_name(conf) is None
