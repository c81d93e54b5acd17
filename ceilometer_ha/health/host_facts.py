"""What is known about one host, as the verdict rules take it.

The contract between the reads and the rules: ``facts.build_facts``
turns a host's ``ha_latest`` rows into a ``HostFacts``, and
``host_rules.judge_host`` judges it without touching the database.
Storage addresses and hypervisors are described by their current rows
only; an address whose samples stopped within ``forget_address_cycles``
is a ``SilentAddress``, possibly reachable and never cut. A ``since`` is
on the host's clock, a time a sample was recorded on the collector's;
``HostFacts.on_collector_clock`` moves the one onto the other.
"""

import dataclasses
import datetime
import typing

from ceilometer_ha.health import replay
from ceilometer_ha.health import storage_rules


@dataclasses.dataclass(frozen=True)
class HypervisorState:
    resource_id: str
    up: bool
    streak: int
    since: datetime.datetime | None
    reason: str | None = None


class SilentAddress(typing.NamedTuple):
    """A storage address of a reporting host whose samples stopped."""

    resource_id: str
    address: str
    last_recorded: datetime.datetime
    # Its last loss sample: the loss, its streak and since.
    loss: float
    streak: int
    since: datetime.datetime | None


@dataclasses.dataclass(frozen=True)
class HostFacts:
    """Everything known about one host; storage rows are current ones."""

    host: str
    cluster: str
    last_heartbeat: datetime.datetime | None
    last_seen: datetime.datetime | None
    addresses: tuple[storage_rules.AddressState, ...] = ()
    # Silent within forget_address_cycles: possibly reachable, never cut.
    silent_addresses: tuple[SilentAddress, ...] = ()
    hypervisors: tuple[HypervisorState, ...] = ()
    history: replay.Hysteresis | None = None
    storage_silent_since: datetime.datetime | None = None
    # Collector clock minus host clock (None: no heartbeat read).
    clock_offset: datetime.timedelta | None = None

    def on_collector_clock(
        self, when: datetime.datetime | None
    ) -> datetime.datetime | None:
        """``when`` of the host's clock (a ``since``) on the collector's."""
        if when is None or self.clock_offset is None:
            return when
        return when + self.clock_offset
