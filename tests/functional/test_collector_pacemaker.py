"""The OCF resource agent starts, monitors and stops the real collector."""

import os
import pathlib
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

import pytest

from tests.functional import collector as helper

REPO = pathlib.Path(__file__).resolve().parents[2]
OCF_AGENT = REPO / "etc" / "pacemaker" / "ceilometer-collector-ha"
OCF_SUCCESS, OCF_ERR_GENERIC, OCF_NOT_RUNNING = 0, 1, 7
OCF_ERR_CONFIGURED = 6


def _free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _seed_config(tmp_path, collector_options=""):
    """The seed's controller file on a free port and a fresh SQLite
    database, its schema made: (port, database URL, file)."""
    port = _free_udp_port()
    database_url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    config = tmp_path / "ceilometer_ha.conf"
    config.write_text(
        helper.render_config(helper.SEED_CONFIG.read_text(), database_url)
        .replace("udp_port = 0", f"udp_port = {port}")
        .replace(
            "udp_address = 0.0.0.0",
            f"udp_address = 127.0.0.1\n{collector_options}",
        )
    )
    helper.dbsync(config)
    return port, database_url, config


def _agent(action, env):
    return subprocess.run(
        ["bash", str(OCF_AGENT), action],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def _agent_env(tmp_path, config, port):
    bin_dir = pathlib.Path(sys.executable).parent
    return {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "OCF_ROOT": str(tmp_path),
        "OCF_RESKEY_binary": str(bin_dir / "ceilometer-collector-ha"),
        "OCF_RESKEY_config": str(config),
        "OCF_RESKEY_user": "root",
        "OCF_RESKEY_pid": str(tmp_path / "run" / "collector.pid"),
        "OCF_RESKEY_log_file": str(tmp_path / "log" / "collector.log"),
        "OCF_RESKEY_udp_port": str(port),
    }


def test_ocf_agent_start_monitor_stop(tmp_path):
    port, database_url, config = _seed_config(tmp_path)
    env = _agent_env(tmp_path, config, port)
    try:
        assert _agent("monitor", env).returncode == OCF_NOT_RUNNING
        started = _agent("start", env)
        assert started.returncode == OCF_SUCCESS, started.stderr
        assert _agent("monitor", env).returncode == OCF_SUCCESS
        wrong_port = dict(env, OCF_RESKEY_udp_port=str(_free_udp_port()))
        assert _agent("monitor", wrong_port).returncode == OCF_ERR_GENERIC
        # Pacemaker's spellings of true and false, in any case.
        for check_udp, expected in (
            ("True", OCF_ERR_GENERIC),
            ("Yes", OCF_ERR_GENERIC),
            ("y", OCF_ERR_GENERIC),
            ("ON", OCF_ERR_GENERIC),
            ("False", OCF_SUCCESS),
            ("n", OCF_SUCCESS),
        ):
            checked = dict(wrong_port, OCF_RESKEY_check_udp=check_udp)
            monitored = _agent("monitor", checked)
            assert monitored.returncode == expected, (check_udp, monitored)
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


def test_ocf_agent_port_held_by_another_process(tmp_path):
    """A socket of another process on the port is not the collector
    listening: start fails (the collector cannot bind and exits), and
    monitor of a collector that holds another port says so."""
    port, _, config = _seed_config(tmp_path)
    env = _agent_env(tmp_path, config, port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", port))
        try:
            started = _agent("start", env)
            assert started.returncode == OCF_ERR_GENERIC, started.stderr
            assert _agent("monitor", env).returncode == OCF_NOT_RUNNING
        finally:
            _agent("stop", env)
    log = (tmp_path / "log" / "collector.log").read_text()
    assert "Address already in use" in log
    # The collector runs on a port of its own; the squatter's port is
    # named as the one to hold.
    other_port = _free_udp_port()
    other = tmp_path / "other"
    other.mkdir()
    _, _, other_config = _seed_config(other)
    other_config.write_text(
        other_config.read_text().replace(
            f"udp_port = {_port_of(other_config)}", f"udp_port = {other_port}"
        )
    )
    env = _agent_env(tmp_path, other_config, other_port)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", port))
        try:
            assert _agent("start", env).returncode == OCF_SUCCESS
            held_elsewhere = dict(env, OCF_RESKEY_udp_port=str(port))
            monitored = _agent("monitor", held_elsewhere)
            assert monitored.returncode == OCF_ERR_GENERIC
        finally:
            assert _agent("stop", env).returncode == OCF_SUCCESS


def test_ocf_agent_monitors_workers(tmp_path):
    """With several receiving processes the sockets are the workers':
    start and monitor find them."""
    port, _, config = _seed_config(tmp_path, "workers = 2")
    env = _agent_env(tmp_path, config, port)
    try:
        started = _agent("start", env)
        assert started.returncode == OCF_SUCCESS, started.stderr
        assert _agent("monitor", env).returncode == OCF_SUCCESS
    finally:
        assert _agent("stop", env).returncode == OCF_SUCCESS
    assert _agent("monitor", env).returncode == OCF_NOT_RUNNING


def _udp_holders(port):
    """The pids of the processes with a UDP socket on ``port``."""
    listed = subprocess.run(
        ["ss", "-H", "-ulnp", f"sport = :{port}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    return sorted({int(x) for x in re.findall(r"pid=(\d+),", listed)})


def _running(pid):
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_ocf_agent_stop_ends_every_worker(tmp_path):
    """A worker that does not act on SIGTERM (frozen with SIGSTOP) gets
    SIGKILL once stop_timeout has passed, though its parent exited:
    stop succeeds only when no process of the collector remains, so
    that the next start does not share the port with it."""
    port, _, config = _seed_config(tmp_path, "workers = 2")
    env = dict(_agent_env(tmp_path, config, port), OCF_RESKEY_stop_timeout="3")
    processes = []
    try:
        started = _agent("start", env)
        assert started.returncode == OCF_SUCCESS, started.stderr
        parent = int((tmp_path / "run" / "collector.pid").read_text())
        # start returns once one worker listens.
        helper.wait_until(
            lambda: len(_udp_holders(port)) == 2, 30, "both workers"
        )
        workers = _udp_holders(port)
        assert parent not in workers, workers
        processes = [parent, *workers]
        os.kill(workers[0], signal.SIGSTOP)
        stopped = _agent("stop", env)
        assert stopped.returncode == OCF_SUCCESS, stopped.stderr
        assert "SIGKILL" in stopped.stderr
        assert [pid for pid in processes if _running(pid)] == []
        assert _udp_holders(port) == []
        assert _agent("monitor", env).returncode == OCF_NOT_RUNNING
    finally:
        _agent("stop", env)
        for pid in processes:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


def test_ocf_agent_signals_only_its_collector(tmp_path):
    """A pid file (and session file) naming another process, as the
    collector's user could write them: that process is not signalled,
    and the collector counts as not running."""
    port, _, config = _seed_config(tmp_path)
    env = _agent_env(tmp_path, config, port)
    pid_file = tmp_path / "run" / "collector.pid"
    pid_file.parent.mkdir()
    with subprocess.Popen(["sleep", "300"], start_new_session=True) as other:
        try:
            pid_file.write_text(f"{other.pid}\n")
            pid_file.with_name("collector.pid.session").write_text(
                f"{other.pid}\n"
            )
            monitored = _agent("monitor", env)
            assert monitored.returncode == OCF_NOT_RUNNING
            assert f"names process {other.pid}" in monitored.stderr
            assert _agent("stop", env).returncode == OCF_SUCCESS
            assert other.poll() is None, "the agent signalled another process"
        finally:
            other.kill()


def test_ocf_agent_gives_the_user_only_what_it_makes(tmp_path):
    """The log file and its directory, made by start, are the user's; the
    pid file's directory, which exists (as /run would), keeps its owner.
    The collector cannot start as nobody (the program or the
    configuration under tmp_path is out of its reach): what is said
    about it on standard error, before any logging is set up, reaches
    the log file and the agent's error."""
    port, _, config = _seed_config(tmp_path)
    env = dict(_agent_env(tmp_path, config, port), OCF_RESKEY_user="nobody")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    try:
        started = _agent("start", env)
    finally:
        assert _agent("stop", env).returncode == OCF_SUCCESS
    assert run_dir.stat().st_uid == 0
    nobody = pwd.getpwnam("nobody").pw_uid
    log = tmp_path / "log" / "collector.log"
    assert (tmp_path / "log").stat().st_uid == nobody
    assert log.stat().st_uid == nobody
    assert started.returncode == OCF_ERR_GENERIC, started
    said = log.read_text().strip().splitlines()[-1]
    assert "Permission denied" in said or "Failed to find" in said, said
    assert "collector exited at start" in started.stderr
    assert said in started.stderr


def test_ocf_agent_start_says_why_the_collector_exited(tmp_path):
    """A configuration file that does not parse passes validate-all (it
    is readable) and makes the collector exit before it logs anything:
    start fails with the collector's own words, which the log file keeps
    after what an earlier run wrote there."""
    port, _, config = _seed_config(tmp_path)
    env = _agent_env(tmp_path, config, port)
    log = tmp_path / "log" / "collector.log"
    log.parent.mkdir()
    log.write_text("an earlier run\n")
    config.write_text("[collector\nudp_port = 1\n")
    try:
        started = _agent("start", env)
    finally:
        assert _agent("stop", env).returncode == OCF_SUCCESS
    assert started.returncode == OCF_ERR_GENERIC, started
    said = "Invalid section (must end with ])"
    assert "collector exited at start" in started.stderr
    assert said in started.stderr
    assert "an earlier run" not in started.stderr
    lines = log.read_text().splitlines()
    assert lines[0] == "an earlier run"
    assert said in lines[1]


def _start_until_warned(env):
    """Run start until it says the port is not bound, then kill it (it
    would wait for Pacemaker's start timeout); its standard error."""
    seen: list[str] = []

    def warned():
        return any("has not bound UDP port" in line for line in seen)

    with subprocess.Popen(
        ["bash", str(OCF_AGENT), "start"],
        env=dict(env, PORT_WARNING_AFTER="1"),
        stderr=subprocess.PIPE,
        text=True,
    ) as start:

        def read():
            for line in start.stderr:
                seen.append(line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            helper.wait_until(warned, 30, "the agent's warning")
        finally:
            start.kill()
            reader.join(timeout=30)
    return seen


def test_ocf_agent_start_says_when_the_port_is_not_bound(tmp_path):
    """A udp_port parameter other than the collector's: start waits (until
    Pacemaker's start timeout) and says what to check meanwhile."""
    port, _, config = _seed_config(tmp_path)
    other = _free_udp_port()
    env = _agent_env(tmp_path, config, other)
    try:
        seen = _start_until_warned(env)
    finally:
        assert _agent("stop", env).returncode == OCF_SUCCESS
    (warning,) = [line for line in seen if "has not bound" in line]
    assert f"has not bound UDP port {other}" in warning, seen
    assert f"[collector] udp_port in {config}" in warning
    assert _udp_holders(port) == []


def test_ocf_agent_start_stops_a_collector_monitor_finds_wrong(tmp_path):
    """A running collector that monitor fails (here: not on the port the
    parameter names) is stopped before another is started: stop follows
    the pid file, and would leave the first one running."""
    port, _, config = _seed_config(tmp_path)
    env = _agent_env(tmp_path, config, port)
    wrong = _agent_env(tmp_path, config, _free_udp_port())
    try:
        started = _agent("start", env)
        assert started.returncode == OCF_SUCCESS, started.stderr
        [first] = _udp_holders(port)
        _start_until_warned(wrong)
        assert not _running(first)
    finally:
        assert _agent("stop", env).returncode == OCF_SUCCESS
    assert _udp_holders(port) == []


def test_ocf_agent_monitor_refuses_a_check_udp_that_is_no_boolean(tmp_path):
    port, _, config = _seed_config(tmp_path)
    env = dict(
        _agent_env(tmp_path, config, port), OCF_RESKEY_check_udp="maybe"
    )
    monitored = _agent("monitor", env)
    assert monitored.returncode == OCF_ERR_CONFIGURED
    assert "check_udp=maybe is neither true nor false" in monitored.stderr


def _port_of(config):
    for line in config.read_text().splitlines():
        if line.startswith("udp_port = "):
            return int(line.split("=")[1])
    raise AssertionError(f"no udp_port in {config}")


def test_ocf_tester_passes(tmp_path):
    """Pacemaker's own checker, ``ocf-tester`` (resource-agents), with
    the real ``ocf-shellfuncs``: meta-data valid against ra-api-1.dtd,
    start and stop twice each, monitor in every state, the real
    collector started and stopped."""
    if shutil.which("ocf-tester") is None:
        pytest.skip("ocf-tester (Debian package resource-agents) is missing")
    port, _, config = _seed_config(tmp_path)
    bin_dir = pathlib.Path(sys.executable).parent
    # ocf-tester runs meta-data as user nobody: the agent must be
    # reachable and executable by anyone, which tmp_path is not.
    public = pathlib.Path(tempfile.mkdtemp(prefix="ocf-agent-", dir="/tmp"))
    try:
        public.chmod(0o755)
        agent = public / OCF_AGENT.name
        shutil.copyfile(OCF_AGENT, agent)
        agent.chmod(0o755)
        params = {
            "binary": bin_dir / "ceilometer-collector-ha",
            "config": config,
            "user": "root",
            "pid": tmp_path / "run" / "collector.pid",
            "log_file": tmp_path / "log" / "collector.log",
            "udp_port": port,
        }
        # -v: the agent's own output too.
        argv = ["ocf-tester", "-v", "-n", "collector"]
        for name, value in params.items():
            argv += ["-o", f"{name}={value}"]
        done = subprocess.run(
            [*argv, str(agent)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        shutil.rmtree(public)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert f"{agent} passed all tests" in output
    # Nothing but the optional actions it does not offer was remarked.
    remarks = [x for x in output.splitlines() if x.startswith("*")]
    assert all(x.endswith("(optional)") for x in remarks), output
    # No error logged on the way, e.g. while the collector starts.
    assert "ERROR" not in output, output
    log = (tmp_path / "log" / "collector.log").read_text()
    assert log.count("Listening on UDP") == 2  # started twice
