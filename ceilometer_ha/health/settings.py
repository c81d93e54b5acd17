"""The verdict rules' settings: the ``[health]`` options as one value.

The rules take a :class:`HealthSettings` rather than a ``ConfigOpts`` so
that they stay pure functions that tests and HA engines can call with
any values; :func:`from_conf` reads the registered ``[health]`` group.
"""

import dataclasses

from oslo_config import cfg

# Seconds: the most by which loss samples of one polling cycle are
# stamped apart (made within milliseconds after the cycle's probe run;
# with the default ping options a probe run lasts at least 0.3 s).
CYCLE_SPREAD = 0.25


@dataclasses.dataclass(frozen=True)
class HealthSettings:
    """Thresholds of the verdict rules; defaults equal the option defaults.

    Counts of cycles are turned into seconds with ``polling_interval``.
    """

    polling_interval: float = 1.0
    stale_cycles: int = 5
    fail_cycles: int = 3
    recover_cycles: int = 3
    min_storage_reachable: int = 1
    failing_loss: float = 1.0
    outage_share: float = 0.5
    outage_min_hosts: int = 2
    outage_window_cycles: int = 30
    stale_cliff_share: float = 0.5
    stale_cliff_min_hosts: int = 3
    stale_cliff_window_cycles: int = 5
    stale_cliff_hold_cycles: int = 300
    history_cycles: int = 20
    forget_address_cycles: int = 60

    @property
    def stale_after(self) -> float:
        """Seconds without a verdict meter's sample: then a host is stale."""
        return self.stale_cycles * self.polling_interval

    @property
    def outage_window(self) -> float:
        return self.outage_window_cycles * self.polling_interval

    @property
    def stale_cliff_window(self) -> float:
        return self.stale_cliff_window_cycles * self.polling_interval

    @property
    def stale_cliff_hold(self) -> float:
        return self.stale_cliff_hold_cycles * self.polling_interval

    @property
    def history_window(self) -> float:
        return self.history_cycles * self.polling_interval

    @property
    def forget_address_after(self) -> float:
        return self.forget_address_cycles * self.polling_interval

    @property
    def cycle_spread(self) -> float:
        """Seconds within which a host's loss samples of one cycle are
        stamped: all are made after the cycle's one probe run, while
        cycles lie a probe run or more apart."""
        return min(CYCLE_SPREAD, self.polling_interval / 4)

    def as_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


def from_conf(conf: cfg.ConfigOpts) -> HealthSettings:
    """Build the settings from the ``[health]`` group registered on conf.

    The caller registers the group (``opts.register_health_opts``).
    """
    group = conf.health
    names = [f.name for f in dataclasses.fields(HealthSettings)]
    return HealthSettings(**{name: group[name] for name in names})
