"""``ceilometer-ha expire``: what it refuses, on a small SQLite database.

What it deletes is tested on SQLite and MariaDB in
``tests/functional/test_expire_cli.py``.
"""

import datetime

import pytest
import sqlalchemy as sa

from ceilometer_ha import wire
from ceilometer_ha.cmd import expire
from ceilometer_ha.cmd import manage
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import migration
from ceilometer_ha.storage import models
from ceilometer_ha.storage import store as store_mod
from tests import records


def _database(tmp_path, schema=True):
    url = f"sqlite:///{tmp_path / 'ha.sqlite'}"
    engine = engine_mod.create_engine(url)
    if schema:
        migration.upgrade(engine)
        old = wire.utcnow() - datetime.timedelta(days=2)
        store_mod.SampleStore(engine).write_batch(
            [records.record("old", timestamp=old)]
        )
    return url, engine


def _samples(engine):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(models.sample)
        ).scalar()


def test_a_ttl_that_keeps_everything_deletes_nothing_and_says_so(
    tmp_path, capsys
):
    url, engine = _database(tmp_path)
    config = tmp_path / "ceilometer_ha.conf"
    config.write_text(f"[database]\nconnection = {url}\n")
    code = manage.main(["expire", "--config-file", str(config)])
    assert code == expire.EXIT_KEEPS_ALL
    assert "metering_time_to_live is -1" in capsys.readouterr().err
    assert _samples(engine) == 1


def test_a_missing_database_file_is_named_not_made(tmp_path, capsys):
    # Made by this command (as root, from cron), an empty file would be
    # one the collector's user could not write.
    path = tmp_path / "ha.sqlite"
    code = manage.main(
        ["expire", "--database-url", f"sqlite:///{path}", "--ttl", "60"]
    )
    assert code == expire.EXIT_ERROR
    assert capsys.readouterr().err == (
        f"ceilometer-ha expire: database: SQLite database {path} does not "
        "exist\n"
    )
    assert not path.exists()


def test_a_missing_schema_names_dbsync(tmp_path, capsys):
    url, engine = _database(tmp_path, schema=False)
    engine.connect().close()  # an empty database file
    code = manage.main(["expire", "--database-url", url, "--ttl", "60"])
    assert code == expire.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("ceilometer-ha expire: schema:")
    assert "ceilometer-ha dbsync" in err


def test_a_missing_configuration_file_is_an_error(tmp_path, capsys):
    code = manage.main(
        ["expire", "--config-file", str(tmp_path / "nowhere.conf")]
    )
    assert code == expire.EXIT_ERROR
    assert "configuration:" in capsys.readouterr().err


def test_ttl_zero_is_a_usage_error(tmp_path, capsys):
    url, engine = _database(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        manage.main(["expire", "--database-url", url, "--ttl", "0"])
    assert exit_.value.code == 2
    assert "--ttl: must be more than 0" in capsys.readouterr().err
    assert _samples(engine) == 1


def test_ttl_deletes_what_is_older(tmp_path, capsys):
    url, engine = _database(tmp_path)
    code = manage.main(["expire", "--database-url", url, "--ttl", "86400"])
    assert code == expire.EXIT_OK
    assert capsys.readouterr().out.startswith("deleted 1 samples")
    assert _samples(engine) == 0


@pytest.mark.parametrize("ttl", ["inf", "nan", "-5", "4e9"])
def test_a_ttl_beyond_reason_is_a_usage_error(tmp_path, capsys, ttl):
    url, engine = _database(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        manage.main(["expire", "--database-url", url, "--ttl", ttl])
    assert exit_.value.code == 2
    assert "--ttl: must be more than 0" in capsys.readouterr().err
    assert _samples(engine) == 1


def test_a_ttl_beyond_a_century_in_the_file_is_an_error(tmp_path, capsys):
    url, engine = _database(tmp_path)
    config = tmp_path / "ceilometer_ha.conf"
    config.write_text(
        f"[database]\nconnection = {url}\n"
        "metering_time_to_live = 100000000000\n"
    )
    code = manage.main(["expire", "--config-file", str(config)])
    assert code == expire.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("ceilometer-ha expire: configuration: ")
    assert "metering_time_to_live" in err
    assert _samples(engine) == 1


def test_the_ttl_is_printed_in_whole_seconds(tmp_path, capsys):
    url, _ = _database(tmp_path)
    code = manage.main(["expire", "--database-url", url, "--ttl", "2592000"])
    assert code == expire.EXIT_OK
    assert "more than 2592000 s before" in capsys.readouterr().out


def test_a_sqlite_directory_that_does_not_exist_is_named(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/gone/ha.sqlite"
    code = manage.main(["expire", "--database-url", url, "--ttl", "60"])
    assert code == expire.EXIT_ERROR
    assert capsys.readouterr().err == (
        f"ceilometer-ha expire: database: SQLite database "
        f"{tmp_path}/gone/ha.sqlite: directory {tmp_path}/gone does not "
        "exist; create it, writable by the user the collector runs as\n"
    )
