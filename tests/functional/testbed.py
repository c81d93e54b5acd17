"""The fault test bed: compute, storage and controller hosts as namespaces.

::

    compute-N (st0 198.51.100.1N, mg0 203.0.113.1N)
        |  st0 ----- br-st (switch) ----- st0  storage-1 198.51.100.2
        |                          \\---- st0  storage-2 198.51.100.3
        |  mg0 ----- br-mg (switch) ----- mg0  controller 203.0.113.2

:class:`Topology` builds and removes the namespaces and injects the
faults; :class:`TestBed` runs the real services on it (the collector
on the controller, ``ceilometer-polling`` on every compute host, the
verdicts read from the root namespace). The functional tests and
``benchmarks/detection.py`` share this module (importable from the
repository root as ``tests.functional.testbed``).
"""

import atexit
import dataclasses
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

STORAGE_DEVICE = "st0"
MANAGEMENT_DEVICE = "mg0"
STORAGE_ADDRESSES = ("198.51.100.2", "198.51.100.3")
CONTROLLER_ADDRESS = "203.0.113.2"
COLLECTOR_PORT = 4953
CLUSTER = "testbed"
# The shipped agent settings (etc/ceilometer/compute/ceilometer_ha.conf).
PING_COUNT = 4
PING_INTERVAL = 0.1
PING_TIMEOUT = 0.5


@dataclasses.dataclass
class Host:
    """One namespace standing for a machine of the test bed."""

    role: str
    ns: netns.Namespace
    storage_address: str | None = None
    management_address: str | None = None

    @property
    def name(self) -> str:
        return self.role


class Topology:
    """The namespaces, bridges and veths of one test bed, and its faults.

    ``build`` is all or nothing: a failure half way removes what was
    made. ``destroy`` is idempotent and kills whatever still runs in the
    namespaces.
    """

    def __init__(self, prefix: str, computes: int = 3) -> None:
        if not 1 <= computes <= 9:
            raise ValueError("between 1 and 9 compute hosts")
        self.prefix = prefix
        self.switch = netns.Namespace(f"{prefix}switch")
        self.computes = [
            Host(
                f"compute-{i}",
                netns.Namespace(f"{prefix}compute-{i}"),
                f"198.51.100.1{i}",
                f"203.0.113.1{i}",
            )
            for i in range(1, computes + 1)
        ]
        self.storages = [
            Host(f"storage-{i}", netns.Namespace(f"{prefix}storage-{i}"), a)
            for i, a in enumerate(STORAGE_ADDRESSES, start=1)
        ]
        self.controller = Host(
            "controller",
            netns.Namespace(f"{prefix}controller"),
            None,
            CONTROLLER_ADDRESS,
        )

    @property
    def namespaces(self) -> list[netns.Namespace]:
        hosts = [*self.computes, *self.storages, self.controller]
        return [self.switch, *(h.ns for h in hosts)]

    def compute(self, name: str) -> Host:
        return next(h for h in self.computes if h.name == name)

    def build(self) -> None:
        atexit.register(self._destroy_quietly)
        try:
            self._build()
            self.verify()
        except BaseException:
            self.destroy()
            raise

    def _build(self) -> None:
        for ns in self.namespaces:
            ns.create()
        netns.add_bridge(self.switch, "br-st", None)
        netns.add_bridge(self.switch, "br-mg", None)
        for i, host in enumerate([*self.computes, *self.storages]):
            assert host.storage_address
            netns.add_port(
                host.ns, STORAGE_DEVICE, f"{host.storage_address}/24",
                self.switch, f"p{i}-st", "br-st",
            )  # fmt: skip
        for i, host in enumerate([*self.computes, self.controller]):
            assert host.management_address
            netns.add_port(
                host.ns, MANAGEMENT_DEVICE, f"{host.management_address}/24",
                self.switch, f"p{i}-mg", "br-mg",
            )  # fmt: skip
        for host in self.computes:
            # Unprivileged ICMP sockets too, whichever the prober uses.
            host.ns.sysctl("net.ipv4.ping_group_range", "0 2147483647")

    def verify(self) -> None:
        """Fail unless every namespace and every needed route exists."""
        for host in self.computes:
            for address in STORAGE_ADDRESSES:
                dev = host.ns.require_route(address)
                if dev != STORAGE_DEVICE:
                    raise netns.NetnsError(f"{address} routed via {dev}")
            if host.ns.require_route(CONTROLLER_ADDRESS) != MANAGEMENT_DEVICE:
                raise netns.NetnsError("controller not on the management net")

    def destroy(self) -> None:
        errors = []
        for ns in reversed(self.namespaces):
            try:
                ns.delete()
            except netns.NetnsError as exc:
                errors.append(str(exc))
        if errors:
            raise netns.NetnsError("; ".join(errors))
        atexit.unregister(self._destroy_quietly)

    def _destroy_quietly(self) -> None:
        try:
            self.destroy()
        except netns.NetnsError:
            pass

    # Faults. Each replaces the previous fault of the same place.

    def cut_storage_link(self, name: str) -> None:
        self.compute(name).ns.set_link(STORAGE_DEVICE, False)

    def storage_loss(self, name: str, kind: str, percent: int = 30) -> None:
        """Drop arriving packets on a compute host's storage interface."""
        netns.NftFaults(self.compute(name).ns).apply(
            STORAGE_DEVICE, kind, percent
        )

    def dropped_packets(self, name: str) -> int:
        return netns.NftFaults(self.compute(name).ns).dropped()

    def storage_outage(self) -> None:
        """Both storage hosts stop answering echo requests from anyone."""
        for host in self.storages:
            netns.NftFaults(host.ns).apply(STORAGE_DEVICE, "icmp")

    def reset_faults(self) -> None:
        for host in [*self.computes, *self.storages]:
            self._heal(host)

    def heal(self, name: str) -> None:
        """Remove the faults of one compute host only."""
        self._heal(self.compute(name))

    @staticmethod
    def _heal(host: Host) -> None:
        netns.NftFaults(host.ns).clear()
        if not host.ns.link_is_up(STORAGE_DEVICE):
            host.ns.set_link(STORAGE_DEVICE, True)


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
        self.topology = Topology(netns.new_prefix(), computes)
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
                    "udp_address": CONTROLLER_ADDRESS,
                    "udp_port": COLLECTOR_PORT,
                },
                "publisher": {"telemetry_secret": self.secret},
            },
        )
        self.collector.start()

    def _start_agent(self, host: Host) -> None:
        settings = agent_helper.AgentSettings(
            collectors=[(CONTROLLER_ADDRESS, COLLECTOR_PORT)],
            storage=list(STORAGE_ADDRESSES),
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
