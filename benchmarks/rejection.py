"""Hostile datagrams: all rejected and counted, none stored, no crash.

The figure of the design brief: 100 % of hostile datagrams rejected and
counted by reason, none stored, no crash. A real ``ceilometer-collector-ha``
process (SQLite, loopback, Prometheus endpoint on) receives, over real
UDP, ``--count`` datagrams of each hostile kind below, mixed in random
order with the same number of valid samples sent by ceilometer's own
signing code (the baseline: they must all be stored):

* ``random``: random bytes of random length;
* ``truncated``: a valid signed datagram cut short;
* ``oversized``: larger than ``[collector] max_datagram_size``;
* ``unsigned``: a valid sample without its signature;
* ``forged``: signed with another secret;
* ``tampered``: validly signed, then its volume changed;
* ``invalid``: validly signed, but with a volume that is not a number;
* ``replayed``: a valid datagram captured and sent again after the
  freshness window (its timestamp is older than the window);
* ``resplit``: a valid datagram captured and re-split at a key boundary
  (``message_id`` + ``m``, key ``onotonic_time``), which ceilometer's
  signature still verifies: a replay within the window under a new
  ``message_id``;
* ``future``: validly signed, stamped beyond the window.

Last, every valid datagram is sent a second time within the window (a
retry, or a second collector's copy): counted as a duplicate, stored
once.

It prints JSON: per kind what was sent, the collector's counters by
reason (scraped from /metrics), the rows stored, and whether the process
was still running. Loopback only; bounded in count and time.
"""

import argparse
import datetime
import json
import os
import pathlib
import random
import socket
import sys
import tempfile
import time
import urllib.request

from ceilometer.publisher import utils as ceilometer_utils
import msgpack
from prometheus_client import parser as prom_parser

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.functional import collector as harness  # noqa: E402

SECRET = harness.SEED_SECRET
WINDOW = 300
MAX_DATAGRAM = 16384
KINDS = (
    "random",
    "truncated",
    "oversized",
    "unsigned",
    "forged",
    "tampered",
    "invalid",
    "replayed",
    "resplit",
    "future",
)
EXPECTED_REASON = {
    "random": ("undecodable", "invalid"),
    "truncated": ("undecodable",),
    "oversized": ("oversized",),
    "unsigned": ("unsigned",),
    "forged": ("bad_signature",),
    "tampered": ("bad_signature",),
    "invalid": ("invalid",),
    "replayed": ("stale",),
    "resplit": ("invalid",),
    "future": ("future",),
}


def signed(offset_s: float = 0.0, secret: str = SECRET, **changes) -> dict:
    stamp = datetime.datetime.now(datetime.timezone.utc)
    smp = harness.make_sample(
        host=f"compute-{random.randrange(1000)}",
        timestamp=stamp + datetime.timedelta(seconds=offset_s),
    )
    msg = ceilometer_utils.meter_message_from_counter(smp, secret)
    if changes:
        msg.update(changes)
        msg["message_signature"] = ceilometer_utils.compute_signature(
            msg, secret
        )
    return msg


def pack(msg: dict) -> bytes:
    return msgpack.dumps(msg, use_bin_type=True)


def hostile(kind: str) -> bytes:
    if kind == "random":
        return os.urandom(random.randint(1, 2000))
    if kind == "truncated":
        data = pack(signed())
        return data[: random.randint(1, len(data) - 1)]
    if kind == "oversized":
        msg = signed()
        msg["resource_metadata"]["padding"] = "x" * MAX_DATAGRAM
        return pack(msg)
    if kind == "unsigned":
        msg = signed()
        del msg["message_signature"]
        return pack(msg)
    if kind == "forged":
        return pack(signed(secret="not-the-collector-secret"))
    if kind == "tampered":
        msg = signed()
        msg["counter_volume"] = 0
        return pack(msg)
    if kind == "invalid":
        return pack(signed(counter_volume="not a number"))
    if kind == "replayed":
        return pack(signed(offset_s=-(WINDOW + 60)))
    if kind == "resplit":
        msg = signed()
        msg["message_id"] += "m"
        msg["onotonic_time"] = msg.pop("monotonic_time")
        assert ceilometer_utils.verify_signature(msg, SECRET)
        return pack(msg)
    if kind == "future":
        return pack(signed(offset_s=WINDOW + 60))
    raise ValueError(kind)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> dict:
    url = f"http://127.0.0.1:{port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
        text = response.read().decode()
    counters: dict = {"rejected": {}}
    for family in prom_parser.text_string_to_metric_families(text):
        for smp in family.samples:
            name = smp.name.removeprefix("ceilometer_ha_collector_")
            name = name.removesuffix("_total")
            if name == "rejected":
                counters["rejected"][smp.labels["reason"]] = int(smp.value)
            elif not name.endswith("_created"):
                counters[name] = int(smp.value)
    return counters


def settled(port: int, expected: int, timeout: float = 60.0) -> dict:
    """The counters once all datagrams are counted and written.

    Or, should the kernel have dropped some (``received`` short of what
    was sent), once the counters have not moved for two seconds.
    """
    deadline = time.monotonic() + timeout
    last, still_since = None, time.monotonic()
    while time.monotonic() < deadline:
        counters = scrape(port)
        if counters["queued"] == 0 and counters["received"] >= expected:
            return counters
        if counters != last:
            last, still_since = counters, time.monotonic()
        elif time.monotonic() - still_since > 2.0:
            return counters
        time.sleep(0.2)
    return scrape(port)


def run(count: int, workdir: pathlib.Path) -> dict:
    metrics_port = free_port()
    database_url = f"sqlite:///{workdir / 'rejection.sqlite'}"
    collector = harness.CollectorProcess(
        database_url,
        workdir / "collector",
        options={
            "collector": {
                "metrics_port": metrics_port,
                "freshness_window": WINDOW,
                "max_datagram_size": MAX_DATAGRAM,
                "stats_interval": 0,
            }
        },
    )
    plan = [kind for kind in KINDS for _ in range(count)]
    plan += ["valid"] * count
    random.shuffle(plan)
    with collector:
        started = time.monotonic()
        valid: list[bytes] = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i, kind in enumerate(plan + ["again"] * count):
                if kind == "valid":
                    data = pack(signed())
                    valid.append(data)
                elif kind == "again":
                    data = valid.pop()
                else:
                    data = hostile(kind)
                sock.sendto(data, ("127.0.0.1", collector.port))
                if i % 100 == 99:
                    time.sleep(0.02)  # paced: loss here would blur counts
        sent_seconds = time.monotonic() - started
        counters = settled(metrics_port, len(plan) + count)
        alive = collector.running()
        stored_rows = collector.count_rows()
    rejected_total = sum(counters["rejected"].values())
    hostile_sent = len(KINDS) * count
    return {
        "sent": {kind: count for kind in (*KINDS, "valid", "valid_again")},
        "sent_seconds": round(sent_seconds, 2),
        "collector": counters,
        "datagrams_sent": len(plan) + count,
        "datagrams_lost_before_the_collector": len(plan)
        + count
        - counters["received"],
        "hostile_sent": hostile_sent,
        "hostile_rejected": rejected_total,
        "rejected_ratio": round(rejected_total / hostile_sent, 6),
        "valid_sent": count,
        "valid_sent_again": count,
        "rows_stored": stored_rows,
        "hostile_rows_stored": stored_rows - count,
        "collector_running_after": alive,
        "collector_exit_code": collector.returncode,
        "expected_reasons": EXPECTED_REASON,
        # Every hostile datagram rejected and counted, only the valid
        # ones stored (once), the collector up and stopping cleanly.
        "meets_target": rejected_total == hostile_sent
        and stored_rows == count
        and alive
        and collector.returncode == 0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--count", type=int, default=2000, help="Datagrams of each kind."
    )
    args = parser.parse_args(argv)
    random.seed(20261122)
    with tempfile.TemporaryDirectory(prefix="cha-rejection-") as tmp:
        report = run(args.count, pathlib.Path(tmp))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
