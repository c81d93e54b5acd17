"""Two real collectors writing one database at once, as deployed.

Every compute host publishes each sample to both controllers'
collectors, which write into one database (doc/schema.rst, "Semantics
the writer guarantees"). Here two ``ceilometer-collector-ha`` processes
share one SQLite file or one MariaDB database, and ceilometer's own
``UDPPublisher`` sends every sample to both, interleaved in small
chunks, so that both writers insert and upsert the same samples at the
same time. Each sample must be stored once, ``ha_latest`` must hold the
newest sample of every key with the ``streak`` and ``since`` of the
volumes sent (computed here independently), and neither collector may
lose a sample. Failed writes (deadlocks, lock waits, a busy SQLite
file) are retried by the collector: they are counted and printed, not
refused.
"""

import collections
import contextlib
import datetime
import random
import re

import pytest
import sqlalchemy as sa

from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import models
from tests.functional import collector as helper

HOSTS = 200
METERS = (
    "ha.storage.reachable",
    "ha.storage.loss",
    "ha.management.reachable",
    "ha.tenant.rtt",
)
CYCLES = 20
CYCLE_SECONDS = 2
# 16,000 samples, 32,000 datagrams.
TOTAL = HOSTS * len(METERS) * CYCLES
# Samples sent to one collector, then the same to the other.
CHUNK = 25
# Cycles sent ahead of those stored: bounds the datagrams waiting in
# the kernel's receive buffers without letting the writers run dry.
LAG_CYCLES = 5
# [collector] batch_size of each collector: the default of the seed
# file for both, or batches of the second ending elsewhere than those
# of the first (many small transactions, each overlapping two of the
# other's).
BATCH_SIZES = {"seed": (None, None), "misaligned": (None, 300)}
STATS = re.compile(
    r"received=(?P<received>\d+) stored=(?P<stored>\d+) "
    r"duplicates=(?P<duplicates>\d+) queued=(?P<queued>\d+) "
    r"dropped=(?P<dropped>\d+) unstorable=(?P<unstorable>\d+) "
    r"kernel_dropped=(?P<kernel_dropped>\d+) "
    r"write_failures=(?P<write_failures>\d+) rejected: (?P<rejected>.*)$",
    re.MULTILINE,
)
WRITE_FAILED = re.compile(
    r"Database write of \d+ samples failed \((?P<reason>.*?)\); "
)


def _volumes(index: int, rng: random.Random) -> list[float]:
    """The volumes of one key over the cycles; four kinds of keys."""
    kind = index % 4
    if kind == 0:  # never changes: streak CYCLES
        return [1.0] * CYCLES
    if kind == 1:  # changes every cycle: streak 1
        return [float(c % 2) for c in range(CYCLES)]
    if kind == 2:  # one step halfway
        return [1.0 if c < CYCLES // 2 else 0.0 for c in range(CYCLES)]
    volumes = [1.0]
    for _ in range(CYCLES - 1):
        flip = rng.random() < 0.3
        volumes.append(1.0 - volumes[-1] if flip else volumes[-1])
    return volumes


def _expected(volumes, stamps):
    """(volume, streak, since) after the samples one by one."""
    streak, since = 0, None
    for index, volume in enumerate(volumes):
        if index and volume == volumes[index - 1]:
            streak += 1
        else:
            streak, since = 1, stamps[index]
    return volumes[-1], streak, since


def _traffic():
    """Samples by cycle, and per key what ``ha_latest`` must hold."""
    rng = random.Random(20261122)
    now = datetime.datetime.now(datetime.timezone.utc)
    # Well inside the collectors' freshness window (300 s) throughout.
    base = now.replace(tzinfo=None) - datetime.timedelta(seconds=150)
    cycles: list[list] = [[] for _ in range(CYCLES)]
    expected = {}
    index = 0
    for host_number in range(HOSTS):
        host = f"compute-{host_number}"
        for meter in METERS:
            resource_id = f"{host}-{meter.split('.')[1]}"
            volumes = _volumes(index, rng)
            stamps = [
                base
                # The meters of a host share a time: ties in the
                # order in which a batch applies to ha_latest.
                + datetime.timedelta(
                    seconds=c * CYCLE_SECONDS, microseconds=host_number + 1
                )
                for c in range(CYCLES)
            ]
            samples = [
                helper.make_sample(
                    host=host,
                    name=meter,
                    volume=volumes[c],
                    resource_id=resource_id,
                    cluster=f"rack-{host_number % 3}",
                    timestamp=stamps[c].replace(tzinfo=datetime.timezone.utc),
                )
                for c in range(CYCLES)
            ]
            for c, sample in enumerate(samples):
                cycles[c].append(sample)
            volume, streak, since = _expected(volumes, stamps)
            expected[(host, meter, resource_id)] = {
                "message_id": samples[-1].id,
                "volume": volume,
                "timestamp": stamps[-1],
                "streak": streak,
                "since": since,
            }
            index += 1
    return cycles, expected


def _stats(collector) -> dict:
    """The collector's last stats line, as numbers (empty: none yet)."""
    found = list(STATS.finditer(collector.log_text()))
    if not found:
        return {}
    last = found[-1].groupdict()
    rejected = dict(
        item.split("=", 1) for item in last.pop("rejected").split()
    )
    out = {name: int(value) for name, value in last.items()}
    out["rejected"] = sum(int(value) for value in rejected.values())
    return out


def _write_failures(collector) -> collections.Counter:
    """The reasons of the failed (and retried) writes it logged."""
    return collections.Counter(
        match["reason"][:120]
        for match in WRITE_FAILED.finditer(collector.log_text())
    )


def _all_received(collector) -> bool:
    stats = _stats(collector)
    return bool(stats and stats["received"] >= TOTAL and not stats["queued"])


def _send(publishers, cycles, database_url) -> None:
    """Every sample to both collectors, chunk by chunk, alternating who
    gets a chunk first; at most ``LAG_CYCLES`` cycles ahead of storage."""
    per_cycle = len(cycles[0])
    for number, cycle in enumerate(cycles):
        stored_before = per_cycle * (number - LAG_CYCLES + 1)
        if stored_before > 0:
            helper.wait_until(
                lambda n=stored_before: helper.count_rows(database_url) >= n,
                60,
                f"cycle {number - LAG_CYCLES} to be stored",
                poll=0.05,
            )
        for start in range(0, per_cycle, CHUNK):
            chunk = cycle[start : start + CHUNK]
            order = publishers if start // CHUNK % 2 else publishers[::-1]
            for publisher in order:
                publisher.publish_samples(chunk)


def _stored_ids(database_url):
    engine = engine_mod.create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.select(
                    models.sample.c.message_id, sa.func.count()
                ).group_by(models.sample.c.message_id)
            ).all()
            latest = conn.execute(sa.select(models.latest)).mappings().all()
    finally:
        engine.dispose()
    counts = {message_id: count for message_id, count in rows}
    by_key = {
        (r["host"], r["meter"], r["resource_id"]): dict(r) for r in latest
    }
    return counts, by_key


def _differences(expected, latest) -> list[str]:
    out = []
    for key, want in expected.items():
        row = latest.get(key)
        if row is None:
            out.append(f"{key}: no ha_latest row")
            continue
        got = {name: row[name] for name in want}
        if got != want:
            out.append(f"{key}: expected {want}, stored {got}")
    out += [f"{key}: unexpected row" for key in set(latest) - set(expected)]
    return out


def _options(batch_size: int | None) -> dict[str, dict[str, object]]:
    """The overlay: counters logged every second, maybe a batch size."""
    collector: dict[str, object] = {"stats_interval": 1}
    if batch_size is not None:
        collector["batch_size"] = batch_size
    return {"collector": collector}


@pytest.mark.parametrize("batches", sorted(BATCH_SIZES))
def test_two_collectors_write_one_database_at_once(
    database_url, tmp_path, batches
):
    cycles, expected = _traffic()
    sent_ids = {sample.id for cycle in cycles for sample in cycle}
    assert len(sent_ids) == TOTAL
    size_a, size_b = BATCH_SIZES[batches]
    first = helper.CollectorProcess(
        database_url, tmp_path / "a", _options(size_a)
    )
    second = helper.CollectorProcess(
        database_url, tmp_path / "b", _options(size_b), run_dbsync=False
    )
    collectors = (first, second)
    with contextlib.ExitStack() as stack:
        for collector in collectors:
            stack.enter_context(collector)
        publishers = [
            helper.ceilometer_publisher("127.0.0.1", c.port)
            for c in collectors
        ]
        _send(publishers, cycles, database_url)
        helper.wait_until(
            lambda: helper.count_rows(database_url) >= TOTAL,
            120,
            f"{TOTAL} samples stored",
            poll=0.1,
        )
        for name, collector in zip("ab", collectors, strict=True):
            helper.wait_until(
                lambda c=collector: _all_received(c) or not c.running(),
                60,
                f"collector {name} to receive and write all {TOTAL}",
                poll=0.1,
            )
        running = [c.running() for c in collectors]
        codes = [c.stop() for c in collectors]
    stats = [_stats(c) for c in collectors]
    failures = [_write_failures(c) for c in collectors]
    print(f"\n{database_url.split(':')[0]} {batches}: final stats {stats}")
    print(f"failed writes, retried: {failures}")

    assert running == [True, True], [c.log_text()[-3000:] for c in collectors]
    assert codes == [0, 0]
    for collector, final in zip(collectors, stats, strict=True):
        assert final, collector.log_text()[-3000:]
        assert final["received"] == TOTAL, final
        assert final["stored"] + final["duplicates"] == TOTAL, final
        lost = ("queued", "dropped", "unstorable", "kernel_dropped")
        assert {name: final[name] for name in lost} == dict.fromkeys(lost, 0)
        assert final["rejected"] == 0, final
        assert "Traceback" not in collector.log_text()
    # INSERT IGNORE / ON CONFLICT DO NOTHING: each sample new to one only.
    assert sum(final["stored"] for final in stats) == TOTAL

    counts, latest = _stored_ids(database_url)
    assert set(counts) == sent_ids
    assert set(counts.values()) == {1}
    differences = _differences(expected, latest)
    assert not differences, (
        f"{len(differences)} of {len(expected)} ha_latest rows wrong; "
        f"first: " + "\n".join(differences[:10])
    )
