"""Where the SQLite writer's time goes, phase by phase, and its floor.

In process, into a SQLite database already holding ``--prefill``
samples of the same hosts (as ``collector_ingest.py`` writes): first
``--rows`` samples written one per transaction (the per-row baseline),
then ``--batches`` batches of 2,000 as they cross the pipe to the
collector's writer process, each decoded there and written by
``SampleStore``. Each run starts with an empty WAL and its time
includes its own checkpoint.

For the batched run, microseconds per sample of each phase:

``pipe_decode``
    ``child_protocol.decode_batch``;
``build_rows``
    ``SampleStore.prepare`` (the rows: times as text; the metadata is
    JSON text from the decoder already);
``insert``, ``upsert``, ``highest_rowid``
    the statements of ``SampleStore.execute``, timed by SQLAlchemy's
    cursor events;
``transaction``
    the rest of ``execute``: connection, BEGIN, COMMIT (the WAL write,
    and a checkpoint whenever the WAL reaches its limit);
``final_checkpoint``
    copying back what the run left in the WAL.

``floor`` is what a batched writer pays before any key, index, upsert
or commit: the same rows bound by ``executemany`` into a table of the
same columns, without key or index, in memory. With the decoding and
building it must do too, it bounds the ratio any batched writer of
these rows could reach against the per-row writer
(``ratio_ceiling``).

Prints one JSON document.
"""

import argparse
import json
import os
import pathlib
import sqlite3
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import collector_ingest as ingest  # noqa: E402
from sqlalchemy import event  # noqa: E402

from ceilometer_ha import heap  # noqa: E402
from ceilometer_ha import signing  # noqa: E402
from ceilometer_ha import wire  # noqa: E402
from ceilometer_ha.storage import child_protocol  # noqa: E402
from ceilometer_ha.storage import engine as engine_mod  # noqa: E402
from ceilometer_ha.storage import migration  # noqa: E402
from ceilometer_ha.storage import rows as rows_mod  # noqa: E402
from ceilometer_ha.storage import store as store_mod  # noqa: E402
from tests.functional import collector as helper  # noqa: E402

BATCH = ingest.BATCH
# Statement kinds, by how their SQL starts.
_KINDS = (
    ("INSERT INTO ha_sample", "insert"),
    ("INSERT INTO ha_latest", "upsert"),
    ("SELECT max(rowid)", "highest_rowid"),
)


class StatementClock:
    """Seconds spent in each kind of statement, from cursor events."""

    def __init__(self, engine):
        self.engine = engine
        self.seconds = dict.fromkeys((kind for _, kind in _KINDS), 0.0)
        self._started = 0.0

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, *args):
        self._started = time.perf_counter()

    def _after(self, conn, cursor, statement, *args):
        elapsed = time.perf_counter() - self._started
        for prefix, kind in _KINDS:
            if statement.startswith(prefix):
                self.seconds[kind] += elapsed
                return
        raise AssertionError(f"unexpected statement {statement[:40]!r}")


def batched_phases(engine, store, payloads, samples):
    """Microseconds per sample of each phase of the batched writer."""
    spent = dict.fromkeys(("pipe_decode", "build_rows", "execute"), 0.0)
    clock = time.perf_counter
    ingest._checkpoint(engine)
    with StatementClock(engine) as statements:
        for payload in payloads:
            started = clock()
            records = child_protocol.decode_batch(payload)
            decoded = clock()
            prepared = store.prepare(records)
            built = clock()
            store.execute(prepared)
            spent["pipe_decode"] += decoded - started
            spent["build_rows"] += built - decoded
            spent["execute"] += clock() - built
    started = clock()
    ingest._checkpoint(engine)
    spent["final_checkpoint"] = clock() - started
    phases = {
        "pipe_decode": spent["pipe_decode"],
        "build_rows": spent["build_rows"],
        **statements.seconds,
        "transaction": spent["execute"] - sum(statements.seconds.values()),
        "final_checkpoint": spent["final_checkpoint"],
    }
    per_sample = {k: round(v / samples * 1e6, 2) for k, v in phases.items()}
    per_sample["total"] = round(sum(phases.values()) / samples * 1e6, 2)
    return per_sample


def floor(store, payloads, samples):
    """Microseconds per sample to bind the rows into a bare table."""
    rows = [
        store.prepare(child_protocol.decode_batch(payload)).rows
        for payload in payloads
    ]
    # Our own column names, no outside text.
    columns = ", ".join(rows_mod.LAYOUT)
    marks = ", ".join("?" * len(rows_mod.LAYOUT))
    insert = f"INSERT INTO bare VALUES ({marks})"  # noqa: S608
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute(f"CREATE TABLE bare ({columns})")
        started = time.perf_counter()
        for batch in rows:
            conn.executemany(insert, batch)
        conn.commit()
        seconds = time.perf_counter() - started
    finally:
        conn.close()
    return round(seconds / samples * 1e6, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefill", type=int, default=200000)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()
    decoder = wire.DatagramDecoder(
        signing.Signer(helper.SEED_SECRET), 16384, 300
    )
    batched = args.batches * BATCH
    data = ingest.datagrams(args.prefill + args.rows + batched)
    records = [decoder.decode(d) for d in data]
    del data
    fill = records[: args.prefill]
    batches, singles = ingest.pipe_payloads(
        records[args.prefill + args.rows :],
        records[args.prefill : args.prefill + args.rows],
    )
    del records
    heap.freeze_startup_heap()
    report = {
        "benchmark": "writer_phases",
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "prefilled_samples": len(fill),
        "batched_samples": batched,
        "per_row_samples": len(singles),
    }
    with tempfile.TemporaryDirectory() as workdir:
        engine = engine_mod.create_engine(f"sqlite:///{workdir}/p.sqlite")
        migration.upgrade(engine)
        store = store_mod.SampleStore(engine)
        for i in range(0, len(fill), BATCH):
            store.write_batch(fill[i : i + BATCH])
        del fill

        def per_row():
            for payload in singles:
                store.write_batch(child_protocol.decode_batch(payload))

        _, seconds = ingest._timed(per_row, engine)
        per_row_us = seconds / max(len(singles), 1) * 1e6
        phases = batched_phases(engine, store, batches, batched)
        bare = floor(store, batches, batched)
        engine.dispose()
    least = phases["pipe_decode"] + phases["build_rows"] + bare
    report.update(
        {
            "per_row_us_per_sample": round(per_row_us, 2),
            "batched_us_per_sample": phases,
            "ratio": round(per_row_us / phases["total"], 1),
            "floor_bare_insert_us_per_sample": bare,
            "floor_with_decode_and_build_us_per_sample": round(least, 2),
            "ratio_ceiling": round(per_row_us / least, 1),
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        }
    )
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
