"""The fault test bed's hosts as network namespaces, and its faults.

::

    compute-N (st0 198.51.100.1N, mg0 203.0.113.1N)
        |  st0 ----- br-st (switch) ----- st0  storage-1 198.51.100.2
        |                          \\---- st0  storage-2 198.51.100.3
        |  mg0 ----- br-mg (switch) ----- mg0  controller 203.0.113.2

:class:`Topology` builds and removes the namespaces, bridges and veths
(all or nothing) and injects the network faults: a cut link, packet
loss on a compute host's storage interface, a storage fabric outage.
It runs no service; ``tests.functional.testbed`` does.
"""

import atexit
import dataclasses

from tests.functional import netns
from tests.functional import nft

STORAGE_DEVICE = "st0"
MANAGEMENT_DEVICE = "mg0"
STORAGE_ADDRESSES = ("198.51.100.2", "198.51.100.3")
CONTROLLER_ADDRESS = "203.0.113.2"


@dataclasses.dataclass
class Host:
    """One namespace standing for a machine of the test bed."""

    role: str
    ns: netns.Namespace
    storage_address: str | None = None
    management_address: str | None = None

    @property
    def name(self) -> str:
        return self.role


class Topology:
    """The namespaces, bridges and veths of one test bed, and its faults.

    ``build`` is all or nothing: a failure half way removes what was
    made. ``destroy`` is idempotent and kills whatever still runs in the
    namespaces.
    """

    def __init__(self, prefix: str, computes: int = 3) -> None:
        if not 1 <= computes <= 9:
            raise ValueError("between 1 and 9 compute hosts")
        self.prefix = prefix
        self.switch = netns.Namespace(f"{prefix}switch")
        self.computes = [
            Host(
                f"compute-{i}",
                netns.Namespace(f"{prefix}compute-{i}"),
                f"198.51.100.1{i}",
                f"203.0.113.1{i}",
            )
            for i in range(1, computes + 1)
        ]
        self.storages = [
            Host(f"storage-{i}", netns.Namespace(f"{prefix}storage-{i}"), a)
            for i, a in enumerate(STORAGE_ADDRESSES, start=1)
        ]
        self.controller = Host(
            "controller",
            netns.Namespace(f"{prefix}controller"),
            None,
            CONTROLLER_ADDRESS,
        )

    @property
    def namespaces(self) -> list[netns.Namespace]:
        hosts = [*self.computes, *self.storages, self.controller]
        return [self.switch, *(h.ns for h in hosts)]

    def compute(self, name: str) -> Host:
        return next(h for h in self.computes if h.name == name)

    def build(self) -> None:
        atexit.register(self._destroy_quietly)
        try:
            self._build()
            self.verify()
        except BaseException:
            self.destroy()
            raise

    def _build(self) -> None:
        for ns in self.namespaces:
            ns.create()
        netns.add_bridge(self.switch, "br-st", None)
        netns.add_bridge(self.switch, "br-mg", None)
        for i, host in enumerate([*self.computes, *self.storages]):
            assert host.storage_address
            netns.add_port(
                host.ns, STORAGE_DEVICE, f"{host.storage_address}/24",
                self.switch, f"p{i}-st", "br-st",
            )  # fmt: skip
        for i, host in enumerate([*self.computes, self.controller]):
            assert host.management_address
            netns.add_port(
                host.ns, MANAGEMENT_DEVICE, f"{host.management_address}/24",
                self.switch, f"p{i}-mg", "br-mg",
            )  # fmt: skip
        for host in self.computes:
            # Unprivileged ICMP sockets too, whichever the prober uses.
            host.ns.sysctl("net.ipv4.ping_group_range", "0 2147483647")

    def verify(self) -> None:
        """Fail unless every namespace and every needed route exists."""
        for host in self.computes:
            for address in STORAGE_ADDRESSES:
                dev = host.ns.require_route(address)
                if dev != STORAGE_DEVICE:
                    raise netns.NetnsError(f"{address} routed via {dev}")
            if host.ns.require_route(CONTROLLER_ADDRESS) != MANAGEMENT_DEVICE:
                raise netns.NetnsError("controller not on the management net")

    def destroy(self) -> None:
        errors = []
        for ns in reversed(self.namespaces):
            try:
                ns.delete()
            except netns.NetnsError as exc:
                errors.append(str(exc))
        if errors:
            raise netns.NetnsError("; ".join(errors))
        atexit.unregister(self._destroy_quietly)

    def _destroy_quietly(self) -> None:
        try:
            self.destroy()
        except netns.NetnsError:
            pass

    # Faults. Each replaces the previous fault of the same place.

    def cut_storage_link(self, name: str) -> None:
        self.compute(name).ns.set_link(STORAGE_DEVICE, False)

    def storage_loss(self, name: str, kind: str, percent: int = 30) -> None:
        """Drop arriving packets on a compute host's storage interface."""
        nft.NftFaults(self.compute(name).ns).apply(
            STORAGE_DEVICE, kind, percent
        )

    def dropped_packets(self, name: str) -> int:
        return nft.NftFaults(self.compute(name).ns).dropped()

    def storage_outage(self) -> None:
        """Both storage hosts stop answering echo requests from anyone."""
        for host in self.storages:
            nft.NftFaults(host.ns).apply(STORAGE_DEVICE, "icmp")

    def reset_faults(self) -> None:
        for host in [*self.computes, *self.storages]:
            self._heal(host)

    def heal(self, name: str) -> None:
        """Remove the faults of one compute host only."""
        self._heal(self.compute(name))

    @staticmethod
    def _heal(host: Host) -> None:
        nft.NftFaults(host.ns).clear()
        if not host.ns.link_is_up(STORAGE_DEVICE):
            host.ns.set_link(STORAGE_DEVICE, True)
