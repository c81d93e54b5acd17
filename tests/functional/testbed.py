"""The fault test bed: the real services on the namespaced hosts.

:class:`TestBed` builds a ``tests.functional.topology.Topology``
(compute, storage and controller hosts as namespaces) and runs the real
services on it: the collector on the controller, ``ceilometer-polling``
on every compute host, the verdicts read from the root namespace. It
adds the process faults (an agent killed, the collector restarted) and
bounded waits on the verdicts. The functional tests and
``benchmarks/detection.py`` share this module (importable from the
repository root as ``tests.functional.testbed``).
"""

import atexit
import datetime
import pathlib
import secrets
import time
import typing

import sqlalchemy as sa

from ceilometer_ha.health import settings as health_settings
from ceilometer_ha.storage import models
from tests.functional import agent as agent_helper
from tests.functional import netns
from tests.functional import testbed_services as services
from tests.functional import topology

COLLECTOR_PORT = 4953
CLUSTER = "testbed"
# The shipped agent settings (etc/ceilometer/compute/ceilometer_ha.conf).
PING_COUNT = 4
PING_INTERVAL = 0.1
PING_TIMEOUT = 0.5


class TestBed:
    """The topology with the real services running on it.

    ``start`` builds everything or nothing; ``stop`` is idempotent and
    runs also at exit, so that no namespace, process or database is left
    behind whatever happens to the caller.
    """

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        workdir: pathlib.Path,
        computes: int = 3,
        interval: int = 1,
        settings: health_settings.HealthSettings | None = None,
    ) -> None:
        self.workdir = pathlib.Path(workdir)
        self.interval = interval
        self.settings = settings or health_settings.HealthSettings(
            polling_interval=float(interval)
        )
        self.topology = topology.Topology(netns.new_prefix(), computes)
        self.database = services.Database()
        self.secret = secrets.token_hex(16)
        self.collector: services.NamespacedCollector | None = None
        self.agents: dict[str, agent_helper.PollingAgent] = {}
        self.engine: sa.Engine | None = None

    @property
    def hosts(self) -> list[str]:
        return [h.name for h in self.topology.computes]

    def start(self, timeout: float = 60.0) -> "TestBed":
        atexit.register(self.stop)
        try:
            netns.remove_leftovers()
            self.topology.build()
            self.database.create()
            self.engine = services.verdict_engine(self.database)
            self._start_collector()
            for host in self.topology.computes:
                self._start_agent(host)
            self.wait_all_ok(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_collector(self) -> None:
        self.collector = services.NamespacedCollector(
            self.topology.controller.ns,
            self.database.socket_url,
            self.workdir / "controller",
            options={
                "collector": {
                    "udp_address": topology.CONTROLLER_ADDRESS,
                    "udp_port": COLLECTOR_PORT,
                },
                "publisher": {"telemetry_secret": self.secret},
            },
        )
        self.collector.start()

    def _start_agent(self, host: topology.Host) -> None:
        settings = agent_helper.AgentSettings(
            collectors=[(topology.CONTROLLER_ADDRESS, COLLECTOR_PORT)],
            storage=list(topology.STORAGE_ADDRESSES),
            host=host.name,
            cluster=CLUSTER,
            interval=self.interval,
            secret=self.secret,
            ping_count=PING_COUNT,
            ping_interval=PING_INTERVAL,
            ping_timeout=PING_TIMEOUT,
        )
        agent = services.polling_agent(
            host.ns, self.workdir / host.name, settings
        )
        self.agents[host.name] = agent.start()

    def stop(self) -> None:
        atexit.unregister(self.stop)
        for agent in self.agents.values():
            agent.stop()
        if self.collector is not None and self.collector.running():
            self.collector.stop()
        if self.engine is not None:
            self.engine.dispose()
        self.topology.destroy()
        self.database.drop()

    def __enter__(self) -> "TestBed":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # Process faults.

    def kill_agent(self, name: str) -> None:
        services.kill_agent(self.agents[name])

    def start_agent(self, name: str) -> None:
        self.agents[name].start()

    def restart_collector(self) -> None:
        assert self.collector is not None
        self.collector.restart()

    # Observations.

    def report(self) -> dict:
        """Every verdict now, shaped as ``ceilometer-ha status`` JSON."""
        assert self.engine is not None
        return services.read_report(self.engine, self.settings)

    def wait_for(
        self,
        predicate: typing.Callable[[dict], bool],
        timeout: float,
        what: str,
        step: float = 0.25,
    ) -> dict:
        """Poll the verdicts until ``predicate(report)``; bounded."""
        deadline = time.monotonic() + timeout
        report: dict = {}
        while time.monotonic() < deadline:
            report = self.report()
            if predicate(report):
                return report
            time.sleep(step)
        raise netns.NetnsError(
            f"timed out after {timeout} s waiting for {what}; last "
            f"verdicts: {verdicts(report)}"
        )

    def wait_all_ok(self, timeout: float) -> dict:
        return self.wait_for(
            lambda r: all_ok(r, self.hosts), timeout, "every host ok"
        )

    def first_failing_sample(
        self, host: str, after: datetime.datetime
    ) -> datetime.datetime | None:
        """When the collector recorded ``host``'s first lost-storage sample
        after ``after`` (naive UTC): ``ha.storage.reachable`` 0."""
        assert self.engine is not None
        t = models.sample
        query = sa.select(sa.func.min(t.c.recorded_at)).where(
            t.c.host == host,
            t.c.meter == "ha.storage.reachable",
            t.c.volume == 0,
            t.c.recorded_at > after,
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def agent_log(self, name: str) -> str:
        return self.agents[name].log_text()


def verdicts(report: dict) -> dict[str, str]:
    """``{host: verdict}`` of a report."""
    return {h["host"]: h["verdict"] for h in report.get("hosts", [])}


def all_ok(report: dict, hosts: list[str]) -> bool:
    return bool(report.get("can_judge")) and verdicts(report) == dict.fromkeys(
        hosts, "ok"
    )
