"""Reachability, loss and round-trip time of the configured addresses.

Nine meters, ``ha.<network>.{reachable,loss,rtt}`` for the storage,
management and tenant networks. One ping cycle per polling cycle probes
every configured address of every network at once; the nine pollsters
read their share of it from the cycle cache.

Volumes: ``reachable`` is 1 when the loss is at most ``[compute]
ping_loss_ratio`` (and some reply came), else 0; ``loss`` is the ratio
of lost echo requests (0.0 to 1.0); ``rtt`` is the average round trip
in milliseconds. An address without any reply has no ``rtt`` sample
that cycle: there is no time to report, and ceilometer drops ``None``
volumes anyway; its ``reachable`` 0 and ``loss`` 1.0 say it all.

An address this host could not probe at all (``PingResult.probed``
False: a name that never resolved, no ICMP socket allowed, a socket
error, a send refused by its own firewall) has no sample of any of the
three that cycle: its loss is no measurement of the network, and
reporting 1.0 would fail a host whose storage works. The prober logs
why, once; the verdicts ignore the address once its rows are stale (a
host with no current storage row is ``storage_silent``, degraded).

``resource_id`` is ``<host>-<address>``; the metadata carries
``address``, ``network`` and the evidence (``packets_requested``,
``packets_sent``, ``packets_received``, ``packets_refused``,
``reason``).
"""

from oslo_config import cfg

from ceilometer_ha import per_conf
from ceilometer_ha.pollsters import base
from ceilometer_ha.probes import icmp
from ceilometer_ha.probes import results as probe_results

PING_CACHE_KEY = "ceilometer_ha.ping"
NETWORK_OPTIONS = {
    "storage": "storage_server_address",
    "management": "management_address",
    "tenant": "tenant_address",
}


def build_prober(conf: cfg.ConfigOpts) -> icmp.IcmpProber:
    """A prober with ``conf``'s ping options."""
    compute = conf.compute
    return icmp.IcmpProber(
        count=compute.ping_count,
        interval=compute.ping_interval,
        timeout=compute.ping_timeout,
    )


_probers: per_conf.PerConf[icmp.IcmpProber] = per_conf.PerConf(build_prober)


def configured_addresses(conf: cfg.ConfigOpts) -> list[str]:
    """Every address of every network, each once, in option order."""
    addresses: list[str] = []
    for option in NETWORK_OPTIONS.values():
        addresses.extend(getattr(conf.compute, option))
    return list(dict.fromkeys(addresses))


class AddressPollster(base.HealthPollster):
    """Base of the address meters; subclasses choose network and value."""

    network = ""

    def setup_environment(self) -> None:
        super().setup_environment()
        self.prober = _probers.get(self.conf)

    @property
    def default_discovery(self) -> str:
        return f"ha_{self.network}_addresses"

    def get_samples(self, manager, cache, resources):
        results = self._results(cache, [str(r) for r in resources])
        for address in resources:
            result = results[str(address)]
            volume = self.volume(result)
            if volume is None:
                continue
            yield self.make_sample(
                volume,
                f"{self.host}-{address}",
                {
                    "address": result.address,
                    "network": self.network,
                    "packets_requested": result.packets_requested,
                    "packets_sent": result.packets_sent,
                    "packets_received": result.packets_received,
                    "packets_refused": result.packets_refused,
                    "reason": result.reason,
                },
            )

    def volume(self, result: probe_results.PingResult) -> float | None:
        raise NotImplementedError

    def _results(
        self, cache: dict, resources: list[str]
    ) -> dict[str, probe_results.PingResult]:
        def update(previous):
            known = dict(previous or {})
            wanted = [] if previous else configured_addresses(self.conf)
            wanted += [r for r in resources if r not in known]
            missing = [a for a in dict.fromkeys(wanted) if a not in known]
            if missing:
                known.update(self.prober.ping(missing).results)
            return known

        return base.update_in_cycle(cache, PING_CACHE_KEY, update)


class _Reachable(AddressPollster):
    sample_unit = "bool"

    def volume(self, result):
        if not result.probed:
            return None
        ratio = self.conf.compute.ping_loss_ratio
        return 1 if result.reachable(ratio) else 0


class _Loss(AddressPollster):
    sample_unit = "ratio"

    def volume(self, result):
        if not result.probed:
            return None
        return round(result.loss_ratio, 4)


class _Rtt(AddressPollster):
    sample_unit = "ms"

    def volume(self, result):
        if result.avg_rtt is None:
            return None
        return round(result.avg_rtt, 3)


class StorageReachablePollster(_Reachable):
    network = "storage"
    sample_name = "ha.storage.reachable"


class StorageLossPollster(_Loss):
    network = "storage"
    sample_name = "ha.storage.loss"


class StorageRttPollster(_Rtt):
    network = "storage"
    sample_name = "ha.storage.rtt"


class ManagementReachablePollster(_Reachable):
    network = "management"
    sample_name = "ha.management.reachable"


class ManagementLossPollster(_Loss):
    network = "management"
    sample_name = "ha.management.loss"


class ManagementRttPollster(_Rtt):
    network = "management"
    sample_name = "ha.management.rtt"


class TenantReachablePollster(_Reachable):
    network = "tenant"
    sample_name = "ha.tenant.reachable"


class TenantLossPollster(_Loss):
    network = "tenant"
    sample_name = "ha.tenant.loss"


class TenantRttPollster(_Rtt):
    network = "tenant"
    sample_name = "ha.tenant.rtt"
