"""Time to compute every verdict for 1,000 and 10,000 hosts x 5 meters.

Fills ``ha_latest`` (and ``ha_sample`` for the hosts whose hysteresis
needs history) directly with SQL, in SQLite and in MariaDB, then times
``ceilometer_ha.health.judge.judge`` (read + compute) several times and
reports the median. The baseline, measured in the same run on the same
data, is the naive read that a per-row design starts with: fetching every
``ha_latest`` row (before any rule runs).

Every host has a heartbeat, a hypervisor and one storage address with
reachable / loss / rtt. Two data sets: ``all_ok`` (every host healthy,
the steady state) and ``mix``: 97 % healthy, 1 % cut for 10
cycles (failed), 1 % cut for 1 cycle (degraded; history read), 0.5 %
hypervisor down, 0.5 % stale.

MariaDB comes from CEILOMETER_HA_TEST_MYSQL_URL (default
mysql+pymysql://root@127.0.0.1:3306); a database is created and dropped.

Run: python benchmarks/verdicts.py [--runs 7] [--sizes 1000,10000]
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
import uuid

import sqlalchemy as sa

from ceilometer_ha.health import judge
from ceilometer_ha.health import settings as health_settings
from ceilometer_ha.storage import engine as db_engine
from ceilometer_ha.storage import models

NOW = datetime.datetime(2026, 1, 1, 12, 0, 0)
SETTINGS = health_settings.HealthSettings()
# DESIGN.md's figure: a report of this many hosts from MariaDB within
# this many milliseconds.
TARGET_HOSTS = 10000
TARGET_MS = 100.0


def _row(host, meter, resource_id, volume, streak, age=0.2):
    at = NOW - datetime.timedelta(seconds=age)
    return {
        "host": host,
        "meter": meter,
        "resource_id": resource_id,
        "cluster": f"c{hash(host) % 10}",
        "message_id": uuid.uuid4().hex,
        "volume": volume,
        "unit": "",
        "timestamp": at,
        "recorded_at": at,
        "streak": streak,
        "since": at - datetime.timedelta(seconds=streak - 1),
        "resource_metadata": "{}",
    }


def host_rows(index: int, mix: bool) -> tuple[list[dict], list[dict]]:
    host = f"compute-{index:05d}"
    kind = index % 200 if mix else 100
    age = 30.0 if kind == 1 else 0.2
    cut = {2: 10, 3: 10, 4: 1, 5: 1}.get(kind, 0)
    addr = f"{host}-198.51.100.2"
    latest = [
        _row(host, "ha.heartbeat", host, 1, 500, age),
        _row(host, "ha.hypervisor.up", host, 0 if kind == 6 else 1, 500, age),
        _row(
            host,
            "ha.storage.reachable",
            addr,
            0 if cut else 1,
            cut or 500,
            age,
        ),
        _row(
            host, "ha.storage.loss", addr, 1.0 if cut else 0.0, cut or 500, age
        ),
        _row(host, "ha.storage.rtt", addr, 0.3, 1, age),
    ]
    history = []
    if cut == 1:
        for back in range(SETTINGS.history_cycles):
            row = _row(
                host,
                "ha.storage.loss",
                addr,
                1.0 if back == 0 else 0.0,
                1,
                back + 0.2,
            )
            del row["streak"], row["since"]
            row["source"] = "bench"
            history.append(row)
    return latest, history


def fill(engine: sa.Engine, hosts: int, mix: bool) -> None:
    models.metadata.drop_all(engine)
    models.metadata.create_all(engine)
    latest, samples = [], []
    for index in range(hosts):
        rows, history = host_rows(index, mix)
        latest += rows
        samples += history
    with engine.begin() as conn:
        for start in range(0, len(latest), 5000):
            conn.execute(models.latest.insert(), latest[start : start + 5000])
        if samples:
            conn.execute(models.sample.insert(), samples)
    if engine.dialect.name == "mysql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE TABLE ha_latest, ha_sample")


def timed(func, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def measure(engine: sa.Engine, hosts: int, runs: int, mix: bool) -> dict:
    fill(engine, hosts, mix)
    report = judge.judge(engine, SETTINGS, now=NOW)

    def naive_read():
        with engine.connect() as conn:
            conn.execute(sa.select(models.latest)).fetchall()

    return {
        "hosts": hosts,
        "data": "mix" if mix else "all_ok",
        "rows": hosts * 5,
        "verdicts_ms_median": timed(
            lambda: judge.judge(engine, SETTINGS, now=NOW), runs
        ),
        "baseline_fetch_all_rows_ms_median": timed(naive_read, runs),
        "counts": report.counts(),
    }


def mysql_engine() -> tuple[sa.Engine, str, str] | None:
    server = os.environ.get(
        "CEILOMETER_HA_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306"
    )
    name = f"ceilometer_ha_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = db_engine.create_engine(server)
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError:
        return None
    url = f"{server.rstrip('/')}/{name}?charset=utf8mb4"
    return db_engine.create_engine(url), server, name


def meets_target(mariadb: list | str) -> bool | None:
    """Every MariaDB median at 10,000 hosts within the target; None if
    that size was not measured."""
    medians = [
        row["verdicts_ms_median"]
        for row in (mariadb if isinstance(mariadb, list) else [])
        if row["hosts"] == TARGET_HOSTS
    ]
    if not medians:
        return None
    return max(medians) <= TARGET_MS


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default="1000,10000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict = {
        "target": "<= 100 ms at 10,000 hosts from MariaDB",
        "runs": args.runs,
        "sqlite": [],
        "mariadb": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        lite = db_engine.create_engine(f"sqlite:///{tmp}/bench.sqlite")
        results["sqlite"] = [
            measure(lite, n, args.runs, mix)
            for n in sizes
            for mix in (False, True)
        ]
        lite.dispose()
    made = mysql_engine()
    if made is None:
        results["mariadb"] = "skipped: server unreachable"
    else:
        engine, server, name = made
        try:
            results["mariadb"] = [
                measure(engine, n, args.runs, mix)
                for n in sizes
                for mix in (False, True)
            ]
        finally:
            engine.dispose()
            with db_engine.create_engine(server).begin() as conn:
                conn.exec_driver_sql(f"DROP DATABASE {name}")
    results["meets_target"] = meets_target(results["mariadb"])
    json.dump(results, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
