"""Database engines for the collector, the verdicts and the tools.

A ``mysql://`` URL, as written in the deployment notes, is served by
PyMySQL so that no C client library is needed. SQLite files get WAL and a
busy timeout, so that the collector writing and a status reader reading
do not block each other, commits synced to disk, a larger WAL
checkpoint interval and a larger page cache. MySQL connections get
read, write and connect timeouts unless the URL sets its own
(``mysql_timeouts``), the sessions that lost connections leave on the
server are ended (``orphans``), and a connection to a server that
refuses writes is dropped (``db_errors.REFUSES_WRITES``).
"""

import os
import pathlib
import pwd
import typing

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import url as sa_url

from ceilometer_ha.storage import db_errors
from ceilometer_ha.storage import orphans

# Pages the SQLite WAL grows to before a commit copies them back into
# the database file (SQLite's default is 1,000). The writer rewrites
# most pages of ha_latest and of the index tails in every batch; with a
# larger WAL each is copied back once per checkpoint rather than once
# per batch or two, which took about a tenth off the writer's work. The
# WAL file grows to about 40 MiB (4 KiB pages) before it is reused.
SQLITE_CHECKPOINT_PAGES = 10_000
# SQLite's page cache per connection, in KiB (SQLite's default is 2,000).
# A batch rewrites pages all over ha_latest and the indexes; once the
# database outgrew the default cache, each batch read them back from the
# operating system (950 read calls per batch of 2,000 with 200,000
# samples in place, 343 with this cache; doc/bench-ingest.rst). Pages
# take memory only once read.
SQLITE_CACHE_KIB = 65_536
# SQLite's synchronous level. FULL (SQLite's own default) syncs the WAL
# at every commit, so a batch the collector counted as stored survives a
# power loss, as a commit to MariaDB does (innodb_flush_log_at_trx_commit
# = 1). NORMAL syncs only at checkpoints: a power loss can roll back
# batches already counted as stored, silently. The writer commits once
# per batch, so the sync costs it about 0.4 us per sample
# (doc/bench-ingest.rst).
SQLITE_SYNCHRONOUS = "FULL"
# Seconds PyMySQL (or mysqlclient) waits for one read or write on the
# server's socket. Without them a server that goes silent without
# resetting the connection (power loss, a partition, a VIP moving) holds
# the statement until TCP gives up (about 15 minutes; hours, until
# keepalive, once the server acknowledged the request), and the writer
# neither retries nor logs meanwhile. A timed-out statement closes the
# connection and fails as a lost connection: retried, with backoff. It
# must exceed the slowest legitimate wait for one statement's answer: a
# 5,000-row expiry DELETE or a 2,000-row insert with its ha_latest upsert
# on a loaded server, or a row lock awaited for InnoDB's default 50 s
# innodb_lock_wait_timeout (which then fails the statement properly).
# An operator overrides them in the URL: ``?read_timeout=120``.
MYSQL_IO_TIMEOUT = 60
# Seconds to connect and get the server's greeting (PyMySQL's default;
# mysqlclient has none).
MYSQL_CONNECT_TIMEOUT = 10
# The drivers that take these three as connect() arguments.
_TIMEOUT_DRIVERS = ("pymysql", "mysqldb")


def normalize_url(url: str) -> sa_url.URL:
    """Parse ``url``, choosing PyMySQL for a bare mysql:// URL.

    A ``mariadb://`` URL is served as ``mysql://`` (the MySQL dialect
    works with MariaDB): the schema's column types and the store's
    statements are those of the ``mysql`` dialect, which SQLAlchemy's
    separate ``mariadb`` dialect would not get (its ``DATETIME`` would
    lose the sub-second part).

    MySQL connections always use ``utf8mb4``, the character set of the
    tables: with the deployment notes' ``?charset=utf8`` (3-byte UTF-8)
    a sample carrying an emoji or another 4-byte character would be
    refused by the server.
    """
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        driver = parsed.get_driver_name() if "+" in parsed.drivername else ""
        parsed = parsed.set(drivername=f"mysql+{driver or 'pymysql'}")
        charset = parsed.query.get("charset")
        if charset in (None, "utf8", "utf8mb3"):
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed


def mysql_timeouts(url: sa_url.URL, io_timeouts: bool = True) -> sa_url.URL:
    """``url`` with ``MYSQL_IO_TIMEOUT`` and ``MYSQL_CONNECT_TIMEOUT``
    for each of ``read_timeout``, ``write_timeout`` and
    ``connect_timeout`` its query does not set; other URLs unchanged.
    ``io_timeouts`` False: the connect timeout only."""
    if url.get_backend_name() not in ("mysql", "mariadb"):
        return url
    if url.get_driver_name() not in _TIMEOUT_DRIVERS:
        return url
    defaults = {"connect_timeout": MYSQL_CONNECT_TIMEOUT}
    if io_timeouts:
        defaults["read_timeout"] = MYSQL_IO_TIMEOUT
        defaults["write_timeout"] = MYSQL_IO_TIMEOUT
    missing = {
        name: str(value)
        for name, value in defaults.items()
        if name not in url.query
    }
    return url.update_query_dict(missing) if missing else url


def read_timeout(url: str) -> float | None:
    """The seconds one database read may wait with ``create_engine(url)``;
    None when no timeout applies (SQLite, other drivers)."""
    parsed = mysql_timeouts(normalize_url(url))
    value = parsed.query.get("read_timeout")
    if value is None or parsed.get_driver_name() not in _TIMEOUT_DRIVERS:
        return None
    return float(value if isinstance(value, str) else value[-1])


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def _sqlite_path(url: str) -> pathlib.Path | None:
    """The absolute path of a SQLite file URL; None for another database,
    in memory, or a URI that SQLite opens its own way."""
    parsed = normalize_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database:
        return None
    if database == ":memory:" or database.startswith("file:"):
        return None
    return pathlib.Path(os.path.abspath(database))


def sqlite_missing(url: str) -> str | None:
    """For a reader: why the SQLite database of ``url`` is not there
    (SQLite would make an empty file and report an empty schema); None
    when it is, or when ``url`` is not a SQLite file."""
    path = _sqlite_path(url)
    if path is None or path.is_file():
        return None
    return f"SQLite database {path} does not exist"


def sqlite_file_problem(
    url: str, access: typing.Callable[[str, int], bool] = os.access
) -> str | None:
    """Why this process could not write the SQLite database of ``url``;
    None when it can, or when ``url`` is not a SQLite file.

    SQLite itself only says "unable to open database file". In WAL mode
    it also makes ``-wal`` and ``-shm`` files beside the database, so
    the directory must be writable too. ``access`` is ``os.access``.
    """
    path = _sqlite_path(url)
    if path is None:
        return None
    where = f"SQLite database {path}"
    if not path.parent.is_dir():
        return (
            f"{where}: directory {path.parent} does not exist; create it, "
            f"writable by the user the collector runs as"
        )
    if not access(str(path.parent), os.W_OK | os.X_OK):
        return (
            f"{where}: directory {path.parent} is not writable by "
            f"{_user()}, and SQLite makes its -wal and -shm files there"
        )
    if path.exists() and not access(str(path), os.R_OK | os.W_OK):
        return f"{where}: not readable and writable by {_user()}"
    return None


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={SQLITE_SYNCHRONOUS}")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_CHECKPOINT_PAGES}")
    cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
    cursor.close()


def create_engine(
    url: str, io_timeouts: bool = True, **kwargs
) -> sa.engine.Engine:
    """Return an engine for ``url`` with the project's connection settings.

    ``io_timeouts`` False leaves MySQL statements without the default
    read and write timeouts: for schema migrations, whose ``ALTER
    TABLE`` on a large table may rightly take longer.
    """
    parsed = mysql_timeouts(normalize_url(url), io_timeouts)
    if parsed.get_backend_name() == "mysql":
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_recycle", 3600)
    engine = sa.create_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        event.listen(engine, "handle_error", db_errors.drop_refusing)
        orphans.track(engine)
    return engine
