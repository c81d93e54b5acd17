"""Storage cut -> failed verdict, and false failures under 30 % loss.

Builds the network-namespace test bed (root, ``ip``, ``nft`` and the
MariaDB of ``CEILOMETER_HA_TEST_MYSQL_URL`` needed) with several compute
hosts running the stock ``ceilometer-polling`` at a 1 s interval.
``compute-1`` is cut from its storage network and healed again and
again, alternately by taking its storage link down and by an nft rule
dropping every ICMP packet arriving on it. Meanwhile every other compute
host runs with 30 % random loss on its storage link for the whole run.

For each cut it measures, from the moment the fault was applied:

* to the first sample the collector recorded showing a storage address
  unreachable (``ha_sample.recorded_at``, ``ha.storage.reachable`` 0);
* to the first ``failed`` verdict (the health library polled every
  0.1 s from the root namespace).

The baseline beside them is the bound the settings imply:
``fail_cycles * interval + ping window + batch timeout`` (the fault can
land just after a cycle began, so the first failing cycle ends up to one
interval plus one ping window later, and ``fail_cycles`` failing cycles
are needed). For the lossy hosts it counts host-cycles (heartbeats
stored), failed (and stale) verdicts seen and the address-cycles that
lost every echo request, over the cuts and a soak afterwards. Prints
one JSON document.

    python benchmarks/detection.py [--cuts 20] [--computes 6]
        [--soak-seconds 60] [--max-seconds 300]
"""

import argparse
import datetime
import json
import math
import os
import pathlib
import sys
import tempfile
import time

import sqlalchemy as sa

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ceilometer_ha.storage import models  # noqa: E402
from tests.functional import netns  # noqa: E402
from tests.functional import testbed  # noqa: E402
from tests.functional import topology  # noqa: E402

TARGET = "compute-1"
POLL_STEP = 0.1
BATCH_TIMEOUT = 0.2  # [collector] batch_timeout default


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def distribution(values: list[float]) -> dict:
    """Nearest-rank percentiles; with n < 100 the p99 is the maximum."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(math.ceil(p / 100 * len(ordered)) - 1, 0)]

    return {
        "n": len(ordered),
        "p50": round(rank(50), 3),
        "p90": round(rank(90), 3),
        "p99": round(rank(99), 3),
        "max": round(ordered[-1], 3),
        "min": round(ordered[0], 3),
    }


class Observer:
    """Polls the verdicts and remembers every failure of a lossy host."""

    def __init__(self, bed: testbed.TestBed, lossy: list[str]) -> None:
        self.bed = bed
        self.lossy = set(lossy)
        self.polls = 0
        self.judge_seconds: list[float] = []
        self.lossy_failed: list[tuple[str, str]] = []
        self.lossy_degraded = 0
        self.lossy_stale = 0

    def poll(self) -> dict:
        started = time.monotonic()
        report = self.bed.report()
        self.judge_seconds.append(time.monotonic() - started)
        self.polls += 1
        for host in report["hosts"]:
            if host["host"] not in self.lossy:
                continue
            if host["verdict"] == "failed":
                self.lossy_failed.append(
                    (report["generated_at"], host["host"])
                )
            elif host["verdict"] == "degraded":
                self.lossy_degraded += 1
            elif host["verdict"] == "stale":
                self.lossy_stale += 1
        return report

    def until(self, predicate, timeout: float) -> float | None:
        """Seconds until ``predicate(report)``; None when it timed out."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if predicate(self.poll()):
                return time.monotonic() - started
            time.sleep(POLL_STEP)
        return None


def target_is(verdict: str):
    return lambda r: testbed.verdicts(r).get(TARGET) == verdict


def apply_cut(bed: testbed.TestBed, kind: str) -> None:
    if kind == "link_down":
        bed.topology.cut_storage_link(TARGET)
    else:
        bed.topology.storage_loss(TARGET, "icmp")


def run_cuts(bed, observer, cuts, deadline) -> dict:
    to_sample: dict[str, list[float]] = {"link_down": [], "icmp_drop": []}
    to_failed: dict[str, list[float]] = {"link_down": [], "icmp_drop": []}
    missed = 0
    for i in range(cuts):
        if time.monotonic() > deadline:
            break
        if observer.until(target_is("ok"), 60.0) is None:
            raise RuntimeError(f"{TARGET} not ok before cut {i}")
        kind = "link_down" if i % 2 == 0 else "icmp_drop"
        cut_at = utcnow()
        apply_cut(bed, kind)
        detected = observer.until(target_is("failed"), 30.0)
        bed.topology.heal(TARGET)
        if detected is None:
            missed += 1
            continue
        to_failed[kind].append(detected)
        first = bed.first_failing_sample(TARGET, cut_at)
        if first is not None:
            to_sample[kind].append((first - cut_at).total_seconds())
    observer.until(target_is("ok"), 60.0)
    every = [v for values in to_failed.values() for v in values]
    samples = [v for values in to_sample.values() for v in values]
    return {
        "cuts_done": len(every) + missed,
        "cuts_missed": missed,
        "fault_to_first_failing_sample_s": distribution(samples),
        "fault_to_failed_verdict_s": distribution(every),
        "fault_to_failed_verdict_by_kind_s": {
            kind: distribution(values) for kind, values in to_failed.items()
        },
    }


def loss_figures(bed, observer, lossy, since) -> dict:
    t = models.sample
    window = sa.and_(t.c.host.in_(lossy), t.c.recorded_at > since)
    with bed.engine.connect() as conn:
        host_cycles = conn.execute(
            sa.select(sa.func.count())
            .select_from(t)
            .where(window, t.c.meter == "ha.heartbeat")
        ).scalar()
        address_cycles = conn.execute(
            sa.select(sa.func.count())
            .select_from(t)
            .where(window, t.c.meter == "ha.storage.loss")
        ).scalar()
        all_lost = conn.execute(
            sa.select(sa.func.count())
            .select_from(t)
            .where(window, t.c.meter == "ha.storage.loss", t.c.volume >= 1.0)
        ).scalar()
        mean_loss = conn.execute(
            sa.select(sa.func.avg(t.c.volume)).where(
                window, t.c.meter == "ha.storage.loss"
            )
        ).scalar()
    return {
        "hosts": len(lossy),
        "rule": "numgen random mod 100 < 30 drop (arriving on st0)",
        "host_cycles": int(host_cycles or 0),
        "address_cycles": int(address_cycles or 0),
        "address_cycles_all_lost": int(all_lost or 0),
        "mean_stored_loss": round(float(mean_loss or 0.0), 4),
        "packets_dropped": sum(bed.topology.dropped_packets(h) for h in lossy),
        "failed_verdicts_seen": len(observer.lossy_failed),
        "hosts_ever_failed": sorted({h for _, h in observer.lossy_failed}),
        "degraded_observations": observer.lossy_degraded,
        "stale_observations": observer.lossy_stale,
        "verdict_polls": observer.polls,
        **false_failure_model(int(address_cycles or 0), int(all_lost or 0)),
    }


def false_failure_model(address_cycles: int, all_lost: int) -> dict:
    """What the measured loss implies for 10,000 host-cycles.

    A cycle fails only when both storage addresses lose every echo
    request; a host fails after ``fail_cycles`` (3) such cycles in a
    row. With the per-address rate measured here, assuming independent
    cycles and addresses.
    """
    if not address_cycles:
        return {}
    p_address = all_lost / address_cycles
    p_cycle = p_address ** len(topology.STORAGE_ADDRESSES)
    p_failed = p_cycle**3
    return {
        "measured_address_all_lost_rate": round(p_address, 5),
        "theory_address_all_lost_rate": round(0.3**testbed.PING_COUNT, 5),
        "estimated_failing_cycle_rate": float(f"{p_cycle:.3g}"),
        "estimated_failed_per_10000_host_cycles": float(
            f"{p_failed * 10000:.3g}"
        ),
    }


def bound_seconds(bed: testbed.TestBed) -> float:
    ping_window = (
        testbed.PING_COUNT - 1
    ) * testbed.PING_INTERVAL + testbed.PING_TIMEOUT
    settings = bed.settings
    return round(
        settings.fail_cycles * settings.polling_interval
        + ping_window
        + BATCH_TIMEOUT,
        3,
    )


def run_outage(bed: testbed.TestBed, cycles: int) -> dict:
    """Both storage hosts cut off from every compute host for ``cycles``.

    The figure: no host ``failed``, the cluster in ``storage_outage``.
    Polled directly (not through the observer, whose loss counts are for
    the lossy-link run).
    """
    bed.topology.reset_faults()
    bed.wait_all_ok(60.0)
    started = time.monotonic()
    bed.topology.storage_outage()
    failed_hosts: set[str] = set()
    max_failed = polls = 0
    outage_clusters: set[str] = set()
    detected_after = None
    while time.monotonic() - started < cycles * bed.interval:
        report = bed.report()
        polls += 1
        failed = [
            h["host"] for h in report["hosts"] if h["verdict"] == "failed"
        ]
        failed_hosts.update(failed)
        max_failed = max(max_failed, len(failed))
        for cluster in report["clusters"]:
            if cluster["storage_outage"]:
                outage_clusters.add(cluster["cluster"])
                if detected_after is None:
                    detected_after = round(time.monotonic() - started, 2)
        time.sleep(POLL_STEP)
    bed.topology.reset_faults()
    bed.wait_all_ok(60.0)
    return {
        "hosts": len(bed.hosts),
        "seconds": round(cycles * bed.interval, 1),
        "polls": polls,
        "hosts_ever_failed": sorted(failed_hosts),
        "max_hosts_failed_at_once": max_failed,
        "clusters_in_storage_outage": sorted(outage_clusters),
        "outage_reported_after_s": detected_after,
    }


# DESIGN.md: no false failed verdict in this many host-cycles at 30 %
# loss; a shorter run shows none or some, but cannot meet it.
FALSE_FAILED_HOST_CYCLES = 10000


def verdicts(result: dict) -> dict:
    """The three targets: the figure of this run, and whether it met it."""
    # No p99 when no cut was seen: reported as null, never as Infinity
    # (which is not JSON).
    p99 = result["fault_to_failed_verdict_s"].get("p99")
    loss, outage = result["loss_run"], result["storage_outage_run"]
    false_failed = len(loss["hosts_ever_failed"])
    enough = loss["host_cycles"] >= FALSE_FAILED_HOST_CYCLES
    outages = len(outage["clusters_in_storage_outage"])
    return {
        "fault_to_failed_p99_s": {
            "target": result["target_p99_s"],
            "measured": p99,
            "met": p99 is not None
            and p99 <= result["target_p99_s"]
            and result["cuts_missed"] == 0,
        },
        "false_failed_at_30_percent_loss": {
            "target": f"0 in {FALSE_FAILED_HOST_CYCLES} host-cycles",
            "measured": f"{false_failed} hosts failed in "
            f"{loss['host_cycles']} host-cycles",
            "met": False if false_failed else (True if enough else None),
        },
        "storage_outage": {
            "target": "0 hosts failed, 1 cluster outage",
            "measured": f"{len(outage['hosts_ever_failed'])} hosts failed, "
            f"{outages} cluster outage",
            "met": not outage["hosts_ever_failed"] and outages == 1,
        },
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cuts", type=int, default=20)
    parser.add_argument("--computes", type=int, default=6)
    parser.add_argument("--soak-seconds", type=float, default=60.0)
    parser.add_argument("--max-seconds", type=float, default=300.0)
    parser.add_argument("--outage-cycles", type=int, default=15)
    args = parser.parse_args(argv)
    reason = netns.missing_prerequisites()
    if reason:
        sys.stderr.write(f"detection benchmark: {reason}\n")
        return 2
    started = time.monotonic()
    deadline = started + args.max_seconds
    with tempfile.TemporaryDirectory(prefix="ha-detection-") as tmp:
        bed = testbed.TestBed(pathlib.Path(tmp), computes=args.computes)
        with bed:
            lossy = [h for h in bed.hosts if h != TARGET]
            loss_since = utcnow()
            for host in lossy:
                bed.topology.storage_loss(host, "random", percent=30)
            observer = Observer(bed, lossy)
            cuts = run_cuts(bed, observer, args.cuts, deadline)
            soak_end = min(time.monotonic() + args.soak_seconds, deadline)
            while time.monotonic() < soak_end:
                observer.poll()
                time.sleep(bed.interval)
            loss = loss_figures(bed, observer, lossy, loss_since)
            outage = run_outage(bed, args.outage_cycles)
            result = {
                "benchmark": "detection",
                "computes": args.computes,
                "settings": {
                    "interval_s": bed.interval,
                    "fail_cycles": bed.settings.fail_cycles,
                    "recover_cycles": bed.settings.recover_cycles,
                    "ping_count": testbed.PING_COUNT,
                    "ping_interval_s": testbed.PING_INTERVAL,
                    "ping_timeout_s": testbed.PING_TIMEOUT,
                    "batch_timeout_s": BATCH_TIMEOUT,
                },
                "bound_from_settings_s": bound_seconds(bed),
                "target_p99_s": 5.0,
                **cuts,
                "meets_p99_target": cuts["fault_to_failed_verdict_s"].get(
                    "p99", math.inf
                )
                <= 5.0,
                "loss_run": loss,
                "storage_outage_run": outage,
                "judge_call_s": distribution(observer.judge_seconds),
                "cpu_count": os.cpu_count(),
            }
            result["verdicts"] = verdicts(result)
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
