"""Test-wide fixtures: the database under test and the CI skip policy.

The test database comes from the environment, as in aodh: every test
that takes ``database_url`` runs on SQLite, and again on MySQL/MariaDB
when ``CEILOMETER_HA_TEST_MYSQL_URL`` names a server (for example
``mysql+pymysql://root@127.0.0.1:3306``). Each test gets a database of
its own, created and dropped here. A module that sets
``database_url = conftest.every_driver_database_url`` runs on MySQL
twice: through the driver that URL names (PyMySQL in CI, as for a bare
``mysql://`` URL), and through mysqlclient (``mysql+mysqldb://``),
which an operator may name.

In CI, ``CEILOMETER_HA_REQUIRE_MYSQL=1`` and ``CEILOMETER_HA_REQUIRE_NETNS=1``
turn a skipped MySQL or network-namespace test into a failure: a skip
there means the test did not run, not that it passed.
"""

import os
import uuid

import pytest
import sqlalchemy as sa

MYSQL_URL_ENV = "CEILOMETER_HA_TEST_MYSQL_URL"
REQUIRED_MARKERS = {
    "mysql": "CEILOMETER_HA_REQUIRE_MYSQL",
    "netns": "CEILOMETER_HA_REQUIRE_NETNS",
}


def mysql_server_url() -> str | None:
    return os.environ.get(MYSQL_URL_ENV) or None


def _required_markers() -> set[str]:
    return {
        m for m, env in REQUIRED_MARKERS.items() if os.environ.get(env) == "1"
    }


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "mysql_database" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.mysql)
        if "database_url" in getattr(item, "fixturenames", ()):
            callspec = getattr(item, "callspec", None)
            param = callspec.params.get("database_url") if callspec else None
            if param in _MYSQL_DRIVERS:
                item.add_marker(pytest.mark.mysql)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not report.skipped:
        return
    required = _required_markers() & {m.name for m in item.iter_markers()}
    if required:
        report.outcome = "failed"
        reason = (
            report.longrepr[2]
            if isinstance(report.longrepr, tuple)
            else str(report.longrepr)
        )
        report.longrepr = (
            f"{item.nodeid}: skipped but required in this run "
            f"({', '.join(sorted(required))}): {reason}"
        )


def create_mysql_database(server_url: str) -> str:
    """Create an empty database on the server and return its URL."""
    name = f"ceilometer_ha_test_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(server_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET utf8mb4"))
    engine.dispose()
    return f"{server_url.rstrip('/')}/{name}?charset=utf8mb4"


def drop_mysql_database(server_url: str, database_url: str) -> None:
    name = sa.engine.make_url(database_url).database
    engine = sa.create_engine(server_url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
    engine.dispose()


# database_url parameters that name a MySQL server: the driver of the
# URL given, or another one (by SQLAlchemy drivername).
_MYSQL_DRIVERS = {"mysql": None, "mysql-mysqldb": "mysql+mysqldb"}


def _database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ceilometer_ha.sqlite'}"
        return
    yield from _mysql_database(_MYSQL_DRIVERS[request.param])


def _mysql_database(driver=None):
    """An empty database on the test server (through ``driver`` if one is
    named), dropped after."""
    server = mysql_server_url()
    if not server:
        pytest.skip(f"{MYSQL_URL_ENV} is not set")
    if driver:
        pytest.importorskip("MySQLdb")
        server = (
            sa.engine.make_url(server)
            .set(drivername=driver)
            .render_as_string(hide_password=False)
        )
    url = create_mysql_database(server)
    try:
        yield url
    finally:
        drop_mysql_database(server, url)


@pytest.fixture
def mysql_database():
    """An empty MySQL database, dropped after (for MySQL-only tests)."""
    yield from _mysql_database()


@pytest.fixture(params=["sqlite", "mysql"])
def database_url(request, tmp_path):
    """An empty database, SQLite or MySQL; the MySQL one is dropped after."""
    yield from _database_url(request, tmp_path)


@pytest.fixture(params=["sqlite", "mysql", "mysql-mysqldb"])
def every_driver_database_url(request, tmp_path):
    """``database_url``, and MySQL once more through mysqlclient."""
    yield from _database_url(request, tmp_path)
