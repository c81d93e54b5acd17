"""Quick start: the whole data path on this machine, then the verdicts.

``tox -e demo`` (or ``python tools/demo.py``) runs, in a temporary
directory it removes afterwards:

1. ``ceilometer-ha dbsync`` and ``ceilometer-collector-ha`` on SQLite,
   from the shipped controller ``ceilometer_ha.conf``;
2. the stock ``ceilometer-polling --polling-namespaces ha`` with the
   shipped compute ``ceilometer_ha.conf`` and ``pipeline_ha.yaml``,
   pinging the loopback addresses as its storage network and publishing
   signed UDP to the collector (no RabbitMQ: ``transport_url`` points at
   a closed port);
3. ``ceilometer-ha status`` until this host is judged, then the table.

Everything is stopped on the way out, Ctrl-C included. The demo drives
the same harness as the functional tests (``tests/functional``), so what
it shows is what they check.
"""

import argparse
import json
import pathlib
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402

from ceilometer_ha.probes import icmp  # noqa: E402
from ceilometer_ha.storage import engine as storage_engine  # noqa: E402
from ceilometer_ha.storage import models  # noqa: E402
from tests.functional import agent as agent_harness  # noqa: E402
from tests.functional import collector as collector_harness  # noqa: E402

SHIPPED_CONTROLLER = (
    REPO / "etc" / "ceilometer" / "controller" / "ceilometer_ha.conf"
)
BIN = pathlib.Path(sys.executable).parent
CYCLES = 3
SYSCTL_HINT = 'sudo sysctl -w net.ipv4.ping_group_range="0 2147483647"'


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


def icmp_allowed() -> bool:
    """Whether this user may send ICMP echo requests at all."""
    result = icmp.IcmpProber(count=1, timeout=0.5).ping(["127.0.0.1"])
    return result.results["127.0.0.1"].reason != icmp.PERMISSION_REASON


def loopback_addresses() -> list[str]:
    """127.0.0.1, and ::1 when this machine has IPv6 loopback."""
    addresses = ["127.0.0.1"]
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
        addresses.append("::1")
    except OSError:
        pass
    return addresses


def libvirt_uri() -> str | None:
    """libvirt's built-in test driver when the binding is installed."""
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return None
    return "test:///default"


def status(config_files: list[pathlib.Path], fmt: str) -> tuple[int, str]:
    argv = [str(BIN / "ceilometer-ha"), "status", "--format", fmt]
    for path in config_files:
        argv += ["--config-file", str(path)]
    done = subprocess.run(
        argv, capture_output=True, text=True, timeout=60, check=False
    )
    return done.returncode, done.stdout + done.stderr


def heartbeats(database_url: str) -> int:
    engine = storage_engine.create_engine(database_url)
    try:
        with engine.connect() as conn:
            query = (
                sa.select(sa.func.count())
                .select_from(models.sample)
                .where(models.sample.c.meter == "ha.heartbeat")
            )
            return int(conn.execute(query).scalar() or 0)
    finally:
        engine.dispose()


def wait_for_verdict(
    config_files, database_url: str, host: str, timeout: float
) -> str | None:
    """Poll until ``host`` is judged ok after ``CYCLES`` cycles."""
    deadline = time.monotonic() + timeout
    verdict = None
    while time.monotonic() < deadline:
        code, out = status(config_files, "json")
        if code in (0, 1, 3):
            hosts = json.loads(out).get("hosts", [])
            verdict = next(
                (h["verdict"] for h in hosts if h["host"] == host), None
            )
            if verdict == "ok" and heartbeats(database_url) >= CYCLES:
                return verdict
        time.sleep(1.0)
    return verdict


def run(workdir: pathlib.Path, cycles_timeout: float) -> int:
    if not icmp_allowed():
        print(
            "This user may not send ICMP echo requests, which the "
            "storage pollsters need. Either run as root, or allow "
            "unprivileged ICMP sockets for your group:\n\n    "
            f"{SYSCTL_HINT}\n",
            file=sys.stderr,
        )
        return 2
    secret = secrets.token_hex(16)
    host = socket.gethostname()
    database_url = f"sqlite:///{workdir / 'ceilometer_ha.sqlite'}"
    say(f"working directory {workdir}")
    say("ceilometer-ha dbsync, then ceilometer-collector-ha on SQLite")
    collector = collector_harness.CollectorProcess(
        database_url,
        workdir / "collector",
        options={
            "publisher": {"telemetry_secret": secret},
            "collector": {"stats_interval": 5, "udp_port": 0},
        },
        template=SHIPPED_CONTROLLER.read_text(),
    )
    config_files = [collector.config_path, collector.overlay_path]
    with collector:
        say(f"collector listening on udp://127.0.0.1:{collector.port}")
        settings = agent_harness.AgentSettings(
            collectors=[("127.0.0.1", collector.port)],
            storage=loopback_addresses(),
            host=host,
            cluster="demo",
            interval=1,
            secret=secret,
            ping_count=4,
            ping_interval=0.1,
            ping_timeout=0.5,
            libvirt_uri=libvirt_uri(),
        )
        say(
            f"ceilometer-polling (namespace ha) as host {host!r}, storage "
            f"addresses {', '.join(settings.storage)}, interval 1 s"
        )
        with agent_harness.PollingAgent(workdir / "agent", settings):
            say(f"waiting for {CYCLES} polling cycles to be judged")
            verdict = wait_for_verdict(
                config_files, database_url, host, cycles_timeout
            )
            rows = collector.count_rows()
            code, table = status(config_files, "table")
        say(f"{rows} samples stored; ceilometer-ha status (exit {code}):")
        print(table, flush=True)
    say("agent and collector stopped")
    if verdict != "ok":
        print(
            f"{host} was not judged ok within {cycles_timeout:.0f} s "
            f"(last verdict: {verdict}); logs are in {workdir}",
            file=sys.stderr,
        )
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="Seconds to wait for the verdict.",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="Keep the working directory (configs, logs, "
        "database) instead of removing it.",
    )
    args = parser.parse_args(argv)
    workdir = pathlib.Path(tempfile.mkdtemp(prefix="ceilometer-ha-demo-"))
    code = 1
    try:
        code = run(workdir, args.timeout)
    except KeyboardInterrupt:
        say("interrupted; everything was stopped")
        code = 130
    finally:
        if args.keep or code not in (0, 130):
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
