"""The shipped collector service definitions and configuration.

The systemd unit is verified as :mod:`tests.unit.systemd_units` explains.
"""

import contextlib
import errno
import logging
import pathlib
import shutil
import socket
import subprocess
import sys

import pytest

from ceilometer_ha import opts
from ceilometer_ha.cmd import collector as collector_cmd
from ceilometer_ha.collector import config_check
from ceilometer_ha.collector import dispatcher
from ceilometer_ha.collector import refusal
from ceilometer_ha.collector import service
from ceilometer_ha.collector import stats as stats_mod
from tests.unit import systemd_units

REPO = pathlib.Path(__file__).resolve().parents[2]
UNIT = REPO / "etc" / "systemd" / "ceilometer-collector-ha.service"
UPSTART = REPO / "etc" / "init" / "ceilometer-collector-ha.conf"
CONTROLLER_CONF = (
    REPO / "etc" / "ceilometer" / "controller" / "ceilometer_ha.conf"
)
OCF_AGENT = REPO / "etc" / "pacemaker" / "ceilometer-collector-ha"
OCF_SUCCESS, OCF_ERR_INSTALLED, OCF_ERR_CONFIGURED = 0, 5, 6


def test_systemd_unit_verifies(tmp_path):
    done = systemd_units.verify(UNIT, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    text = UNIT.read_text()
    # Ready once listening: tests/functional/test_collector_process.py
    # receives the READY=1 the real collector sends.
    assert "Type=notify" in text
    assert "NotifyAccess=main" in text
    # A reload checks the file, then is the SIGHUP that
    # tests/functional/test_collector_reload.py sends to the collector.
    reloads = [
        line.split("=", 1)[1]
        for line in text.splitlines()
        if line.startswith("ExecReload=")
    ]
    assert reloads == [
        "/usr/bin/ceilometer-ha check-config "
        "/etc/ceilometer/ceilometer_ha.conf",
        "/bin/kill -HUP $MAINPID",
    ]


def test_systemd_unit_does_not_restart_a_refusal():
    """Exit code 2, a setting to fix, would be refused again."""
    text = UNIT.read_text()
    assert "Restart=on-failure" in text.splitlines()
    assert f"RestartPreventExitStatus={refusal.EXIT_REFUSED}" in text


@pytest.mark.parametrize("suffix", ["crm", "pcs"])
def test_cluster_configs_expire_failures(suffix):
    """A node banned after failed starts (the schema missing before
    dbsync) is tried again without an operator."""
    config = OCF_AGENT.with_name(f"{OCF_AGENT.name}.{suffix}").read_text()
    lines = [x.rstrip(" \\").strip() for x in config.splitlines()]
    assert "meta failure-timeout=300s" in lines, config


def test_a_log_file_that_cannot_be_opened_is_a_refusal(tmp_path):
    """No log to write the reason in: one line on standard error, and
    exit code 2, the code of a setting to fix."""
    log_file = tmp_path / "missing" / "collector.log"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ceilometer_ha.cmd.collector",
            "--config-file",
            str(CONTROLLER_CONF),
            "--log-file",
            str(log_file),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == refusal.EXIT_REFUSED, done.stderr
    assert done.stderr.splitlines() == [
        "ceilometer-collector-ha: cannot set up logging: [Errno 2] No such "
        f"file or directory: '{log_file}'"
    ]


def _default_sqlite_directory() -> pathlib.PurePath:
    """The directory of ``[database] connection``'s default file."""
    default = next(
        o.default for o in opts.DATABASE_OPTS if o.name == "connection"
    )
    path = default.removeprefix("sqlite:///")
    assert path != default, default
    return pathlib.PurePath(path).parent


def test_systemd_unit_makes_the_default_sqlite_directory():
    (state,) = [
        line.split("=", 1)[1]
        for line in UNIT.read_text().splitlines()
        if line.startswith("StateDirectory=")
    ]
    assert _default_sqlite_directory() == pathlib.PurePath("/var/lib", state)


def test_upstart_job_makes_the_default_sqlite_directory():
    """As the systemd unit's StateDirectory=: made, and the ceilometer
    user's, before the collector opens the embedded database."""
    script = UPSTART.read_text().split("pre-start script\n", 1)[1]
    commands = [
        line.split()
        for line in script.split("end script", 1)[0].splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    directory = str(_default_sqlite_directory())
    assert ["mkdir", "-p", directory] in commands, commands
    assert ["chown", "ceilometer:ceilometer", directory] in commands, commands


def test_systemd_unit_fails_verification_with_a_missing_binary(tmp_path):
    done = systemd_units.verify(UNIT, tmp_path, bin_dir="/nonexistent")
    assert done.returncode != 0


def test_upstart_job_is_not_started_at_boot():
    lines = [
        line.strip()
        for line in UPSTART.read_text().splitlines()
        if not line.strip().startswith("#")
    ]
    assert not any(line.startswith("start on") for line in lines)
    assert any("ceilometer-collector-ha" in line for line in lines)


def test_shipped_controller_config_parses():
    conf = collector_cmd.prepare_conf(["--config-file", str(CONTROLLER_CONF)])
    assert conf.collector.udp_port == 4953
    assert conf.database.metering_time_to_live == 1800
    assert conf.meter_dispatchers == ["database"]
    assert conf.database.connection.startswith("mysql://")
    assert conf.collector.freshness_window < 1800


def test_ocf_agent_meta_data():
    meta = subprocess.run(
        ["bash", str(OCF_AGENT), "meta-data"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert '<resource-agent name="ceilometer-collector-ha"' in meta.stdout
    for action in ("start", "stop", "monitor", "validate-all", "meta-data"):
        assert f'<action name="{action}"' in meta.stdout


def _validate(tmp_path, path="/usr/sbin:/usr/bin:/sbin:/bin", **params):
    config = tmp_path / "ceilometer_ha.conf"
    config.touch()
    env = {
        "PATH": path,
        "OCF_ROOT": str(tmp_path),
        "OCF_RESKEY_config": str(config),
        "OCF_RESKEY_binary": sys.executable,
        "OCF_RESKEY_user": "root",
    }
    env.update({f"OCF_RESKEY_{k}": str(v) for k, v in params.items()})
    return subprocess.run(
        ["bash", str(OCF_AGENT), "validate-all"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_ocf_agent_validates(tmp_path):
    assert _validate(tmp_path).returncode == OCF_SUCCESS


@pytest.mark.parametrize(
    "params, message",
    [
        ({"stop_timeout": "30s"}, "stop_timeout=30s is not a whole number"),
        ({"udp_port": "4953/udp"}, "udp_port=4953/udp is not a port"),
        ({"udp_port": "0"}, "udp_port=0 is not a port"),
        ({"udp_port": "65536"}, "udp_port=65536 is not a port"),
        ({"check_udp": "ture"}, "check_udp=ture is neither true nor"),
    ],
)
def test_ocf_agent_rejects_invalid_values(tmp_path, params, message):
    done = _validate(tmp_path, **params)
    assert done.returncode == OCF_ERR_CONFIGURED, done.stderr
    assert message in done.stderr


@pytest.mark.parametrize(
    "params, message",
    [
        ({"config": "/nonexistent/missing.conf"}, "missing.conf"),
        ({"user": "no-such-user-here"}, "no-such-user-here"),
    ],
)
def test_ocf_agent_node_local_problems_are_not_installed(
    tmp_path, params, message
):
    """OCF_ERR_INSTALLED, not OCF_ERR_CONFIGURED, which Pacemaker takes
    as fatal on every node."""
    done = _validate(tmp_path, **params)
    assert done.returncode == OCF_ERR_INSTALLED, done.stderr
    assert message in done.stderr


def test_ocf_agent_without_start_stop_daemon_is_not_installed(tmp_path):
    """The agent starts the collector with dpkg's start-stop-daemon: a
    node without it (a distribution that does not ship it) is told so
    by validate-all, not by a start that fails with an empty log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "id", "cat", "dirname", "sleep", "tr"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    done = _validate(tmp_path, path=str(bin_dir))
    assert done.returncode == OCF_ERR_INSTALLED, done.stderr
    assert "start-stop-daemon is not installed" in done.stderr


@pytest.mark.parametrize(
    "section, refused",
    [
        ("DEAFULT", True),
        ("colector", True),
        ("databse", True),
        ("database_ro", False),
        ("keystone_authtoken", False),
    ],
)
def test_misspelt_collector_groups_are_refused(tmp_path, section, refused):
    text = CONTROLLER_CONF.read_text().replace(
        "telemetry_secret = CHANGE_ME_TO_THE_AGENTS_SECRET",
        "telemetry_secret = s3cret",
    )
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text(text + f"\n[{section}]\nudp_port = 4954\n")
    conf = collector_cmd.prepare_conf(["--config-file", str(path)])
    if refused:
        with pytest.raises(config_check.ConfigError, match=rf"\[{section}\]"):
            config_check.check_config(conf)
    else:
        config_check.check_config(conf)
        assert conf.collector.udp_port == 4953


def _conf_with(tmp_path, text):
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text(CONTROLLER_CONF.read_text() + text)
    return collector_cmd.prepare_conf(["--config-file", str(path)])


REAL_SECRET = "\n[publisher]\ntelemetry_secret = s3cret\n"


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "placeholder"),  # the shipped file's own placeholder
        (
            "\n[publisher]\ntelemetry_secret = change this for valid signing",
            "placeholder",
        ),
        ("\n[publisher]\ntelemetry_secret =\n", "placeholder"),
        (
            REAL_SECRET + "[collector]\nfreshness_window = 900\n",
            "freshness_window",
        ),
        (
            REAL_SECRET + "[collector]\nshutdown_timeout = -5\n",
            r"\[collector\] shutdown_timeout",
        ),
        (
            REAL_SECRET + "[collector]\nworkers = 4\nmetrics_port = 65533\n",
            "metrics_port",
        ),
        (REAL_SECRET + "[default]\nverbose = true\n", r"\[default\]"),
        (
            REAL_SECRET
            + "[database]\nconnection = sqlite:////no/such/dir/ha.sqlite\n",
            r"\[database\] connection: .* /no/such/dir does not exist",
        ),
        (
            REAL_SECRET + "[collector]\nudp_address = 10.0.0.300\n",
            r"\[collector\] udp_address = 10.0.0.300: not an IP address",
        ),
        (
            REAL_SECRET
            + "[collector]\nmetrics_port = 9100\n"
            + "metrics_address = 127.0.0.1:9\n",
            r"\[collector\] metrics_address = 127.0.0.1:9: not an IP",
        ),
        (
            # Beyond a century: no expiry run could compute its cutoff.
            REAL_SECRET + "[database]\nmetering_time_to_live = 4000000000\n",
            r"\[database\] metering_time_to_live",
        ),
    ],
)
def test_unsafe_settings_are_refused(tmp_path, text, message):
    conf = _conf_with(tmp_path, text)
    with pytest.raises(config_check.ConfigError, match=message):
        config_check.check_config(conf)


@pytest.mark.parametrize(
    "text",
    [
        "udp_address = 127.1\n",  # what the socket takes for 127.0.0.1
        "udp_address = fe80::1%lo\n",
        "udp_address = controller-1\n",
        "metrics_address =\n",  # /metrics is off (metrics_port 0)
    ],
)
def test_addresses_the_socket_takes_are_accepted(tmp_path, text):
    conf = _conf_with(tmp_path, REAL_SECRET + "[collector]\n" + text)
    config_check.check_settings(conf)


def test_a_window_under_half_the_ttl_and_top_metrics_ports_are_accepted(
    tmp_path,
):
    conf = _conf_with(
        tmp_path,
        REAL_SECRET + "[collector]\nfreshness_window = 899\nworkers = 3\n"
        "metrics_port = 65533\n",
    )
    config_check.check_config(conf)
    assert conf.database.metering_time_to_live == 1800


def test_the_published_secret_works_with_a_warning(tmp_path, caplog):
    conf = _conf_with(
        tmp_path,
        f"\n[publisher]\ntelemetry_secret = {config_check.PUBLISHED_SECRET}\n",
    )
    config_check.check_config(conf)
    assert "printed in the deployment notes" in caplog.text


def test_allow_unsigned_accepts_an_empty_secret(tmp_path):
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text(
        CONTROLLER_CONF.read_text()
        + "\n[publisher]\ntelemetry_secret =\n"
        + "[collector]\nallow_unsigned = true\n"
    )
    conf = collector_cmd.prepare_conf(["--config-file", str(path)])
    config_check.check_config(conf)
    assert conf.publisher.telemetry_secret == ""


def test_an_unknown_dispatcher_is_named_with_the_known_ones(tmp_path):
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text(
        "[DEFAULT]\nmeter_dispatchers = nosuch\n"
        f"[database]\nconnection = sqlite:///{tmp_path / 'db.sqlite'}\n"
    )
    conf = collector_cmd.prepare_conf(["--config-file", str(path)])
    with pytest.raises(dispatcher.DispatcherError) as err:
        dispatcher.load_dispatchers(conf, stats_mod.Stats())
    assert "unknown dispatcher(s) nosuch (known: database)" in str(err.value)


def test_drop_ins_come_from_the_collector_dir_not_ceilometers(
    tmp_path, monkeypatch
):
    """oslo.config would read ~/.ceilometer/ceilometer.conf.d/ (as it
    would /etc/ceilometer/ceilometer.conf.d/): what its files set and
    --config-file does not would become the collector's."""
    monkeypatch.setenv("HOME", str(tmp_path))
    ceilometers = tmp_path / ".ceilometer" / "ceilometer.conf.d"
    own = tmp_path / ".ceilometer" / "ceilometer-collector-ha.conf.d"
    for directory, text in (
        (ceilometers, "[collector]\nstats_interval = 7\n"),
        (own, "[collector]\nworkers = 3\n"),
    ):
        directory.mkdir(parents=True)
        (directory / "drop-in.conf").write_text(text)
    conf = collector_cmd.prepare_conf(["--config-file", str(CONTROLLER_CONF)])
    assert conf.collector.stats_interval == 60  # the default
    assert conf.collector.workers == 3


def test_a_port_it_cannot_listen_on_is_said_with_the_settings():
    with contextlib.closing(
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ) as held:
        held.bind(("127.0.0.1", 0))  # no SO_REUSEPORT: the port is taken
        port = held.getsockname()[1]
        with pytest.raises(OSError) as err:
            service.bind_socket("127.0.0.1", port, 65536)
    assert err.value.errno == errno.EADDRINUSE
    assert str(err.value) == (
        f"[Errno {errno.EADDRINUSE}] cannot listen on [collector] udp_address "
        f"127.0.0.1, udp_port {port}: Address already in use"
    )


def test_a_misspelt_group_in_a_drop_in_file_is_refused(tmp_path):
    """oslo.config reads the drop-in directory's files after the
    --config-file ones, and ignores their unknown groups as silently."""
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text(CONTROLLER_CONF.read_text() + REAL_SECRET)
    drop_ins = tmp_path / "ceilometer-collector-ha.conf.d"
    drop_ins.mkdir()
    (drop_ins / "10-stats.conf").write_text("[colector]\nstats_interval = 1\n")
    conf = collector_cmd.prepare_conf(
        ["--config-file", str(path), "--config-dir", str(drop_ins)]
    )
    with pytest.raises(
        config_check.ConfigError,
        match=r"10-stats.conf: unknown group \[colector\], did you mean",
    ):
        config_check.check_config(conf)


def test_an_option_name_close_to_one_of_ours_is_warned(tmp_path, caplog):
    """Not refused: the file may hold other services' options too."""
    conf = _conf_with(
        tmp_path, REAL_SECRET + "[collector]\nudp_adress = 127.0.0.1\n"
    )
    with caplog.at_level(logging.WARNING):
        config_check.check_config(conf)
    assert any(
        "[collector] udp_adress: unknown option; did you mean "
        "udp_address? (ignored)" in r.getMessage()
        for r in caplog.records
    ), caplog.records


def test_a_group_in_another_case_is_read_not_refused(tmp_path):
    """oslo.config lower-cases every group name but DEFAULT."""
    conf = _conf_with(
        tmp_path,
        REAL_SECRET + f"[Database]\nconnection = sqlite:///{tmp_path}/x.db\n",
    )
    config_check.check_config(conf)
    assert conf.database.connection == f"sqlite:///{tmp_path}/x.db"
