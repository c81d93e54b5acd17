"""The shipped service definitions of the compute agent.

``systemd-analyze verify`` checks a unit's syntax and that every
``ExecStart*=`` binary exists and is executable. The unit names the
packaged paths (``/usr/bin/ceilometer-polling``, ``/usr/bin/ceilometer-ha``)
that do not exist on a test machine, so the test verifies a temporary
copy whose ``/usr/bin/`` is rewritten to the bin directory of the
running interpreter (the venv holding ceilometer and ceilometer-ha):
the same unit, checked against binaries that really exist.
"""

import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
UNIT = REPO / "etc" / "systemd" / "ceilometer-polling-ha.service"
UPSTART = REPO / "etc" / "init" / "ceilometer-polling-ha.conf"
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
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    bin_dir = pathlib.Path(sys.executable).parent
    for name in ("ceilometer-polling", "ceilometer-ha"):
        assert (bin_dir / name).exists(), f"{name} not installed in the venv"
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/usr/bin/", f"{bin_dir}/"))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert UNIT.name not in done.stderr, done.stderr


def test_systemd_unit_runs_the_stock_agent():
    text = UNIT.read_text()
    assert _unit_values(text, "ExecStart") == [f"/usr/bin/{COMMAND}"]
    assert _unit_values(text, "ExecStartPre") == [f"/usr/bin/{CHECK}"]
    assert _unit_values(text, "User") == ["ceilometer"]
    assert _unit_values(text, "Restart") == ["on-failure"]
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
    config = REPO / "etc" / "ceilometer" / "compute" / "ceilometer_ha.conf"
    done = subprocess.run(
        [str(binary), "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
