"""Address and host pollsters against FakeProber and FakeHypervisor."""

import concurrent.futures
import logging
import pathlib
import subprocess
import sys

from ceilometer.polling import plugin_base
import pytest

from ceilometer_ha.pollsters import address
from ceilometer_ha.pollsters import host
from ceilometer_ha.probes import hypervisor
from ceilometer_ha.probes import results
from tests.unit import fakes

POLLSTERS_DIR = pathlib.Path(address.__file__).parent
STORAGE = ["192.0.2.10", "192.0.2.20"]
ALL_NETWORKS_CONF = """
[DEFAULT]
host = compute-1
[compute]
storage_server_address = 192.0.2.10, 192.0.2.20
management_address = 192.0.2.1
tenant_address = 192.0.2.129
cluster = cluster-a
ping_loss_ratio = 0.5
"""


@pytest.fixture
def conf(tmp_path):
    return fakes.ceilometer_conf(tmp_path, ALL_NETWORKS_CONF)


@pytest.fixture(autouse=True)
def fake_libvirt(monkeypatch):
    """The hypervisor meter loads whether or not libvirt is installed."""
    module = fakes.FakeLibvirt()
    monkeypatch.setattr(hypervisor, "load_libvirt", lambda: module)
    return module


def _pollster(cls, conf, prober):
    pollster = cls(conf)
    pollster.prober = prober
    return pollster


def _samples(pollster, cache, resources):
    return list(pollster.get_samples(None, cache, resources))


def test_storage_meters_report_each_address(conf):
    prober = fakes.FakeProber(
        {"192.0.2.20": fakes.ping_result("192.0.2.20", received=0)}
    )
    cache = {}
    reach = _samples(
        _pollster(address.StorageReachablePollster, conf, prober),
        cache,
        STORAGE,
    )
    loss = _samples(
        _pollster(address.StorageLossPollster, conf, prober), cache, STORAGE
    )
    rtt = _samples(
        _pollster(address.StorageRttPollster, conf, prober), cache, STORAGE
    )
    assert [(s.resource_id, s.volume) for s in reach] == [
        ("compute-1-192.0.2.10", 1),
        ("compute-1-192.0.2.20", 0),
    ]
    assert [s.volume for s in loss] == [0.0, 1.0]
    # No reply, no round-trip time: the rtt sample of .20 is skipped.
    assert [(s.resource_id, s.volume) for s in rtt] == [
        ("compute-1-192.0.2.10", 1.0)
    ]
    dead = reach[1]
    assert dead.name == "ha.storage.reachable"
    assert dead.type == "gauge"
    assert dead.user_id is None and dead.project_id is None
    assert dead.resource_metadata["host"] == "compute-1"
    assert dead.resource_metadata["cluster"] == "cluster-a"
    assert dead.resource_metadata["address"] == "192.0.2.20"
    assert dead.resource_metadata["network"] == "storage"
    assert dead.resource_metadata["packets_received"] == 0
    assert dead.resource_metadata["reason"] == "no reply"


def test_an_address_this_host_could_not_probe_has_no_sample(conf):
    """A name that never resolved, no ICMP socket, a send refused by the
    host's own firewall: no measurement of the network, no sample (a
    loss of 1.0 would fail a host whose storage works)."""
    unprobed = fakes.ping_result(
        "192.0.2.20",
        received=0,
        sent=0,
        reason="send refused by this host's firewall (EPERM)",
        probed=False,
    )
    prober = fakes.FakeProber({"192.0.2.20": unprobed})
    cache = {}
    for cls in (
        address.StorageReachablePollster,
        address.StorageLossPollster,
        address.StorageRttPollster,
    ):
        samples = _samples(_pollster(cls, conf, prober), cache, STORAGE)
        assert [s.resource_id for s in samples] == ["compute-1-192.0.2.10"]


def test_siblings_share_one_probe_run_of_every_network(conf):
    prober = fakes.FakeProber()
    cache = {}
    classes = [
        address.StorageReachablePollster,
        address.StorageLossPollster,
        address.StorageRttPollster,
        address.ManagementReachablePollster,
        address.TenantLossPollster,
    ]
    for cls in classes:
        pollster = _pollster(cls, conf, prober)
        resources = {
            "storage": STORAGE,
            "management": ["192.0.2.1"],
            "tenant": ["192.0.2.129"],
        }[cls.network]
        assert _samples(pollster, cache, resources)
    assert prober.calls == [STORAGE + ["192.0.2.1", "192.0.2.129"]]


def test_parallel_pollsters_still_probe_once(conf):
    prober = fakes.FakeProber()
    cache = {}
    pollsters = [
        _pollster(cls, conf, prober)
        for cls in (
            address.StorageReachablePollster,
            address.StorageLossPollster,
            address.StorageRttPollster,
        )
        * 4
    ]
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        counts = list(
            pool.map(lambda p: len(_samples(p, cache, STORAGE)), pollsters)
        )
    assert counts == [2] * len(pollsters)
    assert len(prober.calls) == 1


def test_each_cycle_probes_again(conf):
    prober = fakes.FakeProber()
    pollster = _pollster(address.StorageLossPollster, conf, prober)
    _samples(pollster, {}, STORAGE)
    _samples(pollster, {}, STORAGE)
    assert len(prober.calls) == 2


def test_resource_outside_the_options_is_probed_too(conf):
    prober = fakes.FakeProber()
    cache = {}
    pollster = _pollster(address.StorageLossPollster, conf, prober)
    _samples(pollster, cache, STORAGE)
    samples = _samples(pollster, cache, ["192.0.2.30"])
    assert [s.resource_id for s in samples] == ["compute-1-192.0.2.30"]
    assert prober.calls[1] == ["192.0.2.30"]


@pytest.mark.parametrize(
    "received, reachable",
    [(4, 1), (2, 1), (1, 0), (0, 0)],  # ratio 0.5: loss 0.5 is reachable
)
def test_reachable_follows_ping_loss_ratio(conf, received, reachable):
    prober = fakes.FakeProber(
        {"192.0.2.10": fakes.ping_result("192.0.2.10", received=received)}
    )
    pollster = _pollster(address.StorageReachablePollster, conf, prober)
    [sample] = _samples(pollster, {}, ["192.0.2.10"])
    assert sample.volume == reachable


def test_cluster_in_user_metadata_when_reserved(tmp_path):
    conf = fakes.ceilometer_conf(
        tmp_path,
        fakes.BASE_CONF.replace(
            "[DEFAULT]\n", "[DEFAULT]\nreserved_metadata_keys = cluster\n"
        ),
    )
    pollster = _pollster(address.StorageLossPollster, conf, fakes.FakeProber())
    [sample, _] = _samples(pollster, {}, STORAGE)
    assert sample.resource_metadata["user_metadata"] == {
        "cluster": "cluster-a"
    }


def test_cluster_not_in_user_metadata_unless_reserved(conf):
    pollster = _pollster(address.StorageLossPollster, conf, fakes.FakeProber())
    [sample, _] = _samples(pollster, {}, STORAGE)
    assert "user_metadata" not in sample.resource_metadata
    assert sample.resource_metadata["cluster"] == "cluster-a"


def test_discoveries_are_declared(conf):
    assert (
        address.StorageReachablePollster(conf).default_discovery
        == "ha_storage_addresses"
    )
    assert (
        address.TenantRttPollster(conf).default_discovery
        == "ha_tenant_addresses"
    )
    assert host.HeartbeatPollster(conf).default_discovery == "local_node"


def test_heartbeat_is_one_per_cycle(conf):
    [sample] = list(
        host.HeartbeatPollster(conf).get_samples(None, {}, ["compute-1"])
    )
    assert (sample.name, sample.volume, sample.resource_id) == (
        "ha.heartbeat",
        1,
        "compute-1",
    )
    assert sample.resource_metadata == {
        "host": "compute-1",
        "cluster": "cluster-a",
    }


@pytest.mark.parametrize(
    "status, volume",
    [
        (results.HypervisorStatus(up=True, version=9, domains=2), 1),
        (results.HypervisorStatus(up=False, reason="no answer"), 0),
    ],
)
def test_hypervisor_up(conf, status, volume):
    pollster = host.HypervisorUpPollster(conf)
    pollster.prober = fakes.FakeHypervisor(status)
    cache = {}
    [sample] = list(pollster.get_samples(None, cache, ["compute-1"]))
    list(pollster.get_samples(None, cache, ["compute-1"]))
    assert pollster.prober.calls == 1  # shared through the cycle cache
    assert sample.volume == volume
    assert sample.resource_id == "compute-1"
    assert sample.resource_metadata["reason"] == status.reason
    assert sample.resource_metadata["cluster"] == "cluster-a"


def test_hypervisor_uri_follows_ceilometer_options(tmp_path, fake_libvirt):
    conf = fakes.ceilometer_conf(
        tmp_path,
        fakes.BASE_CONF.replace(
            "[DEFAULT]\n", "[DEFAULT]\nlibvirt_type=lxc\n"
        ),
    )
    pollster = host.HypervisorUpPollster(conf)
    assert pollster.prober.uri == "lxc:///"
    assert pollster.prober.check().up
    assert fake_libvirt.opened == ["lxc:///"]


def test_hypervisor_meter_without_libvirt_warns_once(
    conf, monkeypatch, caplog
):
    def no_libvirt():
        raise hypervisor.HypervisorUnavailableError("no binding")

    monkeypatch.setattr(hypervisor, "load_libvirt", no_libvirt)
    monkeypatch.setattr(host, "_warned", host.threading.Event())
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        with pytest.raises(plugin_base.ExtensionLoadError):
            host.HypervisorUpPollster(conf)
    warnings = [r for r in caplog.records if "not polled" in r.getMessage()]
    assert len(warnings) == 1
    assert "no binding" in warnings[0].getMessage()


@pytest.mark.parametrize(
    "module", sorted(p.stem for p in POLLSTERS_DIR.glob("[a-z]*.py"))
)
def test_each_pollsters_module_imports_first_in_a_fresh_interpreter(module):
    """ceilometer's stevedore loads a pollster's module first: an import
    cycle through it (address -> base -> validate -> advice) fails
    there, whatever order the tests imported the modules in."""
    done = subprocess.run(
        [sys.executable, "-c", f"import ceilometer_ha.pollsters.{module}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
