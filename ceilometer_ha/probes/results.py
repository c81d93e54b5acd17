"""Result objects of the probes: small, frozen, free of ceilometer.

Pollsters turn these into samples; unit tests build them by hand (see
``tests/unit/fakes.py``), so they carry data only, no behaviour beyond
derived values.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class PingResult:
    """What one cycle learnt about one address.

    ``loss_ratio`` counts requests that should have been sent but could
    not be (a send error) as lost, so it is 1.0 whenever the address
    could not be probed at all; requests this host's own firewall
    refused (``packets_refused``, EPERM) are left out of it, as they
    say nothing of the network. RTTs are in milliseconds and ``None``
    when no reply arrived. ``reason`` says why replies are missing
    (``no reply``, ``unreachable: ...``, ``unresolvable: ...``,
    ``permission: ...``) and is ``None`` when every reply arrived.

    ``probed`` is False when nothing could be sent for a reason of this
    host, not of the network: a name that does not resolve, no ICMP
    socket allowed, a socket error, a send refused by the local
    firewall. Such a cycle
    says nothing about the address (its loss of 1.0 is no measurement),
    and the pollsters send no sample for it.
    """

    address: str
    packets_requested: int
    packets_sent: int
    packets_received: int
    min_rtt: float | None = None
    avg_rtt: float | None = None
    max_rtt: float | None = None
    reason: str | None = None
    probed: bool = True
    packets_refused: int = 0

    @property
    def loss_ratio(self) -> float:
        measured = self.packets_requested - self.packets_refused
        if measured <= 0:
            return 1.0
        lost = measured - self.packets_received
        return max(0.0, min(1.0, lost / measured))

    def reachable(self, max_loss_ratio: float) -> bool:
        """True when some reply came and the loss is at most the ratio."""
        return self.packets_received > 0 and (
            self.loss_ratio <= max_loss_ratio
        )


@dataclasses.dataclass(frozen=True)
class PingCycle:
    """The results of one cycle and the prober's own timing of it.

    ``duration`` is measured with the monotonic clock; ``bound`` is the
    longest the cycle may last by contract, ``(count - 1) * interval +
    timeout``, so callers can compare the two without a stopwatch.
    """

    results: dict[str, PingResult]
    duration: float
    bound: float


@dataclasses.dataclass(frozen=True)
class HypervisorStatus:
    """Whether the local hypervisor answered within its timeout.

    ``reason`` is ``None`` when up; ``domains`` is the number of running
    domains and ``version`` libvirt's version number when it answered.
    """

    up: bool
    reason: str | None = None
    version: int | None = None
    domains: int | None = None
    duration: float = 0.0
