"""``ceilometer-ha dbsync`` on SQLite: the schema, and one-line errors.

The same command on MySQL/MariaDB runs before every functional test of
the collector (``tests/functional/collector_config.dbsync``).
"""

import pytest

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
