"""The ICMP prober inside a network namespace, one live and one dead peer.

The namespace has ``lo`` up and a veth pair whose two ends both live in
it: ``ha0`` holds 198.51.100.1/24 and answers (a local address);
198.51.100.99 is routed out of ``ha0`` to a permanent neighbour entry
with a MAC nobody has, so ``ha1`` drops the frames and the dead address
never answers. Nothing ever leaves the namespace. The namespace, the
routes and the neighbour entry are checked before the prober runs.

Concurrency is asserted on the prober's own deadline for a cycle
(``bound``): one timeout after the last request, for every address at
once. How long cycles take is a figure, not a test: measured by
``benchmarks/ping_scaling.py`` (100 addresses against 1).
"""

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.netns

LIVE = "198.51.100.1"
DEAD = "198.51.100.99"
NOBODY = "02:00:00:00:00:99"
UNROUTED = "203.0.113.5"  # no route at all in the namespace
COUNT = 5
INTERVAL = 0.05
TIMEOUT = 1.0
COMMAND_TIMEOUT = 30

PROBE = """
import json, sys
from ceilometer_ha.probes import icmp
prober = icmp.IcmpProber(
    count={count}, interval={interval}, timeout={timeout},
    privileged={privileged},
)
out = []
for addresses in {cycles!r}:
    cycle = prober.ping(addresses)
    out.append({{
        "bound": cycle.bound,
        "results": {{
            a: {{
                "sent": r.packets_sent,
                "received": r.packets_received,
                "loss": r.loss_ratio,
                "reachable": r.reachable(0.5),
                "reason": r.reason,
                "probed": r.probed,
            }}
            for a, r in cycle.results.items()
        }},
    }})
json.dump({{"socket": prober.socket_kind, "cycles": out}}, sys.stdout)
"""


def _run(*argv: str, input: str | None = None) -> str:
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        input=input,
    )
    assert done.returncode == 0, f"{argv}: {done.stderr}"
    return done.stdout


@pytest.fixture
def namespace():
    if os.geteuid() != 0:
        pytest.skip("network namespace tests need root")
    if shutil.which("ip") is None:
        pytest.skip("network namespace tests need the ip command")
    name = f"chaping{os.getpid()}"
    _run("ip", "netns", "add", name)
    try:
        _run("ip", "-n", name, "link", "set", "lo", "up")
        ip = ("ip", "-n", name)
        _run(*ip, "link", "add", "ha0", "type", "veth", "peer", "ha1")
        _run(*ip, "addr", "add", f"{LIVE}/24", "dev", "ha0")
        _run(*ip, "link", "set", "ha0", "up")
        _run(*ip, "link", "set", "ha1", "up")
        _run(*ip, "neigh", "add", DEAD, "lladdr", NOBODY, "dev", "ha0")
        yield name
    finally:
        subprocess.run(
            ["ip", "netns", "del", name],
            capture_output=True,
            timeout=COMMAND_TIMEOUT,
        )


def _require_routes(namespace: str) -> None:
    assert name_exists(namespace)
    live = _run("ip", "-n", namespace, "route", "get", LIVE)
    dead = _run("ip", "-n", namespace, "route", "get", DEAD)
    assert live.startswith(f"local {LIVE} dev lo"), live
    assert "dev ha0" in dead, dead
    no_route = subprocess.run(
        ["ip", "-n", namespace, "route", "get", UNROUTED],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    assert no_route.returncode != 0, no_route.stdout
    neighbour = _run("ip", "-n", namespace, "neigh", "show", DEAD)
    assert NOBODY in neighbour and "PERMANENT" in neighbour, neighbour


def name_exists(namespace: str) -> bool:
    return namespace in _run("ip", "netns", "list").split()


def _probe_in(namespace: str, kind: str, cycles: list[list[str]]) -> dict:
    if kind == "datagram":
        # Per namespace: let root's group use unprivileged ICMP sockets.
        # (/proc/sys/net belongs to the writer's namespace; no sysctl
        # binary needed.)
        _run(
            "ip", "netns", "exec", namespace, "sh", "-c",
            "echo '0 0' > /proc/sys/net/ipv4/ping_group_range",
        )  # fmt: skip
    code = PROBE.format(
        count=COUNT,
        interval=INTERVAL,
        timeout=TIMEOUT,
        cycles=cycles,
        privileged=kind == "raw",
    )
    output = _run("ip", "netns", "exec", namespace, sys.executable, "-c", code)
    return json.loads(output)


@pytest.mark.parametrize("kind", ["raw", "datagram"])
def test_dead_address_does_not_slow_the_cycle(namespace, kind):
    _require_routes(namespace)
    report = _probe_in(namespace, kind, [[LIVE], [LIVE, DEAD, UNROUTED]])
    assert report["socket"] == kind
    live_only, mixed = report["cycles"]

    assert live_only["results"][LIVE]["received"] == COUNT
    live, dead = mixed["results"][LIVE], mixed["results"][DEAD]
    assert live["reachable"] and live["received"] == COUNT
    assert live["loss"] == 0.0
    assert not dead["reachable"]
    assert (dead["sent"], dead["received"]) == (COUNT, 0)
    assert dead["loss"] == 1.0
    assert dead["reason"] == "no reply"
    unrouted = mixed["results"][UNROUTED]
    assert (unrouted["sent"], unrouted["loss"]) == (0, 1.0)
    assert unrouted["reason"].startswith("unreachable:"), unrouted
    # No route is the network's state: a measured loss, like no reply.
    assert dead["probed"] and unrouted["probed"]

    # The prober's contract: one cycle waits one timeout after the last
    # request, for every address at once (its duration is measured by
    # benchmarks/ping_scaling.py, not asserted).
    assert mixed["bound"] == pytest.approx((COUNT - 1) * INTERVAL + TIMEOUT)
    assert live_only["bound"] == mixed["bound"]


# Echo requests refused on their way out, by the namespace's own
# firewall: sendto() fails with EPERM.
OUTPUT_DROP = """
table inet chaout {
  chain output {
    type filter hook output priority 0; policy accept;
    meta l4proto { icmp, ipv6-icmp } counter drop
  }
}
"""


@pytest.mark.parametrize("kind", ["raw", "datagram"])
def test_a_send_refused_by_the_hosts_firewall_is_not_probed(namespace, kind):
    """Not a storage cut: this host refused to send, the network never
    saw a packet. The pollsters send no reachable or loss sample."""
    _require_routes(namespace)
    _run("ip", "netns", "exec", namespace, "nft", "-f", "-", input=OUTPUT_DROP)
    report = _probe_in(namespace, kind, [[LIVE, UNROUTED]])
    live = report["cycles"][0]["results"][LIVE]
    assert (live["sent"], live["received"]) == (0, 0)
    assert live["reason"] == "send refused by this host's firewall (EPERM)"
    assert not live["probed"]
    # A missing route is still the network's answer.
    assert report["cycles"][0]["results"][UNROUTED]["probed"]
    # The rule really refused them.
    ruleset = _run("ip", "netns", "exec", namespace, "nft", "list", "ruleset")
    dropped = re.search(r"counter packets (\d+) ", ruleset)
    assert dropped and int(dropped.group(1)) >= COUNT, ruleset
