"""Connection settings ``storage.engine`` gives a database URL."""

import os

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


class Access:
    """``os.access`` of a machine where ``denied`` paths refuse it."""

    def __init__(self, *denied):
        self.denied = {str(p) for p in denied}
        self.asked = []

    def __call__(self, path, mode):
        self.asked.append((path, mode))
        return path not in self.denied


def test_a_writable_sqlite_file_has_no_problem(tmp_path):
    url = f"sqlite:///{tmp_path / 'ha.sqlite'}"
    access = Access()
    assert engine_mod.sqlite_file_problem(url, access) is None
    # The directory is asked about for writing (-wal, -shm files).
    assert access.asked == [(str(tmp_path), os.W_OK | os.X_OK)]
    (tmp_path / "ha.sqlite").touch()
    assert engine_mod.sqlite_file_problem(url, access) is None
    assert access.asked[-1] == (
        str(tmp_path / "ha.sqlite"),
        os.R_OK | os.W_OK,
    )


def test_a_missing_sqlite_directory_is_named(tmp_path):
    url = f"sqlite:///{tmp_path}/gone/ha.sqlite"
    problem = engine_mod.sqlite_file_problem(url)
    assert problem == (
        f"SQLite database {tmp_path}/gone/ha.sqlite: directory "
        f"{tmp_path}/gone does not exist; create it, writable by the user "
        "the collector runs as"
    )


def test_an_unwritable_sqlite_directory_or_file_is_named(tmp_path):
    url = f"sqlite:///{tmp_path / 'ha.sqlite'}"
    problem = engine_mod.sqlite_file_problem(url, Access(tmp_path))
    assert problem is not None
    assert f"directory {tmp_path} is not writable by " in problem
    assert problem.endswith("SQLite makes its -wal and -shm files there")
    (tmp_path / "ha.sqlite").touch()
    problem = engine_mod.sqlite_file_problem(
        url, Access(tmp_path / "ha.sqlite")
    )
    assert problem is not None
    assert problem.startswith(f"SQLite database {tmp_path / 'ha.sqlite'}: ")
    assert "not readable and writable by " in problem


@pytest.mark.parametrize(
    "url",
    [
        "mysql://ceilometer:x@198.51.100.2/ceilometer",
        "sqlite://",
        "sqlite:///:memory:",
    ],
)
def test_other_databases_have_no_file_problem(url):
    assert engine_mod.sqlite_file_problem(url, Access()) is None
