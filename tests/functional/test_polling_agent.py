"""The real ``ceilometer-polling`` with the shipped compute configuration.

Addresses are loopback (127.0.0.x and ::1), the collector is a UDP
socket of the test on 127.0.0.1 port 0, ``transport_url`` names a closed
port (RabbitMQ provably absent), the interval is 1 s. Every datagram
must carry a signature that ceilometer's own ``verify_signature``
accepts and metadata with this run's host and cluster.
"""

import contextlib
import importlib.util
import re
import signal
import socket
import subprocess
import threading

from ceilometer.publisher import utils as publisher_utils
import pytest

from tests.functional import agent

INTERVAL = 1
STARTUP_TIMEOUT = 60.0
EXIT_TIMEOUT = 60.0
ADDRESS_METERS = {
    f"ha.{network}.{kind}"
    for network in ("storage", "management", "tenant")
    for kind in ("reachable", "loss", "rtt")
}
HOST_METERS = {"ha.heartbeat", "ha.hypervisor.up"}
HAVE_LIBVIRT = importlib.util.find_spec("libvirt") is not None


def _expected_meters() -> set[str]:
    if HAVE_LIBVIRT:
        return ADDRESS_METERS | HOST_METERS
    # Without the binding ha.hypervisor.up does not load, by design.
    return ADDRESS_METERS | {"ha.heartbeat"}


def _collect(collector, expected):
    """First sample within the start-up time, then all in 3 intervals.

    ``expected`` holds ``(meter, resource_id)`` pairs: every address of
    a meter must have arrived, not only the meter's first datagram.
    """
    collector.receive_until(bool, STARTUP_TIMEOUT)
    assert collector.samples, "no sample arrived from the agent"
    return collector.receive_until(
        lambda got: expected <= _pairs(got), 3 * INTERVAL + 1
    )


def _pairs(samples) -> set[tuple[str, str]]:
    return {(s["counter_name"], s["resource_id"]) for s in samples}


def _expected_pairs(settings) -> set[tuple[str, str]]:
    addresses = {
        "storage": settings.storage,
        "management": settings.management,
        "tenant": settings.tenant,
    }
    pairs = {
        (meter, f"{settings.host}-{address}")
        for meter in _expected_meters() & ADDRESS_METERS
        for address in addresses[meter.split(".")[1]]
    }
    pairs |= {(m, settings.host) for m in _expected_meters() & HOST_METERS}
    return pairs


@pytest.mark.parametrize(
    "threads, namespace",
    [
        ("1", "ha"),
        ("0", "ha"),  # 0: all pollsters at once
        ("0", "compute"),  # the deployment notes' namespace
    ],
)
def test_every_meter_arrives_signed_with_host_and_cluster(
    tmp_path, threads, namespace
):
    with agent.UdpCollector() as collector:
        settings = agent.AgentSettings(
            namespace=namespace,
            collectors=[collector.address],
            storage=["127.0.0.1", "::1"],
            management=["127.0.0.2"],
            tenant=["127.0.0.3"],
            host="ha-func-host",
            cluster="ha-func-cluster",
            interval=INTERVAL,
            options={"polling": {"threads_to_process_pollsters": threads}},
        )
        with agent.PollingAgent(tmp_path, settings) as polling:
            samples = _collect(collector, _expected_pairs(settings))
            log = polling.log_text()

    missing = _expected_pairs(settings) - _pairs(samples)
    assert not missing, (missing, log[-3000:])
    for s in samples:
        assert publisher_utils.verify_signature(s, settings.secret), s
        assert not publisher_utils.verify_signature(s, "another secret")
        metadata = s["resource_metadata"]
        assert metadata["host"] == "ha-func-host"
        assert metadata["cluster"] == "ha-func-cluster"
        # reserved_metadata_keys = cluster in the shipped config
        assert metadata["user_metadata"] == {"cluster": "ha-func-cluster"}
        assert s["user_id"] is None and s["project_id"] is None
        assert s["counter_type"] == "gauge"
    by_name = {}
    for s in samples:
        by_name.setdefault(s["counter_name"], []).append(s)
    reached = {
        s["resource_metadata"]["address"]: s["counter_volume"]
        for s in by_name["ha.storage.reachable"]
    }
    assert reached == {"127.0.0.1": 1, "::1": 1}
    [mgmt] = by_name["ha.management.loss"][:1]
    assert mgmt["resource_id"] == "ha-func-host-127.0.0.2"
    assert mgmt["resource_metadata"]["network"] == "management"
    assert mgmt["counter_volume"] == 0.0
    heartbeat = by_name["ha.heartbeat"][0]
    assert heartbeat["resource_id"] == "ha-func-host"
    assert heartbeat["counter_volume"] == 1
    if HAVE_LIBVIRT:
        up = by_name["ha.hypervisor.up"][0]
        assert up["counter_volume"] == 1, up["resource_metadata"]
        assert up["resource_metadata"]["uri"] == "test:///default"
    assert "ceilometer_ha" not in _error_lines(log), log[-3000:]
    if namespace == "ha":
        # Nor any of ceilometer's (an ERROR at every start and reload
        # would wake whoever alerts on them).
        assert _error_lines(log) == "", log[-3000:]
    # The shipped default_log_levels keep the polling manager's two INFO
    # lines per pollster and cycle out of the log.
    assert "Polling pollster" not in log, log[-3000:]
    # The shipped configuration draws no advice either; the deployment
    # notes' namespace draws one warning, of what a silent libvirtd does.
    advice = [
        line
        for line in log.splitlines()
        if "ceilometer_ha.pollsters.validate" in line
    ]
    if namespace == "ha":
        assert advice == [], log[-3000:]
    else:
        [warning] = advice
        assert "WARNING" in warning and "polling_namespaces includes" in (
            warning
        ), log[-3000:]


class SilentLibvirtd:
    """A unix socket that accepts libvirt connections and never answers,
    as a libvirtd whose threads are stuck on hung storage does."""

    def __init__(self, directory) -> None:
        self.path = str(directory / "libvirt-sock")
        self.uri = f"qemu+unix:///system?socket={self.path}"
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._held: list[socket.socket] = []

    def __enter__(self) -> "SilentLibvirtd":
        self._server.bind(self.path)
        self._server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        with contextlib.suppress(OSError):  # closed at exit
            while True:
                conn, _ = self._server.accept()
                self._held.append(conn)

    def __exit__(self, *exc) -> None:
        self._server.close()
        for conn in self._held:
            conn.close()

    @property
    def connections(self) -> int:
        return len(self._held)


@pytest.mark.skipif(not HAVE_LIBVIRT, reason="needs the libvirt binding")
def test_a_libvirtd_that_never_answers_holds_back_no_heartbeat(tmp_path):
    """The agent starts while libvirtd accepts and never answers: in its
    own namespace it loads none of ceilometer's compute pollsters (whose
    inspector would connect at start with no timeout), and the
    heartbeats arrive, the hypervisor said down by the bounded probe."""
    with (
        SilentLibvirtd(tmp_path) as libvirtd,
        agent.UdpCollector() as collector,
    ):
        settings = agent.AgentSettings(
            collectors=[collector.address],
            storage=["127.0.0.1"],
            interval=INTERVAL,
            libvirt_uri=libvirtd.uri,
        )
        with agent.PollingAgent(tmp_path, settings) as polling:
            collector.receive_until(
                lambda got: (
                    sum(s["counter_name"] == "ha.hypervisor.up" for s in got)
                    >= 1
                    and sum(s["counter_name"] == "ha.heartbeat" for s in got)
                    >= 3
                ),
                STARTUP_TIMEOUT,
            )
            log = polling.log_text()
        assert libvirtd.connections >= 1  # the probe did try it
    beats = [
        s for s in collector.samples if s["counter_name"] == "ha.heartbeat"
    ]
    assert len(beats) >= 3, log[-3000:]
    [up, *_] = [
        s for s in collector.samples if s["counter_name"] == "ha.hypervisor.up"
    ]
    assert up["counter_volume"] == 0, up["resource_metadata"]
    assert up["resource_metadata"]["uri"] == libvirtd.uri


def _error_lines(log: str) -> str:
    return "\n".join(
        line
        for line in log.splitlines()
        if " ERROR " in line or " CRITICAL " in line or "Traceback" in line
    )


def _misspelt_default(config_path):
    text = re.sub(
        r"^\[DEFAULT\]$", "[DEAFULT]", config_path.read_text(), flags=re.M
    )
    config_path.write_text(text)


def _bad_ratio(config_path):
    text = config_path.read_text().replace(
        "ping_loss_ratio = 0.5", "ping_loss_ratio = 1.5"
    )
    config_path.write_text(text)


@pytest.mark.parametrize(
    "spoil, named, to_file",
    [
        (_bad_ratio, "ping_loss_ratio", True),
        # log_file is in the misspelt section: the log is standard error.
        (_misspelt_default, "[DEAFULT]", False),
    ],
)
def test_bad_configuration_stops_the_agent(tmp_path, spoil, named, to_file):
    with agent.UdpCollector() as collector:
        settings = agent.AgentSettings(collectors=[collector.address])
        polling = agent.PollingAgent(tmp_path, settings)
        spoil(polling.config_path)
        with polling:
            code = polling.wait(EXIT_TIMEOUT)
            # Every datagram the agent sent while it ran, and half a
            # second for a respawned worker (there must be none) to
            # publish or log.
            collector.receive_until(lambda samples: False, 0.5)
            log = polling.log_text()
        assert code is not None, "the agent kept running: " + log[-3000:]
        critical = [
            line
            for line in log.splitlines()
            if "CRITICAL ceilometer_ha.pollsters.validate" in line
            and "ceilometer-ha cannot run" in line
        ]
        assert len(critical) == 1, log[-3000:]
        assert named in critical[0]
        # When the log is a file only, standard error (the journal,
        # under systemd) says it too, once.
        said = [
            line
            for line in log.splitlines()
            if line.startswith("CRITICAL ceilometer-ha cannot run")
        ]
        assert len(said) == (1 if to_file else 0), log[-3000:]
        assert all(named in line for line in said)
        assert collector.samples == []


def test_keystone_outage_never_holds_samples_back(tmp_path):
    """cluster_source = aggregate with Keystone on a closed port."""
    with agent.UdpCollector() as collector:
        settings = agent.AgentSettings(
            collectors=[collector.address],
            storage=["127.0.0.1"],
            cluster="static-fallback",
            interval=INTERVAL,
            options={
                "compute": {"cluster_source": "aggregate"},
                "service_credentials": {
                    "auth_url": "http://127.0.0.1:1/v3",
                },
            },
        )
        with agent.PollingAgent(tmp_path, settings) as polling:
            samples = _collect(
                collector,
                {
                    ("ha.heartbeat", "ha-test-host"),
                    ("ha.storage.loss", "ha-test-host-127.0.0.1"),
                },
            )
            warned = polling.wait_for_log(
                "Cannot read the cluster of ha-test-host", 30.0
            )
            log = polling.log_text()
    names = {s["counter_name"] for s in samples}
    assert {"ha.heartbeat", "ha.storage.loss"} <= names, log[-3000:]
    clusters = {s["resource_metadata"]["cluster"] for s in samples}
    assert clusters == {"static-fallback"}
    assert warned, log[-3000:]


def test_a_reload_applies_a_checked_file_and_keeps_polling(tmp_path):
    """The two steps of the systemd unit's ExecReload=: check-config
    refuses a file with a bad value (systemd then stops the reload) and
    accepts a good one; the agent then gets SIGHUP and its new worker
    polls the new storage address."""
    with agent.UdpCollector() as collector:
        settings = agent.AgentSettings(
            collectors=[collector.address], storage=["127.0.0.1"]
        )
        with agent.PollingAgent(tmp_path, settings) as running:
            before = ("ha.storage.loss", f"{settings.host}-127.0.0.1")
            collector.receive_until(
                lambda got: before in _pairs(got), STARTUP_TIMEOUT
            )
            assert before in _pairs(collector.samples)

            good = agent.render_config(
                tmp_path,
                agent.AgentSettings(
                    collectors=[collector.address], storage=["::1"]
                ),
            )
            bad = tmp_path / "bad.conf"
            bad.write_text(
                good.read_text().replace(
                    "ping_loss_ratio = 0.5", "ping_loss_ratio = 7"
                )
            )
            assert "ping_loss_ratio = 7" in bad.read_text()
            assert _check_config(bad).returncode != 0
            assert _check_config(good).returncode == 0
            assert good == running.config_path

            running.process.send_signal(signal.SIGHUP)
            after = ("ha.storage.loss", f"{settings.host}-::1")
            collector.receive_until(
                lambda got: after in _pairs(got), STARTUP_TIMEOUT
            )
            assert after in _pairs(collector.samples)
            assert running.wait(0) is None  # still running


def _check_config(path):
    return subprocess.run(
        [str(agent.polling_binary().parent / "ceilometer-ha"), "check-config"]
        + [str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
