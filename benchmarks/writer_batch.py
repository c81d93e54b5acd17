"""The writer process's work per sample: batches against one per commit.

In process, on SQLite: ``--batches`` batches of 2,000 signed samples,
as they cross the pipe to the collector's writer process
(``child_protocol.encode_batch``), each decoded there and written by
``SampleStore.write_batch`` in one transaction; then, in the same run
and database, ``--rows`` samples crossing and written one per
transaction. Prints JSON: CPU time of this process and wall time, in
microseconds per sample, for each.

CPU time still moves with the machine and what else runs on it. For a
count that repeats exactly, run it under callgrind with and without
``--prepare-only`` (everything but the writes) and divide the
difference in instructions by the samples written::

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        python benchmarks/writer_batch.py --batches 4 --rows 0
    # the same with --prepare-only added; (Ir - Ir_prepare) / 8000
"""

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import collector_ingest  # noqa: E402

from ceilometer_ha import signing  # noqa: E402
from ceilometer_ha import wire  # noqa: E402
from ceilometer_ha.storage import child_protocol  # noqa: E402
from ceilometer_ha.storage import engine as engine_mod  # noqa: E402
from ceilometer_ha.storage import migration  # noqa: E402
from ceilometer_ha.storage import store as store_mod  # noqa: E402
from tests.functional import collector as helper  # noqa: E402

BATCH = collector_ingest.BATCH


def _timed(store, payloads, samples):
    cpu, wall = time.process_time(), time.perf_counter()
    for payload in payloads:
        store.write_batch(child_protocol.decode_batch(payload))
    return {
        "samples": samples,
        "cpu_us_per_sample": round(
            (time.process_time() - cpu) / max(samples, 1) * 1e6, 2
        ),
        "wall_us_per_sample": round(
            (time.perf_counter() - wall) / max(samples, 1) * 1e6, 2
        ),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument(
        "--prepare-only",
        action="store_true",
        help="everything but the writes (the callgrind baseline)",
    )
    args = parser.parse_args()
    decoder = wire.DatagramDecoder(
        signing.Signer(helper.SEED_SECRET), 16384, 300
    )
    total = args.batches * BATCH + args.rows
    records = [decoder.decode(d) for d in collector_ingest.datagrams(total)]
    batched = records[: args.batches * BATCH]
    batches, singles = collector_ingest.pipe_payloads(
        batched, records[len(batched) :]
    )
    with tempfile.TemporaryDirectory() as workdir:
        engine = engine_mod.create_engine(f"sqlite:///{workdir}/w.sqlite")
        migration.upgrade(engine)
        store = store_mod.SampleStore(engine)
        report = {
            "benchmark": "writer_batch",
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        }
        if args.prepare_only:
            report["prepared_only"] = len(batched) + len(singles)
        else:
            report["batched"] = _timed(store, batches, len(batched))
            report["per_row_commit"] = _timed(store, singles, len(singles))
        engine.dispose()
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
