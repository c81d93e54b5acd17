"""Connection settings ``storage.engine`` gives a database URL."""

import pytest
import sqlalchemy as sa

from ceilometer_ha.storage import engine as engine_mod

IO = str(engine_mod.MYSQL_IO_TIMEOUT)
CONNECT = str(engine_mod.MYSQL_CONNECT_TIMEOUT)
DEFAULTS = {
    "read_timeout": IO,
    "write_timeout": IO,
    "connect_timeout": CONNECT,
}


def _query(url):
    return dict(engine_mod.mysql_timeouts(engine_mod.normalize_url(url)).query)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://ceilometer:pw@db.example/ceilometer?charset=utf8",
        "mysql+pymysql://ceilometer:pw@db.example/ceilometer",
        "mariadb://ceilometer:pw@db.example/ceilometer",
        "mysql+mysqldb://ceilometer:pw@db.example/ceilometer?charset=utf8mb4",
    ],
)
def test_mysql_urls_get_read_write_and_connect_timeouts(url):
    query = _query(url)
    assert {name: query[name] for name in DEFAULTS} == DEFAULTS


def test_timeouts_the_url_sets_are_kept():
    query = _query(
        "mysql://ceilometer:pw@db.example/ceilometer"
        "?read_timeout=2&connect_timeout=3&charset=utf8"
    )
    assert query["read_timeout"] == "2"
    assert query["connect_timeout"] == "3"
    assert query["write_timeout"] == IO


def test_other_urls_are_left_alone():
    for url in (
        "sqlite:////var/lib/ceilometer-ha/ceilometer_ha.sqlite",
        "mysql+mysqlconnector://ceilometer:pw@db.example/ceilometer",
    ):
        parsed = sa.engine.make_url(url)
        assert engine_mod.mysql_timeouts(parsed) is parsed


def test_the_driver_gets_the_timeouts_as_numbers():
    engine = engine_mod.create_engine(
        "mysql://ceilometer:pw@db.example/ceilometer?write_timeout=7"
    )
    try:
        _, kwargs = engine.dialect.create_connect_args(engine.url)
    finally:
        engine.dispose()
    assert kwargs["read_timeout"] == engine_mod.MYSQL_IO_TIMEOUT
    assert kwargs["write_timeout"] == 7
    assert kwargs["connect_timeout"] == engine_mod.MYSQL_CONNECT_TIMEOUT


def test_read_timeout_is_the_one_the_engine_gets():
    assert engine_mod.read_timeout("mysql://u@db/x") == float(IO)
    assert engine_mod.read_timeout("mysql://u@db/x?read_timeout=2") == 2.0
    assert engine_mod.read_timeout("sqlite:///x.sqlite") is None


def test_migrations_get_the_connect_timeout_only():
    parsed = engine_mod.mysql_timeouts(
        engine_mod.normalize_url("mysql://ceilometer:pw@db.example/c"),
        io_timeouts=False,
    )
    assert parsed.query["connect_timeout"] == CONNECT
    assert "read_timeout" not in parsed.query
    assert "write_timeout" not in parsed.query


@pytest.mark.parametrize(
    "url, drivername",
    [
        ("mysql://c:pw@db.example/c", "mysql+pymysql"),
        ("mariadb://c:pw@db.example/c", "mysql+pymysql"),
        ("mariadb+mysqldb://c:pw@db.example/c", "mysql+mysqldb"),
        ("mysql+mysqldb://c:pw@db.example/c", "mysql+mysqldb"),
    ],
)
def test_mysql_and_mariadb_urls_get_the_mysql_dialect_and_utf8mb4(
    url, drivername
):
    parsed = engine_mod.normalize_url(url + "?charset=utf8")
    assert parsed.drivername == drivername
    assert parsed.get_backend_name() == "mysql"
    assert parsed.query["charset"] == "utf8mb4"
