"""Heartbeat gap when the polling agent is restarted or reloaded.

Not a figure of the design brief: what an operator needs to know before
restarting ``ceilometer-polling-ha`` on a compute host, since a host
whose heartbeat stops for more than ``[health] stale_cycles`` intervals
(5 s by default) is ``stale``. The real ``ceilometer-polling`` with the
shipped compute configuration (interval 1 s, one loopback storage
address) publishes to a UDP socket of this script; each heartbeat is
timed on arrival. Then ``--trials`` times each:

``restart``
    SIGTERM to the agent's process group and a new agent started, as
    ``systemctl restart`` does: the gap from the last heartbeat before
    to the first after.
``reload``
    SIGHUP to the agent (``systemctl reload``: cotyledon re-reads the
    files and replaces its polling worker): the longest gap between two
    heartbeats from the one before the signal to the fourth after it.

The baseline, in the same run, is the gap between two heartbeats of an
agent left alone (the polling interval). Prints one JSON document.
Loopback only; every wait is bounded.
"""

import argparse
import itertools
import json
import pathlib
import signal
import statistics
import sys
import tempfile
import time

import msgpack

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.functional import agent  # noqa: E402

STALE_SECONDS = 5.0  # [health] stale_cycles x polling interval, defaults
WAIT = 60.0


class Heartbeats:
    """Arrival times of the agent's heartbeats on a loopback socket."""

    def __init__(self, collector: agent.UdpCollector) -> None:
        self.collector = collector
        self.times: list[float] = []

    def wait_for(self, count: int) -> None:
        """Until ``count`` heartbeats arrived in all; bounded by WAIT."""
        deadline = time.monotonic() + WAIT
        while len(self.times) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{count} heartbeats")
            self.collector.sock.settimeout(0.2)
            try:
                data = self.collector.sock.recv(65535)
            except TimeoutError:
                continue
            if msgpack.loads(data).get("counter_name") == "ha.heartbeat":
                self.times.append(time.monotonic())


def _summary(gaps: list[float]) -> dict:
    return {
        "gaps_s": [round(g, 3) for g in gaps],
        "median_s": round(statistics.median(gaps), 3),
        "max_s": round(max(gaps), 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    args = parser.parse_args(argv)
    restart, reload, steady = [], [], []
    with (
        tempfile.TemporaryDirectory() as workdir,
        agent.UdpCollector() as collector,
    ):
        settings = agent.AgentSettings(
            collectors=[collector.address], storage=["127.0.0.1"]
        )
        running = agent.PollingAgent(pathlib.Path(workdir), settings).start()
        beats = Heartbeats(collector)
        try:
            beats.wait_for(4)
            steady = [b - a for a, b in itertools.pairwise(beats.times[1:])]
            for _ in range(args.trials):
                before = beats.times[-1]
                running.stop()
                running = agent.PollingAgent(
                    pathlib.Path(workdir), settings
                ).start()
                beats.wait_for(len(beats.times) + 3)
                first_after = next(t for t in beats.times if t > before)
                restart.append(first_after - before)
            for _ in range(args.trials):
                start = len(beats.times) - 1
                running.process.send_signal(signal.SIGHUP)
                beats.wait_for(len(beats.times) + 4)
                times = beats.times[start:]
                reload.append(max(b - a for a, b in itertools.pairwise(times)))
        finally:
            running.stop()
    report = {
        "benchmark": "agent_restart",
        "stale_after_s": STALE_SECONDS,
        "baseline_steady_gap": _summary(steady),
        "restart": _summary(restart),
        "reload_sighup": _summary(reload),
        "meets_target": max(restart + reload) < STALE_SECONDS,
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
