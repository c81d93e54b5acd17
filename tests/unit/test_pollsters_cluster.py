"""Cluster names: static, or from a host aggregate without ever waiting."""

import time
import types

import pytest

from ceilometer_ha import cluster
from ceilometer_ha import discovery
from tests.unit import fakes

AGGREGATE_CONF = fakes.BASE_CONF + "cluster_source = aggregate\n"


def _source(lookup):
    return cluster.AggregateClusterName(
        "compute-1", "cluster-a", lookup, refresh_interval=60
    )


def test_static_name(tmp_path):
    conf = fakes.ceilometer_conf(tmp_path)
    source = cluster.source_for(conf)
    assert source.current() == "cluster-a"
    assert cluster.source_for(conf) is source


def test_static_option_until_the_aggregate_answers():
    aggregates = fakes.FakeAggregates({"compute-1": "rack-7"})
    source = _source(aggregates)
    assert source.current() == "cluster-a"
    source.refresh_once()
    assert source.current() == "rack-7"


def test_outage_keeps_the_last_known_name():
    aggregates = fakes.FakeAggregates({"compute-1": "rack-7"})
    source = _source(aggregates)
    source.refresh_once()
    aggregates.error = ConnectionError("keystone is away")
    source.refresh_once()
    assert source.current() == "rack-7"


def test_outage_before_any_answer_uses_the_static_option():
    aggregates = fakes.FakeAggregates()
    aggregates.error = ConnectionError("nova is away")
    source = _source(aggregates)
    source.refresh_once()
    assert source.current() == "cluster-a"


def test_host_in_no_aggregate_keeps_the_previous_name():
    aggregates = fakes.FakeAggregates({"compute-1": "rack-7"})
    source = _source(aggregates)
    source.refresh_once()
    aggregates.clusters = {}
    source.refresh_once()
    assert source.current() == "rack-7"


def test_a_cluster_name_the_collector_would_refuse_is_not_taken():
    aggregates = fakes.FakeAggregates({"compute-1": "rack-7"})
    source = _source(aggregates)
    source.refresh_once()
    for unusable in ("rack-8\nrack-9", "r" * 256):
        aggregates.clusters = {"compute-1": unusable}
        source.refresh_once()
        assert source.current() == "rack-7"


def test_aggregate_source_refreshes_in_the_background(tmp_path):
    conf = fakes.ceilometer_conf(tmp_path, AGGREGATE_CONF)
    aggregates = fakes.FakeAggregates({"compute-1": "rack-7"})
    source = cluster.build_source(conf, lookup=aggregates)
    try:
        assert isinstance(source, cluster.AggregateClusterName)
        assert source.refresh_interval == 300
        # The first look-up runs in the thread; current() never waits.
        deadline = time.monotonic() + 10
        while source.current() != "rack-7" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert source.current() == "rack-7"
        assert aggregates.calls == 1
    finally:
        source.stop()


def test_address_discoveries(tmp_path):
    conf = fakes.ceilometer_conf(
        tmp_path, fakes.BASE_CONF + "tenant_address = 192.0.2.129\n"
    )
    storage = discovery.StorageAddressDiscovery(conf)
    assert storage.discover(None) == ["192.0.2.10", "192.0.2.20"]
    assert discovery.ManagementAddressDiscovery(conf).discover(None) == []
    tenant = discovery.TenantAddressDiscovery(conf)
    assert tenant.discover(None) == ["192.0.2.129"]
    assert storage.group_id != tenant.group_id


class FakeNova:
    """A novaclient with one aggregate; ``error`` makes list() raise."""

    def __init__(self, owner):
        self.owner = owner
        self.aggregates = self

    def list(self):
        if self.owner.error is not None:
            raise self.owner.error
        return [
            types.SimpleNamespace(
                hosts=["compute-1"], metadata={"cluster": "rack-7"}
            )
        ]


class NovaClients:
    """Makes FakeNova clients, as ceilometer's Client(conf) would: one
    Keystone session and token each."""

    def __init__(self):
        self.made = 0
        self.error = None

    def __call__(self, conf):
        self.made += 1
        return FakeNova(self)


def test_the_nova_client_is_made_once_and_again_after_a_failure(tmp_path):
    """Each client logs in to Keystone: one per refresh would be a new
    token every refresh interval, from every compute host."""
    clients = NovaClients()
    lookup = cluster.nova_aggregate_lookup(
        fakes.ceilometer_conf(tmp_path), "cluster", clients
    )
    assert [lookup("compute-1") for _ in range(5)] == ["rack-7"] * 5
    assert clients.made == 1
    clients.error = ConnectionError("nova is away")
    with pytest.raises(ConnectionError):
        lookup("compute-1")
    clients.error = None
    assert lookup("compute-1") == "rack-7"
    assert lookup("compute-2") is None
    assert clients.made == 2
