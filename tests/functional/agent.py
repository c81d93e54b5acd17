"""Run the real ``ceilometer-polling`` with the shipped compute config.

The functional tests, the network-namespace test bed and the demo all
need the same thing: the configuration a compute host would get
(``etc/ceilometer/compute/ceilometer_ha.conf`` and
``etc/ceilometer/pipeline_ha.yaml``), with the addresses, collectors,
host, cluster, interval and secret of the run, and the stock agent
running it. API::

    settings = AgentSettings(collectors=[("127.0.0.1", port)])
    with PollingAgent(tmp_path, settings) as agent:   # renders + starts
        ...                                           # agent.log_text()
    # stopped: the whole process group is killed

    with UdpCollector() as collector:                 # 127.0.0.1, port 0
        samples = collector.receive_until(done, timeout=10.0)

* :class:`AgentSettings`: what to rewrite; ``options`` adds or
  overrides any other option (``{"DEFAULT": {"debug": "true"}}``).
* :func:`render_config`: writes ``ceilometer_ha.conf`` and
  ``pipeline_ha.yaml`` into a directory and returns the config path.
* :class:`PollingAgent`: ``start()``, ``stop()``, ``wait(timeout)``
  (exit code or ``None``), ``log_text()``, ``wait_for_log(text,
  timeout)``, ``config_path``; ``argv``
  and ``env`` let a caller wrap the command (``ip netns exec ...``).
* :class:`UdpCollector`: decodes ceilometer's msgpack datagrams.

``transport_url`` points at a closed local port, so RabbitMQ is provably
not on the sample path. The binary is the ``ceilometer-polling`` beside
``sys.executable`` (the test venv).
"""

import dataclasses
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import msgpack
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
SHIPPED_CONF = REPO / "etc" / "ceilometer" / "compute" / "ceilometer_ha.conf"
SHIPPED_PIPELINE = REPO / "etc" / "ceilometer" / "pipeline_ha.yaml"
CLOSED_RABBIT_URL = "rabbit://guest:guest@127.0.0.1:1/"
TEST_SECRET = "functional-test-secret"
STOP_TIMEOUT = 10.0


def polling_binary() -> pathlib.Path:
    return pathlib.Path(sys.executable).parent / "ceilometer-polling"


@dataclasses.dataclass
class AgentSettings:
    """What the rendered configuration changes in the shipped files."""

    collectors: list[tuple[str, int]]
    storage: list[str] = dataclasses.field(
        default_factory=lambda: ["127.0.0.1", "::1"]
    )
    management: list[str] = dataclasses.field(default_factory=list)
    tenant: list[str] = dataclasses.field(default_factory=list)
    host: str = "ha-test-host"
    cluster: str = "ha-test-cluster"
    interval: int = 1
    secret: str = TEST_SECRET
    ping_count: int = 2
    ping_interval: float = 0.05
    ping_timeout: float = 0.5
    libvirt_uri: str | None = "test:///default"
    # The shipped units' namespace; "compute" is the deployment notes'.
    namespace: str = "ha"
    options: dict[str, dict[str, str]] = dataclasses.field(
        default_factory=dict
    )


def set_options(text: str, values: dict[str, dict[str, str]]) -> str:
    """``text`` (an oslo.config file) with ``values`` set, per section.

    An existing ``key =`` line (or a commented ``#key =`` one) of the
    section is replaced; a missing key is added at the end of its
    section, a missing section at the end of the file.
    """
    lines = text.splitlines()
    pending = {s: dict(v) for s, v in values.items()}
    out: list[str] = []
    section = None

    def flush(name):
        for key, value in pending.pop(name, {}).items():
            out.append(f"{key} = {value}")

    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            flush(section)
            section = stripped[1:-1]
        elif section in pending and "=" in stripped:
            key = stripped.lstrip("#").split("=", 1)[0].strip()
            if key in pending[section]:
                out.append(f"{key} = {pending[section].pop(key)}")
                continue
        out.append(line)
    flush(section)
    for name in list(pending):
        out.append(f"[{name}]")
        flush(name)
    return "\n".join(out) + "\n"


def render_config(directory: pathlib.Path, s: AgentSettings) -> pathlib.Path:
    """Write the rewritten config and pipeline; return the config path."""
    directory.mkdir(parents=True, exist_ok=True)
    pipeline_path = directory / "pipeline_ha.yaml"
    pipeline = yaml.safe_load(SHIPPED_PIPELINE.read_text())
    for source in pipeline["sources"]:
        source["interval"] = s.interval
    for sink in pipeline["sinks"]:
        sink["publishers"] = [_udp_url(h, p) for h, p in s.collectors]
    pipeline_path.write_text(yaml.safe_dump(pipeline))
    values = {
        "DEFAULT": {
            "host": s.host,
            "transport_url": CLOSED_RABBIT_URL,
            "pipeline_cfg_file": str(pipeline_path),
            "log_file": str(directory / "agent.log"),
            "use_stderr": "false",
        },
        "polling": {"cfg_file": str(pipeline_path)},
        "compute": {
            "storage_server_address": ", ".join(s.storage),
            "management_address": ", ".join(s.management),
            "tenant_address": ", ".join(s.tenant),
            "cluster": s.cluster,
            "ping_count": str(s.ping_count),
            "ping_interval": str(s.ping_interval),
            "ping_timeout": str(s.ping_timeout),
        },
        "publisher": {"telemetry_secret": s.secret},
    }
    if s.libvirt_uri:
        values["DEFAULT"]["libvirt_uri"] = s.libvirt_uri
    for section, options in s.options.items():
        values.setdefault(section, {}).update(options)
    config_path = directory / "ceilometer_ha.conf"
    config_path.write_text(set_options(SHIPPED_CONF.read_text(), values))
    return config_path


def _udp_url(host: str, port: int) -> str:
    return f"udp://[{host}]:{port}" if ":" in host else f"udp://{host}:{port}"


class PollingAgent:
    """The stock ``ceilometer-polling --polling-namespaces ha`` (or the
    settings' namespace)."""

    def __init__(
        self,
        directory: pathlib.Path,
        settings: AgentSettings,
        wrapper: list[str] | None = None,
    ) -> None:
        self.directory = pathlib.Path(directory)
        self.settings = settings
        self.config_path = render_config(self.directory, settings)
        self.log_path = self.directory / "agent.log"
        self.argv = list(wrapper or []) + [
            str(polling_binary()),
            "--config-file",
            str(self.config_path),
            # After the file, which sets it too: oslo.config takes the
            # later of the two.
            "--polling-namespaces",
            settings.namespace,
        ]
        self.env = dict(os.environ)
        self.process: subprocess.Popen | None = None

    def start(self) -> "PollingAgent":
        with open(self.directory / "agent.out", "wb") as output:
            self.process = subprocess.Popen(
                self.argv,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        return self

    def wait(self, timeout: float) -> int | None:
        """The exit code, or ``None`` if still running after ``timeout``."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL, the agent's whole process group."""
        if self.process is None:
            return
        pgid = self.process.pid
        _signal_group(pgid, signal.SIGTERM)
        if self.wait(STOP_TIMEOUT) is None or _group_alive(pgid):
            _signal_group(pgid, signal.SIGKILL)
            self.process.wait(STOP_TIMEOUT)

    def log_text(self) -> str:
        parts = []
        for path in (self.log_path, self.directory / "agent.out"):
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def wait_for_log(self, text: str, timeout: float) -> bool:
        """Whether ``text`` appears in the log within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while text not in self.log_text():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
        return True

    def __enter__(self) -> "PollingAgent":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


class UdpCollector:
    """A UDP socket on 127.0.0.1 port 0 that decodes sample datagrams."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.address: tuple[str, int] = self.sock.getsockname()[:2]
        self.samples: list[dict] = []

    def receive_until(self, done, timeout: float) -> list[dict]:
        """Collect until ``done(samples)`` is true or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while not done(self.samples):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.sock.settimeout(min(remaining, 0.5))
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            self.samples.append(msgpack.loads(data, raw=False))
        return self.samples

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "UdpCollector":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
