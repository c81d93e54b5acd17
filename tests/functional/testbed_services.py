"""The services of the fault test bed: database, collector, agents, verdicts.

Thin adapters over the shared helpers, so that the services run inside
the test bed's namespaces:

* :class:`Database`: a MariaDB database of its own per test bed,
  reached through the server's unix socket (filesystem sockets are not
  network-namespaced, TCP to 127.0.0.1 of the root namespace is not
  reachable from another namespace). Created and dropped here.
* :class:`NamespacedCollector`: ``tests.functional.collector``'s
  ``CollectorProcess`` with its command run by ``ip netns exec``.
* :func:`polling_agent`: ``tests.functional.agent``'s ``PollingAgent``
  wrapped the same way, with the shipped ping settings.
* :func:`read_report`: the verdicts, from the ``ceilometer_ha.health``
  library in the root namespace; :func:`status_cli` the same from
  ``ceilometer-ha status --format json``.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import uuid

import sqlalchemy as sa

from ceilometer_ha.health import judge
from ceilometer_ha.health import settings as health_settings
from ceilometer_ha.storage import engine as engine_mod
from tests.functional import agent as agent_helper
from tests.functional import collector as collector_helper
from tests.functional import managed_process
from tests.functional import netns

MYSQL_URL_ENV = "CEILOMETER_HA_TEST_MYSQL_URL"
DEFAULT_SERVER_URL = "mysql+pymysql://root@127.0.0.1:3306"


class Database:
    """An empty MariaDB database for one test bed; ``drop`` is idempotent."""

    def __init__(self, server_url: str | None = None) -> None:
        self.server_url = (
            server_url or os.environ.get(MYSQL_URL_ENV) or DEFAULT_SERVER_URL
        )
        self.name = f"ceilometer_ha_testbed_{uuid.uuid4().hex[:12]}"
        self.socket: str | None = None

    def create(self) -> "Database":
        engine = sa.create_engine(self.server_url)
        try:
            with engine.begin() as conn:
                self.socket = conn.execute(sa.text("SELECT @@socket")).scalar()
                conn.execute(
                    sa.text(
                        f"CREATE DATABASE {self.name} CHARACTER SET utf8mb4"
                    )
                )
        finally:
            engine.dispose()
        if not self.socket or not os.path.exists(self.socket):
            raise RuntimeError(f"MariaDB unix socket {self.socket} not found")
        return self

    @property
    def socket_url(self) -> str:
        """The URL that works from every namespace: the unix socket."""
        url = sa.engine.make_url(self.server_url)
        user = url.username or "root"
        auth = f"{user}:{url.password}" if url.password else user
        return (
            f"mysql+pymysql://{auth}@localhost/{self.name}"
            f"?unix_socket={self.socket}&charset=utf8mb4"
        )

    def drop(self) -> None:
        engine = sa.create_engine(self.server_url)
        try:
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {self.name}"))
        finally:
            engine.dispose()


class NamespacedCollector(collector_helper.CollectorProcess):
    """``ceilometer-collector-ha`` run inside ``ns``."""

    def __init__(self, ns: netns.Namespace, *args, **kwargs) -> None:
        self.ns = ns
        super().__init__(*args, **kwargs)

    @property
    def argv(self) -> list[str]:
        return self.ns.exec_argv(super().argv)

    def restart(self, timeout: float = 30.0) -> None:
        """Stop (SIGTERM, flush) and start again on the same port."""
        self.stop()
        self.returncode = None
        self.run_dbsync = False
        self.start(timeout)


def polling_agent(
    ns: netns.Namespace,
    workdir: pathlib.Path,
    settings: agent_helper.AgentSettings,
) -> agent_helper.PollingAgent:
    """The stock ``ceilometer-polling`` for one compute namespace."""
    return agent_helper.PollingAgent(
        workdir, settings, wrapper=ns.exec_argv([])
    )


def kill_agent(agent: agent_helper.PollingAgent) -> None:
    """SIGKILL the agent's whole process group at once, as a crash."""
    assert agent.process is not None
    try:
        os.killpg(agent.process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    agent.process.wait(10)
    netns.wait_for(
        lambda: not managed_process.group_alive(agent.process.pid),
        10.0,
        "the agent to die",
    )


def read_report(
    engine: sa.Engine, settings: health_settings.HealthSettings
) -> dict:
    """All verdicts now, in the JSON shape of ``ceilometer-ha status``."""
    return judge.judge(engine, settings).to_dict()


def status_cli(database: Database) -> tuple[int, dict]:
    """``ceilometer-ha status --format json``: exit code and report."""
    done = subprocess.run(
        [
            str(pathlib.Path(sys.executable).parent / "ceilometer-ha"),
            "status",
            "--format",
            "json",
            "--database-url",
            database.socket_url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode not in (0, 1, 3):
        raise RuntimeError(f"status exited {done.returncode}: {done.stderr}")
    return done.returncode, json.loads(done.stdout)


def verdict_engine(database: Database) -> sa.Engine:
    return engine_mod.create_engine(database.socket_url)
