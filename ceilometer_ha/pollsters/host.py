"""Host meters: is the hypervisor answering, and is this agent alive.

Both use ceilometer's ``local_node`` discovery; ``resource_id`` is the
host name (``[DEFAULT] host``).

``ha.hypervisor.up`` is 1 when libvirt answered a read-only connection
within ``[compute] hypervisor_timeout``, else 0 with the reason in
``resource_metadata['reason']``. The URI is ceilometer's own choice:
``[DEFAULT] libvirt_uri``, else the one ``libvirt_type`` implies, else
``qemu:///system``. Without the libvirt binding this meter does not
load; ceilometer logs that only at DEBUG, so it is said once here at
WARNING.

``ha.heartbeat`` is 1 every cycle: its mere arrival says the agent, its
host and its path to the collector are alive.
"""

import threading

from ceilometer.polling import plugin_base
from oslo_log import log

from ceilometer_ha.pollsters import base
from ceilometer_ha.probes import hypervisor

LOG = log.getLogger(__name__)

HYPERVISOR_CACHE_KEY = "ceilometer_ha.hypervisor"

_warned = threading.Event()


class HostPollster(base.HealthPollster):
    """A meter about the host itself (one resource: this host)."""

    @property
    def default_discovery(self) -> str:
        return "local_node"


class HypervisorUpPollster(HostPollster):
    sample_name = "ha.hypervisor.up"
    sample_unit = "bool"

    def setup_environment(self) -> None:
        super().setup_environment()
        uri = hypervisor.libvirt_uri(
            getattr(self.conf, "libvirt_uri", None),
            getattr(self.conf, "libvirt_type", None),
        )
        try:
            self.prober = hypervisor.HypervisorProber(
                uri, self.conf.compute.hypervisor_timeout
            )
        except hypervisor.HypervisorUnavailableError as exc:
            if not _warned.is_set():
                _warned.set()
                LOG.warning("%s is not polled: %s", self.sample_name, exc)
            raise plugin_base.ExtensionLoadError(str(exc)) from exc

    def get_samples(self, manager, cache, resources):
        if not resources:
            return
        status = base.once_per_cycle(
            cache, HYPERVISOR_CACHE_KEY, self.prober.check
        )
        yield self.make_sample(
            1 if status.up else 0,
            self.host,
            {
                "uri": self.prober.uri,
                "reason": status.reason,
                "libvirt_version": status.version,
                "domains": status.domains,
            },
        )


class HeartbeatPollster(HostPollster):
    sample_name = "ha.heartbeat"
    sample_unit = "beat"

    def get_samples(self, manager, cache, resources):
        if not resources:
            return
        yield self.make_sample(1, self.host)
