"""Ping cycle time against the number of addresses: concurrent vs serial.

Figure: a cycle of 100 addresses lasts at most 1.1 times a cycle of one
address. The same :class:`IcmpProber` (defaults: 4 requests, 0.1 s
apart, 0.5 s timeout) pings 1, 10, 100 and 500 distinct loopback
addresses (127.0.x.y) in one concurrent cycle, repeated; the baseline
in the same run is the same prober pinging the addresses one at a time.
The serial baseline of 500 addresses would take minutes, so it is timed
on the first 100 and scaled (marked ``extrapolated``). Prints one JSON
document; runs in about a minute.

    python benchmarks/ping_scaling.py
    tox -e bench -- ping_scaling
"""

import argparse
import json
import platform
import statistics
import sys
import time

from ceilometer_ha.probes import icmp

SIZES = (1, 10, 100, 500)
REPEATS = 5
SERIAL_LIMIT = 100


def addresses(n: int) -> list[str]:
    return [f"127.0.{i // 250}.{i % 250 + 1}" for i in range(n)]


def concurrent_cycles(prober: icmp.IcmpProber, n: int) -> dict:
    durations, replies = [], []
    for _ in range(REPEATS):
        cycle = prober.ping(addresses(n))
        durations.append(cycle.duration)
        replies.append(sum(r.packets_received for r in cycle.results.values()))
    return {
        "median_s": round(statistics.median(durations), 4),
        "max_s": round(max(durations), 4),
        "replies_min": min(replies),
        "replies_expected": n * prober.count,
    }


def serial_cycle(prober: icmp.IcmpProber, n: int) -> dict:
    timed = addresses(min(n, SERIAL_LIMIT))
    started = time.monotonic()
    for address in timed:
        prober.ping([address])
    elapsed = time.monotonic() - started
    return {
        "seconds": round(elapsed * n / len(timed), 3),
        "extrapolated": len(timed) < n,
    }


def main() -> int:
    # No options; --help says what it measures, anything else is refused.
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    prober = icmp.IcmpProber(count=4, interval=0.1, timeout=0.5)
    prober.ping(["127.0.0.1"])  # choose the socket kind before timing
    rows = []
    for n in SIZES:
        concurrent = concurrent_cycles(prober, n)
        serial = serial_cycle(prober, n)
        rows.append(
            {
                "addresses": n,
                "concurrent": concurrent,
                "serial": serial,
                "speedup": round(
                    serial["seconds"] / concurrent["median_s"], 1
                ),
            }
        )
    by_size = {r["addresses"]: r["concurrent"]["median_s"] for r in rows}
    ratio = by_size[100] / by_size[1]
    report = {
        "figure": "ping cycle, 100 addresses vs 1 address",
        "target_ratio": 1.1,
        "ratio_100_vs_1": round(ratio, 3),
        "ratio_500_vs_1": round(by_size[500] / by_size[1], 3),
        "meets_target": ratio <= 1.1,
        "contract_bound_s": prober.bound,
        "socket": prober.socket_kind,
        "settings": {
            "count": prober.count,
            "interval_s": prober.interval,
            "timeout_s": prober.timeout,
            "repeats": REPEATS,
        },
        "rows": rows,
        "python": platform.python_version(),
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
