"""The OCF resource agent starts, monitors and stops the real collector."""

import pathlib
import socket
import subprocess
import sys

from tests.functional import collector as helper

REPO = pathlib.Path(__file__).resolve().parents[2]
OCF_AGENT = REPO / "etc" / "pacemaker" / "ceilometer-collector-ha"
OCF_SUCCESS, OCF_ERR_GENERIC, OCF_NOT_RUNNING = 0, 1, 7


def _free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _agent(action, env):
    return subprocess.run(
        ["bash", str(OCF_AGENT), action],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_ocf_agent_start_monitor_stop(tmp_path):
    port = _free_udp_port()
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    config = tmp_path / "ceilometer_ha.conf"
    config.write_text(
        helper.render_config(helper.SEED_CONFIG.read_text(), database_url)
        .replace("udp_port = 0", f"udp_port = {port}")
        .replace("udp_address = 0.0.0.0", "udp_address = 127.0.0.1")
    )
    helper.dbsync(config)
    bin_dir = pathlib.Path(sys.executable).parent
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "OCF_ROOT": str(tmp_path),
        "OCF_RESKEY_binary": str(bin_dir / "ceilometer-collector-ha"),
        "OCF_RESKEY_config": str(config),
        "OCF_RESKEY_user": "root",
        "OCF_RESKEY_pid": str(tmp_path / "run" / "collector.pid"),
        "OCF_RESKEY_log_file": str(tmp_path / "log" / "collector.log"),
        "OCF_RESKEY_udp_port": str(port),
    }
    try:
        assert _agent("monitor", env).returncode == OCF_NOT_RUNNING
        started = _agent("start", env)
        assert started.returncode == OCF_SUCCESS, started.stderr
        assert _agent("monitor", env).returncode == OCF_SUCCESS
        wrong_port = dict(env, OCF_RESKEY_udp_port=str(_free_udp_port()))
        assert _agent("monitor", wrong_port).returncode == OCF_ERR_GENERIC
        publisher = helper.ceilometer_publisher("127.0.0.1", port)
        publisher.publish_samples([helper.make_sample()])
        helper.wait_until(
            lambda: helper.count_rows(database_url) == 1,
            30,
            "the sample",
        )
    finally:
        stopped = _agent("stop", env)
    assert stopped.returncode == OCF_SUCCESS, stopped.stderr
    assert _agent("monitor", env).returncode == OCF_NOT_RUNNING
    log = (tmp_path / "log" / "collector.log").read_text()
    assert "received=1 stored=1" in log
