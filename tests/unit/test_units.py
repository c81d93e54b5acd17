"""The shipped service definitions of the compute agent.

The systemd unit is verified as :mod:`tests.unit.systemd_units` explains.
"""

from importlib import metadata
import os
import pathlib
import re
import shlex
import stat
import subprocess
import sys

import pytest

from tests.unit import systemd_units

REPO = pathlib.Path(__file__).resolve().parents[2]
UNIT = REPO / "etc" / "systemd" / "ceilometer-polling-ha.service"
UPSTART = REPO / "etc" / "init" / "ceilometer-polling-ha.conf"
COMPUTE_CONF = REPO / "etc" / "ceilometer" / "compute" / "ceilometer_ha.conf"
CHECK = "ceilometer-ha check-config /etc/ceilometer/ceilometer_ha.conf"
# The namespace after the file, which sets one too: the later wins.
COMMAND = (
    "ceilometer-polling --config-file /etc/ceilometer/ceilometer_ha.conf "
    "--polling-namespaces ha"
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


def test_systemd_unit_gives_up_restarting_a_bad_configuration():
    """Restart=on-failure restarts a check-config failure: the start
    limit (in [Unit]) must trip before the interval is over."""
    text = UNIT.read_text()
    unit_section = text.split("[Service]", 1)[0]
    (interval,) = _unit_values(unit_section, "StartLimitIntervalSec")
    (burst,) = _unit_values(unit_section, "StartLimitBurst")
    (restart_sec,) = _unit_values(text, "RestartSec")
    assert _unit_values(text, "Restart") == ["on-failure"]
    assert int(burst) * int(restart_sec) < int(interval)


def test_systemd_unit_runs_the_stock_agent():
    text = UNIT.read_text()
    assert _unit_values(text, "ExecStart") == [f"/usr/bin/{COMMAND}"]
    (make_log_dir, check) = _unit_values(text, "ExecStartPre")
    assert make_log_dir.startswith("+/bin/sh -c ")
    assert check == f"/usr/bin/{CHECK}"
    # The file is checked before the SIGHUP: a bad value would stop the
    # agent's new worker, and the agent with it.
    assert _unit_values(text, "ExecReload") == [
        f"/usr/bin/{CHECK}",
        "/bin/kill -HUP $MAINPID",
    ]
    assert _unit_values(text, "User") == ["ceilometer"]
    assert _unit_values(text, "Restart") == ["on-failure"]
    # Not LogsDirectory=: see test_only_a_missing_log_directory_is_made.
    assert not _unit_values(text, "LogsDirectory")
    assert _unit_values(text, "AmbientCapabilities") == ["CAP_NET_RAW"]
    assert "net.ipv4.ping_group_range" in text


def test_only_a_missing_log_directory_is_made(tmp_path):
    """The directory of the shipped file's log_file is made, as root,
    for the ceilometer user, where ceilometer's packages did not make
    it; an existing one (Debian's ceilometer:adm 0750) is left as it
    is. Run here on a directory of this test's own, for this user."""
    log_file = re.search(r"^log_file = (.+)$", COMPUTE_CONF.read_text(), re.M)
    assert log_file
    log_dir = str(pathlib.PurePath(log_file.group(1)).parent)
    make_log_dir = _unit_values(UNIT.read_text(), "ExecStartPre")[0]
    assert make_log_dir.startswith("+")  # as root, despite User=
    shell, option, script = shlex.split(make_log_dir[1:])
    assert (shell, option) == ("/bin/sh", "-c")
    owner = "-o ceilometer -g ceilometer -m 0750"
    assert log_dir in script and owner in script, script
    here = tmp_path / "log"
    script = script.replace(log_dir, str(here)).replace(
        owner, f"-o {os.getuid()} -g {os.getgid()} -m 0750"
    )
    subprocess.run([shell, option, script], check=True, timeout=30)
    assert stat.S_IMODE(here.stat().st_mode) == 0o750
    here.chmod(0o710)
    (here / "ceilometer-polling-ha.log").write_text("")
    subprocess.run([shell, option, script], check=True, timeout=30)
    assert stat.S_IMODE(here.stat().st_mode) == 0o710


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


def test_the_ha_namespace_holds_every_pollster_of_ours():
    """--polling-namespaces ha loads the same pollsters as the notes'
    compute, and the discoveries they use (ceilometer's local_node)."""
    groups = {
        name: {
            e.name: e.value
            for e in metadata.entry_points(group=name)
            if e.value.startswith("ceilometer_ha.")
            or name == "ceilometer.discover.ha"
        }
        for name in (
            "ceilometer.poll.compute",
            "ceilometer.poll.ha",
            "ceilometer.discover.compute",
            "ceilometer.discover.ha",
        )
    }
    assert groups["ceilometer.poll.ha"] == groups["ceilometer.poll.compute"]
    assert len(groups["ceilometer.poll.ha"]) == 11
    assert groups["ceilometer.discover.ha"] == {
        **groups["ceilometer.discover.compute"],
        "local_node": "ceilometer.polling.discovery.localnode:"
        "LocalNodeDiscovery",
    }


@pytest.mark.parametrize(
    "job", ["ceilometer-polling-ha.conf", "ceilometer-collector-ha.conf"]
)
def test_upstart_jobs_leave_an_existing_log_directory_alone(job, tmp_path):
    """Made when missing, for the log file; an existing one (Debian's
    ceilometer:adm 0750) keeps its owner and mode."""
    script = (REPO / "etc" / "init" / job).read_text()
    body = script.split("pre-start script\n", 1)[1].split("end script")[0]
    commands = [
        x.strip() for x in body.splitlines() if not x.strip().startswith("#")
    ]
    [line] = [x for x in commands if "/var/log" in x]
    assert not line.startswith(("chown", "mkdir")), line
    here = tmp_path / "log"
    command = line.replace("/var/log/ceilometer", str(here))
    command = command.replace("-o ceilometer -g ceilometer ", "")
    subprocess.run(["sh", "-c", command], check=True)
    assert stat.S_IMODE(here.stat().st_mode) == 0o750
    here.chmod(0o710)
    subprocess.run(["sh", "-c", command], check=True)
    assert stat.S_IMODE(here.stat().st_mode) == 0o710
