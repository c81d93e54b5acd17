"""Collector CPU per sample, by process, at a fixed rate.

Where the two cores go when ``ceilometer-collector-ha`` ingests signed
samples: the real collector (one receiving process) is started from the
deployment notes' controller file, the ingest benchmark's sender sends
``--rate`` datagrams per second for ``--seconds`` over loopback, and the
CPU time (user and system, from ``/proc``) each process used while the
samples were sent and written is divided by the number of samples:

``receiver``
    the receiving process (event loop, decoding, the writer thread that
    hands batches over);
``writer``
    its database writer child (``storage/process_store.py``);
``database``
    the MariaDB server (only for ``mariadb``; other work it did in that
    time counts too);
``sender``
    this benchmark's own sending, which a real deployment does on the
    compute hosts.

The sum says how many samples per second two cores could take at best.
Prints one JSON document; ``--database sqlite`` or ``mariadb`` (from
CEILOMETER_HA_TEST_MYSQL_URL, default
mysql+pymysql://root@127.0.0.1:3306).
"""

import argparse
import json
import os
import pathlib
import resource
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import collector_ingest as ingest  # noqa: E402

from tests.functional import collector as helper  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def _children(pid):
    """Direct and indirect children of ``pid``, from /proc."""
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for task in pathlib.Path(f"/proc/{parent}/task").iterdir():
            path = task / "children"
            for child in path.read_text().split():
                found.append(int(child))
                frontier.append(int(child))
    return found


def _cpu_seconds(pid):
    """User and system seconds of ``pid``, or None if it is gone."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _command(pid):
    raw = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _database_pid():
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                name = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if name in ("mariadbd", "mysqld"):
                return int(entry.name)
    return None


def _own_cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(kind, rate, seconds, workdir):
    url, drop = ingest.fresh_database(kind, workdir)
    collector = helper.CollectorProcess(
        url,
        pathlib.Path(tempfile.mkdtemp(dir=workdir)),
        {"collector": {"workers": 1, "stats_interval": 0}},
    )
    collector.start()
    try:
        receiver = collector.proc.pid
        writers = [
            pid
            for pid in _children(receiver)
            if "resource_tracker" not in _command(pid)
        ]
        procs = {"receiver": [receiver], "writer": writers}
        if kind == "mariadb":
            procs["database"] = [_database_pid()]
        data = ingest.datagrams(int(rate * seconds))
        before = {k: [_cpu_seconds(p) for p in v] for k, v in procs.items()}
        rows_before = collector.count_rows()
        own = _own_cpu()
        started = time.monotonic()
        sent_rate = ingest.send_paced(collector.port, data, rate)
        own = _own_cpu() - own
        count, done_at = ingest.settle(collector, rows_before + len(data))
        after = {k: [_cpu_seconds(p) for p in v] for k, v in procs.items()}
    finally:
        collector.stop()
        drop()
    stored = count - rows_before
    per_sample = {
        name: round(
            sum(a - b for a, b in zip(after[name], before[name], strict=True))
            / len(data)
            * 1e6,
            2,
        )
        for name in procs
    }
    per_sample["sender"] = round(own / len(data) * 1e6, 2)
    total = sum(per_sample.values())
    return {
        "rate_per_s": rate,
        "sent_per_s": round(sent_rate),
        "samples": len(data),
        "stored": stored,
        "stored_per_s": round(stored / max(done_at - started, 1e-9)),
        "cpu_us_per_sample": per_sample,
        "cpu_us_per_sample_total": round(total, 2),
        "two_cores_at_best_per_s": round(2e6 / total),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database", choices=("sqlite", "mariadb"), action="append"
    )
    parser.add_argument("--rate", type=int, default=20000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    report = {
        "benchmark": "collector_cpu",
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    with tempfile.TemporaryDirectory() as workdir:
        for kind in args.database or ["sqlite", "mariadb"]:
            report[kind] = measure(kind, args.rate, args.seconds, workdir)
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
