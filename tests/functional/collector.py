"""Start and stop a real collector for tests, the test bed and the demo.

Two ways, one configuration:

``CollectorProcess(database_url, workdir, options=None, template=None,
run_dbsync=True, command_prefix=None)``
    the ``ceilometer-collector-ha`` console script as a subprocess,
    started from the deployment notes' controller file
    (``data/controller_ceilometer_ha.conf``, verbatim but for
    ``connection`` and ``udp_port = 0``) plus an overlay file for what a
    test needs (``options``: ``{group: {option: value}}``; by default
    ``udp_address = 127.0.0.1`` and a ``port_file``). ``command_prefix``
    runs it elsewhere, e.g. ``["ip", "netns", "exec", "ns1"]``.
    ``start()`` returns once it listens (``port`` set, from the port
    file); ``stop()`` sends SIGTERM and returns the exit code::

        with CollectorProcess(database_url, tmp_path) as collector:
            send_to(collector.address, collector.port, datagram)
            collector.wait_for_rows(1)
        assert collector.returncode == 0

``InProcessCollector(database_url, workdir, options=None, run_dbsync=True)``
    the same service on an asyncio loop in a thread of the test process,
    for the many fast tests; ``stats`` is the live counter object and
    ``stop()`` returns the samples left unwritten.

Both have ``address``, ``port``, ``count_rows(table)`` and
``wait_for_rows(count, timeout)``, and work as context managers.
Module functions: ``render_config(template, database_url)`` (set the
``connection`` of a controller file), ``dbsync(config_path)`` (create the
schema as the operator would), ``send_to(address, port, *datagrams)``
(loopback only), ``ceilometer_publisher(address, port)`` (ceilometer's
own ``UDPPublisher``, loopback only), ``make_sample(...)`` (a Sample
shaped like the compute side's), ``count_rows(database_url, table)``,
``wait_until(predicate, timeout, what)``; ``SEED_CONFIG``,
``SEED_SECRET``.
"""

import asyncio
import datetime
import ipaddress
import pathlib
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

from ceilometer import sample as ceilometer_sample
from ceilometer.publisher import udp as ceilometer_udp
from ceilometer.publisher import utils as ceilometer_utils
from oslo_config import cfg
import sqlalchemy as sa

from ceilometer_ha.cmd import collector as collector_cmd
from ceilometer_ha.collector import service
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import models

DATA = pathlib.Path(__file__).parent / "data"
SEED_CONFIG = DATA / "controller_ceilometer_ha.conf"
SEED_SECRET = "nmWpu7Pu8DDWhQ3oPaBpVQjn"
BIN = pathlib.Path(sys.executable).parent
_CONNECTION = re.compile(r"^connection = .*$", re.MULTILINE)


def render_config(template: str, database_url: str) -> str:
    """The controller file with its ``connection`` set to the test URL.

    A ``mysql+pymysql://`` URL is written as ``mysql://``, the form of
    the deployment notes, so the PyMySQL mapping is exercised too.
    """
    url = database_url.replace("mysql+pymysql://", "mysql://", 1)
    text, count = _CONNECTION.subn(f"connection = {url}", template)
    if count != 1:
        raise ValueError("template has no single [database] connection")
    return text


def dbsync(config_path: pathlib.Path) -> str:
    """Run ``ceilometer-ha dbsync`` on ``config_path``; return its output."""
    done = subprocess.run(
        [
            str(BIN / "ceilometer-ha"),
            "dbsync",
            "--config-file",
            str(config_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


def _overlay(options: dict[str, dict[str, object]]) -> str:
    lines = []
    for group, values in options.items():
        lines.append(f"[{group}]")
        lines += [f"{key} = {value}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def wait_until(predicate, timeout: float, what: str, poll: float = 0.02):
    """Poll ``predicate`` until truthy (returned) or TimeoutError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(poll)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def count_rows(database_url: str, table: sa.Table = models.sample) -> int:
    """Rows of ``table`` (``ha_sample`` by default) in the database."""
    engine = engine_mod.create_engine(database_url)
    try:
        with engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(table)
            return int(conn.execute(query).scalar() or 0)
    finally:
        engine.dispose()


class _Common:
    database_url: str

    def count_rows(self, table: sa.Table = models.sample) -> int:
        return count_rows(self.database_url, table)

    def wait_for_rows(self, count: int, timeout: float = 30.0) -> int:
        """Wait until ``ha_sample`` holds at least ``count`` rows."""
        wait_until(
            lambda: self.count_rows() >= count, timeout, f"{count} rows"
        )
        return self.count_rows()


def _files(workdir: pathlib.Path, database_url: str, template: str, options):
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "ceilometer_ha.conf"
    config.write_text(render_config(template, database_url))
    port_file = workdir / "collector.port"
    merged: dict[str, dict[str, object]] = {
        "collector": {"udp_address": "127.0.0.1", "port_file": port_file}
    }
    for group, values in (options or {}).items():
        merged.setdefault(group, {}).update(values)
    overlay = workdir / "overlay.conf"
    overlay.write_text(_overlay(merged))
    return config, overlay, port_file


def _listen_address(options: dict[str, dict[str, object]] | None) -> str:
    collector = (options or {}).get("collector", {})
    return str(collector.get("udp_address", "127.0.0.1"))


class CollectorProcess(_Common):
    """``ceilometer-collector-ha`` as a subprocess; see the module doc."""

    def __init__(
        self,
        database_url: str,
        workdir: pathlib.Path,
        options: dict[str, dict[str, object]] | None = None,
        template: str | None = None,
        run_dbsync: bool = True,
        command_prefix: list[str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.command_prefix = list(command_prefix or [])
        self.workdir = pathlib.Path(workdir)
        template = template or SEED_CONFIG.read_text()
        self.config_path, self.overlay_path, self.port_file = _files(
            self.workdir, database_url, template, options
        )
        self.log_path = self.workdir / "collector.log"
        self.address = _listen_address(options)
        self.port = 0
        self.run_dbsync = run_dbsync
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None

    @property
    def argv(self) -> list[str]:
        return self.command_prefix + [
            str(BIN / "ceilometer-collector-ha"),
            "--config-file",
            str(self.config_path),
            "--config-file",
            str(self.overlay_path),
        ]

    def start(self, timeout: float = 30.0) -> "CollectorProcess":
        """Launch and wait until it listens; ``port`` is then set."""
        if self.run_dbsync:
            dbsync(self.config_path)
        self.port_file.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log_file:
            self.proc = subprocess.Popen(
                self.argv, stdout=log_file, stderr=subprocess.STDOUT
            )
        proc = self.proc

        def _listening():
            if proc.poll() is not None:
                raise RuntimeError(
                    f"collector exited with {proc.returncode}:\n"
                    + self.log_text()
                )
            text = self.port_file.exists() and self.port_file.read_text()
            return text.strip() if text and text.endswith("\n") else None

        self.port = int(wait_until(_listening, timeout, "the collector port"))
        return self

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait for the flush and exit; return the exit code."""
        if self.proc is None:
            raise RuntimeError("not started")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.returncode = self.proc.returncode
        return self.returncode

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def __enter__(self) -> "CollectorProcess":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        if self.proc is not None and self.returncode is None:
            self.stop()


class InProcessCollector(_Common):
    """The collector service on a loop thread inside the test process."""

    def __init__(
        self,
        database_url: str,
        workdir: pathlib.Path,
        options: dict[str, dict[str, object]] | None = None,
        run_dbsync: bool = True,
    ) -> None:
        self.database_url = database_url
        config, overlay, _port = _files(
            pathlib.Path(workdir),
            database_url,
            SEED_CONFIG.read_text(),
            options,
        )
        if run_dbsync:
            dbsync(config)
        self.conf = collector_cmd.prepare_conf(
            ["--config-file", str(config), "--config-file", str(overlay)]
        )
        service.check_config(self.conf)
        self.service = service.CollectorService(self.conf)
        self.stats = self.service.stats
        self.address = _listen_address(options)
        self.port = 0
        self.left: int | None = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.left = asyncio.run(self.service.serve())
        except BaseException as exc:  # reported by start()/stop()
            self.error = exc
            self.service.ready.set()

    def start(self, timeout: float = 30.0) -> "InProcessCollector":
        self._thread.start()
        if not self.service.ready.wait(timeout):
            raise TimeoutError("collector did not start")
        if self.error:
            raise self.error
        self.port = int(self.service.port or 0)
        return self

    def stop(self, timeout: float = 30.0) -> int:
        """Stop and flush; return the samples left unwritten."""
        self.service.request_stop()
        self._thread.join(timeout)
        if self.error:
            raise self.error
        return int(self.left or 0)

    def __enter__(self) -> "InProcessCollector":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        if self._thread.is_alive():
            self.stop()


def send_to(address: str, port: int, *datagrams: bytes) -> None:
    """Send datagrams to a loopback collector (never anywhere else)."""
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError(f"{address} is not a loopback address")
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        for data in datagrams:
            sock.sendto(data, (address, port))


def ceilometer_publisher(address: str, port: int, secret: str = SEED_SECRET):
    """ceilometer's own ``UDPPublisher`` aimed at a loopback collector."""
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError(f"{address} is not a loopback address")
    conf = cfg.ConfigOpts()
    conf.register_opts(ceilometer_utils.OPTS, group="publisher")
    conf([], project="ceilometer", default_config_files=[])
    conf.set_override("telemetry_secret", secret, group="publisher")
    host = f"[{address}]" if ":" in address else address
    url = urllib.parse.urlparse(f"udp://{host}:{port}")
    return ceilometer_udp.UDPPublisher(conf, url)


def make_sample(
    host: str = "compute-1",
    name: str = "ha.storage.reachable",
    volume: float = 1,
    resource_id: str | None = None,
    cluster: str = "rack-a",
    timestamp: datetime.datetime | None = None,
) -> ceilometer_sample.Sample:
    """A ceilometer Sample shaped like the compute side's, stamped now."""
    stamp = timestamp or datetime.datetime.now(datetime.timezone.utc)
    return ceilometer_sample.Sample(
        name=name,
        type=ceilometer_sample.TYPE_GAUGE,
        unit="B",
        volume=volume,
        user_id=None,
        project_id=None,
        resource_id=resource_id or f"{host}-storage",
        timestamp=stamp.isoformat(),
        resource_metadata={"host": host, "cluster": cluster},
        source="openstack",
    )
