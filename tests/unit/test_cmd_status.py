"""``ceilometer-ha status`` against a small SQLite database."""

import datetime
import json
import os
import pathlib
import sqlite3
import subprocess
import sys

import pytest

from ceilometer_ha.cmd import manage
from ceilometer_ha.cmd import status
from tests.unit import health_fixtures

A = "198.51.100.2"


@pytest.fixture
def table(tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    clock = health_fixtures.FakeClock(now)
    return health_fixtures.SampleTable(
        f"sqlite:///{tmp_path / 'ha.sqlite'}", clock
    )


def run_status(table, capsys, *extra):
    url = str(table.engine.url)
    code = manage.main(["status", "--database-url", url, *extra])
    return code, capsys.readouterr()


def test_all_ok_table_exit_0(table, capsys):
    table.host("cmp-1", {A: [0.0] * 10})
    table.host("cmp-2", {A: [0.0] * 10}, cluster="rack-2")
    code, out = run_status(table, capsys)
    assert code == status.EXIT_OK
    assert "2 hosts: 2 ok, 0 degraded, 0 failed, 0 stale" in out.out
    assert "Cluster rack-2: 1 hosts" in out.out
    assert "\x1b[" not in out.out  # not a terminal: no colour


def test_failed_host_table_and_json_exit_1(table, capsys):
    table.host("cmp-1", {A: [0.0] * 10 + [1.0] * 3})
    table.host("cmp-2", {A: [0.0] * 10})
    table.host("cmp-3", {A: [0.0] * 10})
    code, out = run_status(table, capsys)
    assert code == status.EXIT_FAILED
    line = next(x for x in out.out.splitlines() if "cmp-1" in x)
    assert "failed" in line and "storage_lost" in line
    assert f"storage {A}: loss 100%, unreachable, 3 cycles" in out.out
    code, out = run_status(table, capsys, "--format", "json")
    data = json.loads(out.out)
    assert code == status.EXIT_FAILED
    assert data["counts"] == {"ok": 2, "degraded": 0, "failed": 1, "stale": 0}
    assert data["hosts"][0]["evidence"][0]["value"] == 1.0


def test_filters_change_the_exit_code(table, capsys):
    table.host("cmp-1", {A: [1.0] * 5}, cluster="bad")
    table.host("cmp-2", {A: [0.0] * 10}, cluster="good")
    table.host("cmp-3", {A: [0.0] * 10}, cluster="good")
    code, out = run_status(
        table, capsys, "--cluster", "good", "--format", "json"
    )
    assert code == status.EXIT_OK
    assert [h["host"] for h in json.loads(out.out)["hosts"]] == [
        "cmp-2",
        "cmp-3",
    ]
    code, out = run_status(
        table, capsys, "--host", "cmp-2", "--format", "json"
    )
    (host,) = json.loads(out.out)["hosts"]
    assert code == status.EXIT_OK
    assert host["verdict"] == "ok"
    assert host["evidence"][0]["address"] == A  # --host explains


def test_cannot_judge_exit_3(table, capsys):
    table.host("cmp-1", {A: [0.0] * 10}, heartbeat_age=120)
    code, out = run_status(table, capsys)
    assert code == status.EXIT_CANNOT_JUDGE
    assert "CANNOT JUDGE (all_stale)" in out.out
    code, out = run_status(table, capsys, "--format", "json")
    data = json.loads(out.out)
    assert (data["can_judge"], data["reason"]) == (False, "all_stale")


def test_empty_database_cannot_judge(table, capsys):
    code, out = run_status(table, capsys, "--format", "json")
    assert code == status.EXIT_CANNOT_JUDGE
    assert json.loads(out.out)["reason"] == "no_hosts"


def test_missing_schema_is_an_error(tmp_path, capsys):
    path = tmp_path / "empty.sqlite"
    sqlite3.connect(path).close()  # a database without the schema
    code = manage.main(["status", "--database-url", f"sqlite:///{path}"])
    assert code == status.EXIT_ERROR
    err = capsys.readouterr().err
    assert "database:" in err and "does not exist" not in err
    assert err.endswith("run ceilometer-ha dbsync)\n"), err


def _status_with_file(table, tmp_path, more):
    """status with a file of the database (and an option of another
    service there), fail_cycles 2 and ``more``."""
    conf = tmp_path / "ceilometer_ha.conf"
    conf.write_text(
        f"[database]\nconnection = {table.engine.url}\nmax_pool_size = 5\n"
        "[health]\nfail_cycles = 2\n" + more
    )
    return manage.main(["status", "--config-file", str(conf)])


def test_config_file_supplies_database_and_health(table, tmp_path, capsys):
    table.host("cmp-1", {A: [0.0] * 10 + [1.0] * 2})
    table.host("cmp-2", {A: [0.0] * 10})
    code = _status_with_file(table, tmp_path, "")
    assert code == status.EXIT_FAILED
    assert "failed" in capsys.readouterr().out


def test_bad_health_value_is_an_error(tmp_path, capsys):
    conf = tmp_path / "ceilometer_ha.conf"
    conf.write_text("[health]\nfail_cycles = 0\n")
    code = manage.main(["status", "--config-file", str(conf)])
    assert code == status.EXIT_ERROR
    assert "fail_cycles" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text, said",
    [
        (
            "[helth]\nfail_cycles = 2\n",
            "[helth] is no group; probably a misspelt [health]",
        ),
        (
            "[health]\nfail_cylces = 2\n",
            "[health] fail_cylces: unknown option; did you mean fail_cycles?",
        ),
        ("[health]\nfailcount = 2\n", "[health] failcount: unknown option"),
        (
            "[database]\nconection = sqlite://\n",
            "[database] conection: unknown option; did you mean connection?",
        ),
    ],
)
def test_a_misspelt_name_is_an_error_not_a_default(
    table, tmp_path, capsys, text, said
):
    """The engine's thresholds would otherwise be the defaults, without
    a word."""
    table.host("cmp-1", {A: [0.0] * 10 + [1.0] * 2})
    conf = tmp_path / "ceilometer_ha.conf"
    conf.write_text(text)
    url = str(table.engine.url)
    code = manage.main(
        ["status", "--config-file", str(conf), "--database-url", url]
    )
    assert code == status.EXIT_ERROR
    assert said in capsys.readouterr().err


def test_a_group_in_another_case_and_a_deprecated_name_are_read(
    table, tmp_path, capsys
):
    """oslo.config reads [Health] as [health], and the project's
    options' deprecated names ([database] sql_connection) still."""
    table.host("cmp-1", {A: [0.0] * 10 + [1.0] * 2})
    conf = tmp_path / "ceilometer_ha.conf"
    conf.write_text(
        f"[Database]\nsql_connection = {table.engine.url}\n"
        "[Health]\nfail_cycles = 2\n"
    )
    code = manage.main(["status", "--config-file", str(conf)])
    assert code == status.EXIT_FAILED, capsys.readouterr().err


def test_other_services_options_of_a_shared_group_are_left_alone(
    table, tmp_path, capsys
):
    table.host("cmp-1", {A: [0.0] * 10})
    code = _status_with_file(table, tmp_path, "[api]\nport = 8777\n")
    assert code == status.EXIT_OK, capsys.readouterr().err


def test_one_host_is_shown_with_its_evidence_even_when_ok(table, capsys):
    table.host("cmp-1", {A: [0.0] * 10})
    table.host("cmp-2", {A: [0.0] * 10})
    code, out = run_status(table, capsys)
    assert code == status.EXIT_OK
    assert f"storage {A}" not in out.out
    code, out = run_status(table, capsys, "--host", "cmp-1")
    assert code == status.EXIT_OK
    assert f"storage {A}: loss 0%" in out.out


def test_watch_redraws_a_bounded_number_of_times(table, capsys):
    table.host("cmp-1", {A: [0.0] * 10})
    code, out = run_status(
        table, capsys, "--watch", "0.01", "--count", "3", "--format", "json"
    )
    documents = [json.loads(line) for line in out.out.splitlines()]
    assert code == status.EXIT_OK
    assert len(documents) == 3


def test_unknown_host_or_cluster_is_an_error(table, capsys):
    table.host("cmp-1", {A: [0.0] * 10})
    code, out = run_status(table, capsys, "--host", "cmp-9")
    assert code == status.EXIT_ERROR
    assert "host cmp-9: no such host" in out.err
    code, out = run_status(table, capsys, "--cluster", "nowhere")
    assert code == status.EXIT_ERROR
    assert (
        out.err == "ceilometer-ha status: cluster nowhere: no such cluster\n"
    )
    code, out = run_status(
        table, capsys, "--host", "cmp-1", "--cluster", "nowhere"
    )
    assert code == status.EXIT_ERROR
    assert out.err == (
        "ceilometer-ha status: host cmp-1 is in cluster rack-1, not nowhere\n"
    )


@pytest.mark.parametrize(
    ("option", "said"),
    [
        (("--host", "cmp-9"), "host cmp-9: no such host"),
        (("--cluster", "nowhere"), "cluster nowhere: no such cluster"),
    ],
    ids=["host", "cluster"],
)
def test_unknown_host_or_cluster_on_an_empty_database_is_an_error(
    table, capsys, option, said
):
    # A mistyped name, not a blind observer (exit 3, no_hosts).
    code, out = run_status(table, capsys, *option)
    assert code == status.EXIT_ERROR
    assert out.err == f"ceilometer-ha status: {said}\n"
    assert out.out == ""


@pytest.mark.parametrize(
    "option",
    [
        ("--watch", "-1"),
        ("--watch", "0"),
        ("--watch", "nan"),
        ("--watch", "1", "--count", "0"),
    ],
)
def test_watch_and_count_out_of_range_are_usage_errors(table, capsys, option):
    with pytest.raises(SystemExit) as exc:
        run_status(table, capsys, *option)
    assert exc.value.code == 2
    assert "must be" in capsys.readouterr().err


def test_a_sqlite_file_that_is_not_there_is_not_made(tmp_path, capsys):
    path = tmp_path / "mistyped.sqlite"
    code = manage.main(["status", "--database-url", f"sqlite:///{path}"])
    assert code == status.EXIT_ERROR
    assert capsys.readouterr().err == (
        f"ceilometer-ha status: database: SQLite database {path} does not "
        "exist\n"
    )
    assert not path.exists()


def test_a_database_driver_not_installed_is_an_error(monkeypatch, capsys):
    # Exit 1 would tell an HA engine that a host failed.
    monkeypatch.setitem(sys.modules, "MySQLdb", None)
    code = manage.main(
        ["status", "--database-url", "mysql+mysqldb://ha@127.0.0.1/ha"]
    )
    assert code == status.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith(
        "ceilometer-ha status: configuration: the database driver of the "
        "URL is not installed ("
    )
    assert err.count("\n") == 1


def test_a_sqlite_directory_the_reader_cannot_write_is_said(table, tmp_path):
    """In WAL mode a reader writes the -shm file beside the database:
    said as such, not as SQLite's "attempt to write a readonly
    database". Root without CAP_DAC_OVERRIDE keeps only the owner's
    bits."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop a capability")
    table.host("cmp-1", {A: [0.0] * 10})
    table.engine.dispose()
    directory = pathlib.Path(table.engine.url.database).parent
    directory.chmod(0o555)
    try:
        done = subprocess.run(
            [
                "setpriv",
                "--bounding-set=-dac_override,-dac_read_search",
                "--inh-caps=-dac_override,-dac_read_search",
                "--",
                sys.executable,
                "-m",
                "ceilometer_ha.cmd.manage",
                "status",
                "--database-url",
                str(table.engine.url),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        directory.chmod(0o755)
    assert done.returncode == status.EXIT_ERROR, done.stdout + done.stderr
    assert f"directory {directory} is not writable by root" in done.stderr
