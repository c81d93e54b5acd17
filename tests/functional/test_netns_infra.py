"""The fault test bed's own machinery: namespaces, routes, faults, cleanup.

These tests prove the instrument before it measures anything: packets
cross the simulated networks, each fault drops what it should (checked
by the replies and by nft's own counters), nothing is sent without a
route we made, and cleanup leaves no namespace or process behind.
"""

import subprocess

import pytest

from tests.functional import icmp_echo
from tests.functional import managed_process
from tests.functional import netns
from tests.functional import topology as testbed_topology

pytestmark = pytest.mark.netns

STORAGE_1, STORAGE_2 = testbed_topology.STORAGE_ADDRESSES
PING_GROUP_RANGE = "/proc/sys/net/ipv4/ping_group_range"


@pytest.fixture(scope="module")
def topology():
    reason = netns.missing_prerequisites()
    if reason:
        pytest.skip(reason)
    netns.remove_leftovers()
    topo = testbed_topology.Topology(netns.new_prefix(), computes=2)
    topo.build()
    try:
        yield topo
    finally:
        topo.destroy()


@pytest.fixture
def clean(topology):
    topology.reset_faults()
    yield topology
    topology.reset_faults()


def test_namespaces_and_routes_exist(clean):
    existing = set(netns.list_namespaces())
    assert {ns.name for ns in clean.namespaces} <= existing
    for host in clean.computes:
        for address in testbed_topology.STORAGE_ADDRESSES:
            assert (
                host.ns.require_route(address)
                == testbed_topology.STORAGE_DEVICE
            )
        assert (
            host.ns.require_route(testbed_topology.CONTROLLER_ADDRESS)
            == testbed_topology.MANAGEMENT_DEVICE
        )
        group_range = host.ns.run(["cat", PING_GROUP_RANGE]).split()
        assert group_range == ["0", "2147483647"]


def test_echo_crosses_both_networks(clean):
    for host in clean.computes:
        for address in (
            *testbed_topology.STORAGE_ADDRESSES,
            testbed_topology.CONTROLLER_ADDRESS,
        ):
            assert icmp_echo.echo_replies(host.ns, address, 3, 1.0) == 3


def test_link_down_removes_the_route_and_heals(clean):
    host = clean.computes[0]
    clean.cut_storage_link(host.name)
    assert not host.ns.link_is_up(testbed_topology.STORAGE_DEVICE)
    with pytest.raises(netns.NetnsError, match="unreachable"):
        icmp_echo.echo_replies(host.ns, STORAGE_1, 1, 0.2)
    # The other host is not affected.
    assert icmp_echo.echo_replies(clean.computes[1].ns, STORAGE_1, 2, 1.0) == 2
    clean.reset_faults()
    assert host.ns.link_is_up(testbed_topology.STORAGE_DEVICE)
    assert icmp_echo.echo_replies(host.ns, STORAGE_1, 2, 1.0) == 2


def test_icmp_drop_answers_nothing_and_counts(clean):
    host = clean.computes[0]
    clean.storage_loss(host.name, "icmp")
    assert icmp_echo.echo_replies(host.ns, STORAGE_1, 3, 0.2) == 0
    assert clean.dropped_packets(host.name) == 3
    # Only the storage interface is affected.
    assert (
        icmp_echo.echo_replies(
            host.ns, testbed_topology.CONTROLLER_ADDRESS, 2, 1.0
        )
        == 2
    )


def test_alternate_drop_loses_exactly_every_other_reply(clean):
    host = clean.computes[0]
    clean.storage_loss(host.name, "alternate")
    assert icmp_echo.echo_replies(host.ns, STORAGE_2, 10, 0.2) == 5
    assert clean.dropped_packets(host.name) == 5


def test_random_drop_loses_some_but_not_all(clean):
    host = clean.computes[0]
    clean.storage_loss(host.name, "random", percent=30)
    answered = icmp_echo.echo_replies(host.ns, STORAGE_1, 100, 0.1)
    dropped = clean.dropped_packets(host.name)
    assert answered + dropped == 100
    # P(no drop at 30 %) = 0.7**100, P(all dropped) = 0.3**100.
    assert 0 < dropped < 100


def test_storage_outage_silences_both_storage_hosts_for_everyone(clean):
    clean.storage_outage()
    for host in clean.computes:
        for address in testbed_topology.STORAGE_ADDRESSES:
            assert icmp_echo.echo_replies(host.ns, address, 1, 0.2) == 0
        assert (
            icmp_echo.echo_replies(
                host.ns, testbed_topology.CONTROLLER_ADDRESS, 1, 1.0
            )
            == 1
        )
    clean.reset_faults()
    assert icmp_echo.echo_replies(clean.computes[0].ns, STORAGE_2, 1, 1.0) == 1


def test_nothing_is_sent_outside_the_test_ranges(clean):
    host = clean.computes[0]
    for address in ("10.0.0.1", "192.168.0.10", "8.8.8.8", "127.0.0.1"):
        with pytest.raises(netns.NetnsError, match="outside"):
            host.ns.require_route(address)
    with pytest.raises(netns.NetnsError, match="does not exist"):
        netns.Namespace("cha0x0000-never-made").require_route(STORAGE_1)


def test_managed_process_runs_in_its_namespace_and_dies_with_its_group(
    clean, tmp_path
):
    host = clean.computes[1]
    proc = managed_process.ManagedProcess(
        host.ns, ["sh", "-c", "sleep 300 & sleep 300"], str(tmp_path / "log")
    )
    proc.start()
    try:
        pids = netns.wait_for(host.ns.pids, 10.0, "the process to start")
        assert proc.proc.pid in pids
        identify = subprocess.run(
            ["ip", "netns", "identify", str(proc.proc.pid)],
            capture_output=True, text=True, check=True, timeout=10,
        )  # fmt: skip
        assert identify.stdout.strip() == host.ns.name
    finally:
        proc.kill()
    assert not proc.running()
    netns.wait_for(lambda: not host.ns.pids(), 10.0, "the group to die")


def test_cleanup_leaves_nothing_behind(tmp_path):
    reason = netns.missing_prerequisites()
    if reason:
        pytest.skip(reason)
    topo = testbed_topology.Topology(netns.new_prefix(), computes=1)
    topo.build()
    proc = managed_process.ManagedProcess(
        topo.controller.ns, ["sleep", "300"], str(tmp_path / "log")
    )
    proc.start()
    netns.wait_for(topo.controller.ns.pids, 10.0, "the process to start")
    topo.destroy()
    topo.destroy()  # idempotent
    left = [n for n in netns.list_namespaces() if n.startswith(topo.prefix)]
    assert left == []
    proc.proc.wait(timeout=10)
    assert not proc.running()


def test_leftovers_of_dead_runs_are_removed_and_live_ones_kept():
    reason = netns.missing_prerequisites()
    if reason:
        pytest.skip(reason)
    dead = subprocess.Popen(["true"])
    dead.wait(timeout=10)
    stale = netns.Namespace(f"cha{dead.pid}xdead-compute-1").create()
    live = netns.Namespace(f"{netns.new_prefix()}compute-1").create()
    try:
        removed = netns.remove_leftovers()
        assert stale.name in removed
        assert not stale.exists()
        assert live.exists()
    finally:
        stale.delete()
        live.delete()
    assert not live.exists()
