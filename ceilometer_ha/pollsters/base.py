"""The shared base of every ceilometer-ha pollster.

Modelled on ceilometer's IPMI sensor pollsters: subclasses are tiny and
declarative (``sample_name``, ``sample_unit``), the base does the rest.

* Loading: the first pollster to load validates the ``[compute]``
  options (:mod:`ceilometer_ha.pollsters.validate`); a bad configuration
  stops the agent with one CRITICAL line naming the option.
* Sharing: sibling meters (reachable / loss / rtt) share one probe run
  per polling cycle through the ``cache`` dict ceilometer passes to
  every pollster of a cycle (:func:`once_per_cycle`; locked, because
  ``[polling] threads_to_process_pollsters`` may run them in parallel).
* Samples: gauges, ``user_id`` and ``project_id`` ``None``, and
  ``resource_metadata`` that always carries ``host`` (ceilometer's
  ``[DEFAULT] host``) and ``cluster``. When ``cluster`` is one of
  ``[DEFAULT] reserved_metadata_keys`` it is also copied under
  ``user_metadata`` the way ceilometer does for instance metadata.

Pollsters never open sockets: probes do (:mod:`ceilometer_ha.probes`).
"""

import collections.abc
import dataclasses
import threading
import typing

from ceilometer import sample
from ceilometer.polling import plugin_base
from oslo_config import cfg

from ceilometer_ha import cluster
from ceilometer_ha.pollsters import validate

T = typing.TypeVar("T")


@dataclasses.dataclass
class _CycleEntry:
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    value: typing.Any = None
    ready: bool = False


def once_per_cycle(
    cache: dict, key: str, produce: collections.abc.Callable[[], T]
) -> T:
    """``produce()`` once per polling cycle, shared through ``cache``.

    ``dict.setdefault`` is atomic, so concurrent pollsters of a cycle
    all get the same entry; its lock makes the others wait for the one
    that probes, instead of probing again.
    """
    entry = cache.setdefault(key, _CycleEntry())
    with entry.lock:
        if not entry.ready:
            entry.value = produce()
            entry.ready = True
        return typing.cast(T, entry.value)


def update_in_cycle(
    cache: dict,
    key: str,
    update: collections.abc.Callable[[typing.Any], T],
) -> T:
    """Like :func:`once_per_cycle`, but ``update(previous)`` every call.

    For values a later pollster may need to extend (addresses that only
    its resources name); ``update`` gets ``None`` on the first call.
    """
    entry = cache.setdefault(key, _CycleEntry())
    with entry.lock:
        entry.value = update(entry.value if entry.ready else None)
        entry.ready = True
        return typing.cast(T, entry.value)


class HealthPollster(plugin_base.PollsterBase):
    """A ceilometer-ha meter: validated options, host and cluster."""

    sample_name: str = ""
    sample_unit: str = ""
    sample_type: str = sample.TYPE_GAUGE

    def setup_environment(self) -> None:
        super().setup_environment()
        validate.enforce(self.conf)
        self.cluster_source = cluster.source_for(self.conf)

    @property
    def host(self) -> str:
        return str(self.conf.host)

    def make_sample(
        self,
        volume: float,
        resource_id: str,
        metadata: dict[str, typing.Any] | None = None,
    ) -> sample.Sample:
        """A gauge of this meter with ``host`` and ``cluster`` metadata."""
        cluster_name = self.cluster_source.current()
        resource_metadata = {"host": self.host, "cluster": cluster_name}
        resource_metadata.update(metadata or {})
        resource_metadata.update(
            reserved_user_metadata(self.conf, {"cluster": cluster_name})
        )
        return sample.Sample(
            name=self.sample_name,
            type=self.sample_type,
            unit=self.sample_unit,
            volume=volume,
            user_id=None,
            project_id=None,
            resource_id=resource_id,
            resource_metadata=resource_metadata,
        )


def reserved_user_metadata(
    conf: cfg.ConfigOpts, values: dict[str, typing.Any]
) -> dict[str, typing.Any]:
    """``{'user_metadata': {...}}`` for the reserved keys among ``values``.

    ceilometer's own rule (``sample.add_reserved_user_metadata``): keys
    listed in ``[DEFAULT] reserved_metadata_keys`` or under a prefix of
    ``reserved_metadata_namespace`` are copied, truncated to
    ``reserved_metadata_length``. Empty when none is reserved.
    """
    try:
        return sample.add_reserved_user_metadata(conf, values, {})
    except cfg.NoSuchOptError:
        # A bare ConfigOpts without ceilometer's options reserves nothing.
        return {}
