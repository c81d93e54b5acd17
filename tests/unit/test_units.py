"""The shipped service definitions of the compute agent.

The systemd unit is verified as :mod:`tests.unit.systemd_units` explains.
"""

import pathlib
import re
import subprocess
import sys

from tests.unit import systemd_units

REPO = pathlib.Path(__file__).resolve().parents[2]
UNIT = REPO / "etc" / "systemd" / "ceilometer-polling-ha.service"
UPSTART = REPO / "etc" / "init" / "ceilometer-polling-ha.conf"
COMPUTE_CONF = REPO / "etc" / "ceilometer" / "compute" / "ceilometer_ha.conf"
CHECK = "ceilometer-ha check-config /etc/ceilometer/ceilometer_ha.conf"
COMMAND = (
    "ceilometer-polling --polling-namespaces compute "
    "--config-file /etc/ceilometer/ceilometer_ha.conf"
)


def _unit_values(text: str, key: str) -> list[str]:
    prefix = f"{key}="
    return [
        line[len(prefix) :]
        for line in text.splitlines()
        if line.startswith(prefix)
    ]


def test_systemd_unit_verifies(tmp_path):
    bin_dir = pathlib.Path(sys.executable).parent
    for name in ("ceilometer-polling", "ceilometer-ha"):
        assert (bin_dir / name).exists(), f"{name} not installed in the venv"
    done = systemd_units.verify(UNIT, tmp_path)
    assert done.returncode == 0, done.stderr
    assert UNIT.name not in done.stderr, done.stderr


def test_systemd_unit_runs_the_stock_agent():
    text = UNIT.read_text()
    assert _unit_values(text, "ExecStart") == [f"/usr/bin/{COMMAND}"]
    assert _unit_values(text, "ExecStartPre") == [f"/usr/bin/{CHECK}"]
    # The file is checked before the SIGHUP: a bad value would stop the
    # agent's new worker, and the agent with it.
    assert _unit_values(text, "ExecReload") == [
        f"/usr/bin/{CHECK}",
        "/bin/kill -HUP $MAINPID",
    ]
    assert _unit_values(text, "User") == ["ceilometer"]
    assert _unit_values(text, "Restart") == ["on-failure"]
    # systemd makes the directory of the shipped file's log_file.
    (logs,) = _unit_values(text, "LogsDirectory")
    log_file = re.search(r"^log_file = (.+)$", COMPUTE_CONF.read_text(), re.M)
    assert log_file
    assert pathlib.PurePath(log_file.group(1)).parent == (
        pathlib.PurePath("/var/log") / logs
    )
    assert _unit_values(text, "AmbientCapabilities") == ["CAP_NET_RAW"]
    assert "net.ipv4.ping_group_range" in text


def test_upstart_job_runs_the_stock_agent():
    text = UPSTART.read_text()
    flat = " ".join(text.replace("\\\n", " ").split())
    assert (
        "--exec /usr/bin/ceilometer-polling -- " + COMMAND.split(" ", 1)[1]
        in flat
    )
    assert "--chuid ceilometer" in flat
    assert f"/usr/bin/{CHECK}" in flat


def test_the_unit_config_check_passes_on_the_shipped_config(tmp_path):
    """ExecStartPre= must accept the shipped compute configuration."""
    binary = pathlib.Path(sys.executable).parent / "ceilometer-ha"
    # As installed: both files in one directory (/etc/ceilometer).
    etc = REPO / "etc" / "ceilometer"
    config = tmp_path / "ceilometer_ha.conf"
    config.write_text((etc / "compute" / "ceilometer_ha.conf").read_text())
    (tmp_path / "pipeline_ha.yaml").write_text(
        (etc / "pipeline_ha.yaml").read_text()
    )
    done = subprocess.run(
        [str(binary), "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
