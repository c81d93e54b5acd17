"""The configured addresses of each network, as polling resources.

Registered under ``ceilometer.discover.compute`` as
``ha_storage_addresses``, ``ha_management_addresses`` and
``ha_tenant_addresses``; the address pollsters name them as their
default discovery. Host meters use ceilometer's own ``local_node``.

The resources are local to this host (every host pings the same storage
addresses on its own behalf), which the ``group_id`` says, as
ceilometer's local node discovery does.
"""

from ceilometer.polling import plugin_base

from ceilometer_ha import opts


class AddressDiscovery(plugin_base.DiscoveryBase):
    """Returns the addresses of one ``[compute]`` option."""

    option = ""

    def discover(self, manager, param=None) -> list[str]:
        opts.register_compute_opts(self.conf)
        return list(getattr(self.conf.compute, self.option))

    @property
    def group_id(self) -> str:
        return f"ceilometer-ha-{self.option}-{self.conf.host}"


class StorageAddressDiscovery(AddressDiscovery):
    option = "storage_server_address"


class ManagementAddressDiscovery(AddressDiscovery):
    option = "management_address"


class TenantAddressDiscovery(AddressDiscovery):
    option = "tenant_address"
