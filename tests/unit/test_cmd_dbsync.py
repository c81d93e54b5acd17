"""``ceilometer-ha dbsync`` on SQLite: the schema, and one-line errors.

The same command on MySQL/MariaDB runs before every functional test of
the collector (``tests/functional/collector_config.dbsync``).
"""

import pytest
import sqlalchemy as sa

from ceilometer_ha.cmd import dbsync
from ceilometer_ha.cmd import manage
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import migration


def _config(tmp_path, url):
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text(f"[database]\nconnection = {url}\n")
    return str(path)


def test_creates_then_leaves_the_schema_at_head(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'ha.sqlite'}"
    config = _config(tmp_path, url)
    head = migration.head_revision()
    assert manage.main(["dbsync", "--config-file", config]) == 0
    assert capsys.readouterr().out == f"database schema: none -> {head}\n"
    assert manage.main(["dbsync", "--config-file", config]) == 0
    assert capsys.readouterr().out == f"database schema: {head} -> {head}\n"
    engine = engine_mod.create_engine(url)
    migration.check_current(engine)
    engine.dispose()


@pytest.mark.parametrize(
    ("config", "said"),
    [
        (
            lambda tmp: _config(tmp, f"sqlite:///{tmp}/no/such/dir/ha.sqlite"),
            "ceilometer-ha dbsync: database: SQLite database ",
        ),
        (
            lambda tmp: str(tmp / "nowhere.conf"),
            "ceilometer-ha dbsync: configuration: ",
        ),
        (
            lambda tmp: _config(tmp, "nosuchdb://x"),
            "ceilometer-ha dbsync: configuration: ",
        ),
    ],
    ids=["no-directory", "no-file", "bad-url"],
)
def test_errors_are_one_line(tmp_path, capsys, config, said):
    code = manage.main(["dbsync", "--config-file", config(tmp_path)])
    assert code == dbsync.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith(said)
    assert err.count("\n") == 1


def test_an_unknown_revision_is_one_line(tmp_path, capsys):
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'ha.sqlite'}")
    code = manage.main(
        ["dbsync", "--config-file", config, "--revision", "bogus"]
    )
    assert code == dbsync.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("ceilometer-ha dbsync: revision: ")
    assert err.count("\n") == 1


def _tables(url):
    engine = engine_mod.create_engine(url)
    try:
        return sorted(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_a_failed_upgrade_leaves_the_sqlite_schema_as_it_was(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'ha.sqlite'}"
    config = _config(tmp_path, url)
    engine = engine_mod.create_engine(url)
    with engine.begin() as conn:  # in the way of the first revision
        conn.exec_driver_sql("CREATE TABLE ha_latest (x INTEGER)")
    assert manage.main(["dbsync", "--config-file", config]) == 4
    assert "ha_latest already exists" in capsys.readouterr().err
    assert _tables(url) == ["ha_latest"]
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE ha_latest")
    engine.dispose()
    assert manage.main(["dbsync", "--config-file", config]) == 0
    assert _tables(url) == ["ha_alembic_version", "ha_latest", "ha_sample"]


def test_it_only_upgrades(tmp_path, capsys):
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'ha.sqlite'}")
    head = migration.head_revision()
    assert manage.main(["dbsync", "--config-file", config]) == 0
    capsys.readouterr()
    for older in (migration.known_revisions()[0], "base"):
        code = manage.main(
            ["dbsync", "--config-file", config, "--revision", older]
        )
        assert code == dbsync.EXIT_ERROR
        assert capsys.readouterr().err == (
            f"ceilometer-ha dbsync: schema: the database schema is at "
            f"revision {head}, later than {older}: dbsync only upgrades\n"
        )
    assert manage.main(["dbsync", "--config-file", config]) == 0
    assert capsys.readouterr().out == f"database schema: {head} -> {head}\n"


def _upgraded_by_a_newer_release(tmp_path, capsys, *then):
    """A database at head whose recorded revision a newer ceilometer-ha
    set, with the statements ``then`` run after; (config, engine)."""
    url = f"sqlite:///{tmp_path / 'ha.sqlite'}"
    config = _config(tmp_path, url)
    assert manage.main(["dbsync", "--config-file", config]) == 0
    capsys.readouterr()
    engine = engine_mod.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE ha_alembic_version SET version_num = '0099_future'"
        )
        for statement in then:
            conn.exec_driver_sql(statement)
    return config, engine


def test_a_schema_newer_than_this_code_says_so(tmp_path, capsys):
    config, engine = _upgraded_by_a_newer_release(tmp_path, capsys)
    newer = (
        "the database schema is at revision 0099_future, which this "
        "ceilometer-ha does not know (its newest is "
        f"{migration.head_revision()}): the database was upgraded by a "
        "newer ceilometer-ha; upgrade ceilometer-ha on this host"
    )
    # What the collector and expire say at start, and dbsync.
    with pytest.raises(migration.SchemaError) as exc:
        migration.check_current(engine)
    engine.dispose()
    assert str(exc.value) == newer
    code = manage.main(["dbsync", "--config-file", config])
    assert code == dbsync.EXIT_ERROR
    assert (
        capsys.readouterr().err == f"ceilometer-ha dbsync: schema: {newer}\n"
    )


def test_a_relative_revision_upgrades_that_many(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'ha.sqlite'}"
    config = _config(tmp_path, url)
    first, second = migration.known_revisions()[:2]
    engine = engine_mod.create_engine(url)
    migration.upgrade(engine, first)
    engine.dispose()
    code = manage.main(["dbsync", "--config-file", config, "--revision", "+1"])
    assert code == 0
    assert capsys.readouterr().out == f"database schema: {first} -> {second}\n"


def test_a_newer_schema_is_said_even_with_its_tables_gone(tmp_path, capsys):
    """Made anew only what this code knows: a revision it does not know
    is the newer ceilometer-ha's, whatever is left of its tables."""
    config, engine = _upgraded_by_a_newer_release(
        tmp_path, capsys, "DROP TABLE ha_sample", "DROP TABLE ha_latest"
    )
    engine.dispose()
    assert manage.main(["dbsync", "--config-file", config]) == 4
    err = capsys.readouterr().err
    assert err.startswith(
        "ceilometer-ha dbsync: schema: the database schema is at revision "
        "0099_future, which this ceilometer-ha does not know"
    ), err
