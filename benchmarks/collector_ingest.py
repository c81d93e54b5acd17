"""Collector ingest: signed samples per second, zero loss, SQLite and MariaDB.

Two figures per database, each beside its baseline from the same run:

``pipeline``
    in-process, no sockets: ``DatagramDecoder.decode`` (msgpack unpack,
    HMAC verify, validation) of datagrams made by ceilometer's own
    ``meter_message_from_counter`` + ``msgpack.dumps``, then
    ``SampleStore.write_batch`` in batches of 2,000 (one transaction per
    batch), against the same decode with one transaction per sample; and
    the two writers alone, as the collector's writer process runs them:
    from the batches (of 2,000, or of one) that cross the pipe to it
    (``child_protocol``), decoded there and written. Every run writes
    into a database already holding ``--prefill`` samples of the same
    hosts, as a collector's database does once it has run for a while;
    on SQLite each run starts with an empty WAL and its time includes
    copying back the pages it wrote (a checkpoint). Last, the TTL
    expiry (``storage.expiry``, the collector's batch size) deletes the
    oldest prefilled samples, as many as a batched run wrote: in a
    database at its TTL it deletes as many samples as arrive.
``udp``
    end to end: the real ``ceilometer-collector-ha`` process, datagrams
    sent over loopback UDP by a paced sender in this process; the rate
    rises step by step until a step loses datagrams. ``zero_loss_per_s``
    is, over the lossless steps, the highest of min(sent rate, rows
    stored per second from the first datagram sent to the last row
    written), so a queue that only catches up later does not count as
    sustained. Sender, collector and database share the machine's cores.

Prints one JSON document. MariaDB comes from CEILOMETER_HA_TEST_MYSQL_URL
(default mysql+pymysql://root@127.0.0.1:3306); it is skipped, and said
so, when unreachable.
"""

import argparse
import datetime
import json
import os
import pathlib
import socket
import sys
import tempfile
import time
import typing

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ceilometer.publisher import utils  # noqa: E402
import msgpack  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from ceilometer_ha import heap  # noqa: E402
from ceilometer_ha import opts  # noqa: E402
from ceilometer_ha import signing  # noqa: E402
from ceilometer_ha import wire  # noqa: E402
from ceilometer_ha.storage import child_protocol  # noqa: E402
from ceilometer_ha.storage import engine as engine_mod  # noqa: E402
from ceilometer_ha.storage import expiry  # noqa: E402
from ceilometer_ha.storage import migration  # noqa: E402
from ceilometer_ha.storage import store as store_mod  # noqa: E402
from tests import conftest  # noqa: E402
from tests.functional import collector as helper  # noqa: E402

BATCH = 2000
HOSTS = 500
METERS = ("ha.storage.reachable", "ha.storage.loss")
# Samples of one host's polling cycle: both meters for 7 addresses.
PER_HOST = 2 * 7
# Sending sockets (source ports), standing for that many compute hosts.
SOURCES = 16
# DESIGN.md's figures: samples/s sustained with zero loss, and the
# batched writer against the per-row-commit writer.
RATE_TARGETS = {"sqlite": 60000, "mariadb": 30000}
RATIO_TARGET = 20


def datagrams(count, start=0):
    """Signed datagrams as ceilometer's UDPPublisher sends them.

    Host after host, each sending its PER_HOST samples (two meters for
    each of seven storage addresses) back to back, as the compute
    side's notifier publishes a polling cycle. Timestamps rise by 1 µs
    from one datagram to the next, the last just before now, so that
    every sample is newer than the one stored for its (host, meter,
    resource) and moves its ``ha_latest`` row, as each polling cycle of
    a compute host does.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    out = []
    for i in range(start, start + count):
        cycle, k = divmod(i, PER_HOST)
        host = f"compute-{cycle % HOSTS}"
        smp = helper.make_sample(
            host=host,
            name=METERS[k % len(METERS)],
            volume=int(i % 3 == 0),
            resource_id=f"{host}-198.51.100.{k // len(METERS)}",
            timestamp=now - datetime.timedelta(microseconds=start + count - i),
        )
        msg = utils.meter_message_from_counter(smp, helper.SEED_SECRET)
        out.append(msgpack.dumps(msg, use_bin_type=True))
    return out


def fresh_database(kind, workdir):
    if kind == "sqlite":
        path = pathlib.Path(tempfile.mkdtemp(dir=workdir)) / "bench.sqlite"
        return f"sqlite:///{path}", lambda: None
    server = (
        conftest.mysql_server_url() or "mysql+pymysql://root@127.0.0.1:3306"
    )
    url = conftest.create_mysql_database(server)
    return url, lambda: conftest.drop_mysql_database(server, url)


def _checkpoint(engine):
    """SQLite: copy the WAL back into the database file and empty it."""
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _timed(func, engine):
    """``func()`` and the seconds it took.

    On SQLite the WAL is emptied before the clock starts and copied back
    before it stops, so that each run pays for the pages it wrote and
    for none that an earlier run left.
    """
    _checkpoint(engine)
    started = time.perf_counter()
    result = func()
    _checkpoint(engine)
    return result, time.perf_counter() - started


def _rate(count, func, engine):
    """Samples per second of ``func``, which handles ``count`` samples."""
    _, seconds = _timed(func, engine)
    return count / seconds


def _expiry(engine, cutoff):
    """Time the TTL expiry of the rows recorded before ``cutoff``, as
    the collector runs it (``[collector] expiry_batch_size``'s default)."""
    defaults = {opt.name: opt.default for opt in opts.COLLECTOR_OPTS}
    batch_size = defaults["expiry_batch_size"]
    deleted, seconds = _timed(
        lambda: expiry.expire(engine, cutoff, batch_size)["ha_sample"], engine
    )
    return {
        "deleted_samples": deleted,
        "batch_size": batch_size,
        "us_per_deleted_sample": round(seconds / max(deleted, 1) * 1e6, 2),
    }


def pipe_payloads(batched, singles):
    """``batched`` in batches of BATCH, and ``singles`` one by one, as
    they cross the pipe to the collector's writer process."""
    batches = [
        child_protocol.encode_batch(batched[i : i + BATCH])
        for i in range(0, len(batched), BATCH)
    ]
    return batches, [child_protocol.encode_batch([r]) for r in singles]


class PipelineData(typing.NamedTuple):
    """Datagrams for ``pipeline``, made in the order it writes them, so
    that every sample is newer than what the earlier ones stored."""

    fill: list
    writer_per_row: list
    writer_batched: list
    per_row: list
    batched: list

    @classmethod
    def make(cls, fill, per_row, batched):
        return cls(
            datagrams(fill),
            datagrams(per_row),
            datagrams(batched),
            datagrams(per_row),
            datagrams(batched),
        )


def pipeline(url, data):
    """Decode + write in-process; and the writers alone on decoded records.

    Every run writes its own samples into one database that already
    holds ``data.fill`` samples of the same hosts (every ``ha_latest``
    row present, the history index spread over many pages), as a
    collector's database does once it has run for a while. Each per-row
    run goes first, so every batched run meets a slightly larger
    database than the per-row run it is compared with.
    """
    engine = engine_mod.create_engine(url)
    migration.upgrade(engine)
    store = store_mod.SampleStore(engine)
    decoder = wire.DatagramDecoder(
        signing.Signer(helper.SEED_SECRET), 16384, 300
    )

    def decoded(datagrams_):
        return [decoder.decode(d) for d in datagrams_]

    fill = decoded(data.fill)
    for i in range(0, len(fill), BATCH):
        store.write_batch(fill[i : i + BATCH])
    # The oldest of the fill, as many as a batched run writes, expire
    # at the end: in a database at its TTL the expiry deletes as many
    # samples as arrive.
    expire_before = (
        fill[len(data.batched)].recorded_at
        if len(fill) > len(data.batched)
        else None
    )
    del fill
    batches, _ = pipe_payloads(decoded(data.writer_batched), [])
    _, singles = pipe_payloads([], decoded(data.writer_per_row))

    def batched():
        d = data.batched
        for i in range(0, len(d), BATCH):
            store.write_batch([decoder.decode(x) for x in d[i : i + BATCH]])

    def per_row():
        for d in data.per_row:
            store.write_batch([decoder.decode(d)])

    def writer(payloads):
        for payload in payloads:
            store.write_batch(child_protocol.decode_batch(payload))

    decode_only = _rate(
        len(data.batched), lambda: decoded(data.batched), engine
    )
    writer_per_row = _rate(len(singles), lambda: writer(singles), engine)
    writer_batched = _rate(
        len(data.writer_batched), lambda: writer(batches), engine
    )
    full_per_row = _rate(len(data.per_row), per_row, engine)
    full = _rate(len(data.batched), batched, engine)
    expired = _expiry(engine, expire_before) if expire_before else None
    engine.dispose()
    return {
        "prefilled_samples": len(data.fill),
        "ttl_expiry": expired,
        "decode_verify_validate_per_s": round(decode_only),
        "decode_and_batched_write_per_s": round(full),
        "decode_and_per_row_commit_per_s": round(full_per_row),
        "ratio_with_decode": round(full / full_per_row, 1),
        "batched_writer_per_s": round(writer_batched),
        "per_row_commit_writer_per_s": round(writer_per_row),
        "ratio_writers": round(writer_batched / writer_per_row, 1),
        "samples": len(data.batched),
        "per_row_samples": len(data.per_row),
    }


def send_paced(port, data, rate, sources=SOURCES):
    """Send ``data`` at ``rate`` per second in 5 ms slices.

    From ``sources`` sockets in turn, each run of PER_HOST datagrams
    (a host's cycle, as ``datagrams`` makes them) from one socket, as
    several compute hosts would: with SO_REUSEPORT the kernel picks a
    worker per source address and port, so one socket would feed one
    worker only.
    """
    slice_s = 0.005
    per_slice = max(1, int(rate * slice_s))
    socks = [
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for _ in range(sources)
    ]
    sends = [sock.sendto for sock in socks]
    target = ("127.0.0.1", port)
    try:
        started = time.perf_counter()
        for n, i in enumerate(range(0, len(data), per_slice)):
            for j, d in enumerate(data[i : i + per_slice], i):
                sends[j // PER_HOST % sources](d, target)
            ahead = started + (n + 1) * slice_s - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
        return len(data) / (time.perf_counter() - started)
    finally:
        for sock in socks:
            sock.close()


def settle(collector, expected, timeout=60.0):
    """Wait for ``expected`` rows (or 3 s without progress).

    Returns the row count and the monotonic time the last rows appeared.
    """
    deadline = time.monotonic() + timeout
    last, changed_at = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = collector.count_rows()
        if count != last:
            last, changed_at = count, time.monotonic()
        if count >= expected or time.monotonic() - changed_at > 3.0:
            break
        time.sleep(0.05)
    return last, changed_at


def udp(url, workdir, rates, seconds, workers):
    collector = helper.CollectorProcess(
        url,
        pathlib.Path(tempfile.mkdtemp(dir=workdir)),
        {"collector": {"workers": workers, "stats_interval": 0}},
    )
    collector.start()
    steps, best, offset = [], 0, 0
    try:
        for rate in rates:
            data = datagrams(int(rate * seconds), offset)
            offset += len(data)
            before = collector.count_rows()
            started = time.monotonic()
            achieved = send_paced(collector.port, data, rate)
            count, done_at = settle(collector, before + len(data))
            stored = count - before
            lost = len(data) - stored
            # Stored per second from the first datagram sent to the last
            # row written: what the collector sustained, queue included.
            stored_rate = stored / max(done_at - started, 1e-9)
            steps.append(
                {
                    "target_per_s": rate,
                    "sent_per_s": round(achieved),
                    "sent": len(data),
                    "stored": stored,
                    "lost": lost,
                    "stored_per_s": round(stored_rate),
                }
            )
            if lost:
                break
            best = max(best, round(min(achieved, stored_rate)))
    finally:
        collector.stop()
    return {"zero_loss_per_s": best, "workers": workers, "steps": steps}


def _not_shown(target: float) -> dict:
    return {"target": target, "measured": None, "met": None}


def _at_least(measured: float, target: float) -> dict:
    return {"target": target, "measured": measured, "met": measured >= target}


def verdicts(report: dict) -> dict:
    """Every target this run measured: the figure, and whether it met it."""
    found = {}
    for kind, target in RATE_TARGETS.items():
        result = report.get(kind, {})
        if "skipped" in result:  # no database: neither figure shown
            found[f"{kind}_zero_loss_per_s"] = _not_shown(target)
            found[f"{kind}_writer_ratio"] = _not_shown(RATIO_TARGET)
            continue
        if "udp" in result:
            found[f"{kind}_zero_loss_per_s"] = _at_least(
                result["udp"]["zero_loss_per_s"], target
            )
        if "pipeline" in result:
            found[f"{kind}_writer_ratio"] = _at_least(
                result["pipeline"]["ratio_writers"], RATIO_TARGET
            )
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40000)
    parser.add_argument(
        "--prefill",
        type=int,
        default=200000,
        help="samples in the database before the in-process runs",
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--rates",
        default="5000,10000,15000,20000,25000,30000,40000,50000,60000,"
        "70000,80000",
    )
    parser.add_argument(
        "--skip-udp",
        action="store_true",
        help="the in-process figures only",
    )
    args = parser.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    report = {
        "benchmark": "collector_ingest",
        "cpus": os.cpu_count(),
        # Other work on the machine colours every figure: say how much.
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "targets": {
            "sqlite_per_s": RATE_TARGETS["sqlite"],
            "mariadb_per_s": RATE_TARGETS["mariadb"],
            "ratio": RATIO_TARGET,
        },
    }
    with tempfile.TemporaryDirectory() as workdir:
        for kind, per_row in (("sqlite", 2000), ("mariadb", 1000)):
            try:
                url, drop = fresh_database(kind, workdir)
            except sa.exc.OperationalError as exc:
                report[kind] = {"skipped": str(exc).splitlines()[0]}
                continue
            data = PipelineData.make(args.prefill, per_row, args.samples)
            # As the collector's writer process freezes its start-up
            # heap, so that full collections do not walk it (here: the
            # datagrams made above).
            heap.freeze_startup_heap()
            try:
                result = {"pipeline": pipeline(url, data)}
            finally:
                drop()
            del data
            if args.skip_udp:
                report[kind] = result
                continue
            url, drop = fresh_database(kind, workdir)
            try:
                result["udp"] = udp(
                    url, workdir, rates, args.seconds, args.workers
                )
            finally:
                drop()
            report[kind] = result
    report["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["verdicts"] = verdicts(report)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
