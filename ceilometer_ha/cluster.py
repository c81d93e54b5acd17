"""The cluster (failure domain) name every health sample carries.

``[compute] cluster_source = static`` uses ``[compute] cluster`` as it
is. ``aggregate`` reads the ``[compute] cluster_metadata_key`` metadata
of the Nova host aggregate that holds this host (``[DEFAULT] host``),
with ceilometer's service credentials, in a background thread every
``cluster_refresh_interval`` seconds.

Contract: :meth:`ClusterNameSource.current` never waits for Nova or
Keystone. It returns the last name an aggregate gave, else the static
option, so an outage of the control plane never delays or drops a
health sample.
"""

import collections.abc
import re
import threading
import typing

from oslo_config import cfg
from oslo_log import log

from ceilometer_ha import opts
from ceilometer_ha import per_conf

LOG = log.getLogger(__name__)

_USABLE = re.compile(opts.CLUSTER_NAME_PATTERN)

# host -> cluster name of its aggregate, or None when none says.
AggregateLookup = collections.abc.Callable[[str], str | None]


class ClusterNameSource:
    """The cluster name now; the static name unless refreshed."""

    def __init__(self, static_name: str) -> None:
        self.static_name = static_name

    def current(self) -> str:
        return self.static_name

    def stop(self) -> None:
        """Stop any background work (nothing for a static name)."""


class AggregateClusterName(ClusterNameSource):
    """Cluster name from a host aggregate, refreshed in the background."""

    def __init__(
        self,
        host: str,
        static_name: str,
        lookup: AggregateLookup,
        refresh_interval: float,
    ) -> None:
        super().__init__(static_name)
        self.host = host
        self.refresh_interval = refresh_interval
        self._lookup = lookup
        self._known: str | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def current(self) -> str:
        known = self._known
        return known if known is not None else self.static_name

    def refresh_once(self) -> None:
        """One look-up; failures keep the last known name."""
        try:
            name = self._lookup(self.host)
        except Exception as exc:  # Nova, Keystone, network: all the same
            LOG.warning(
                "Cannot read the cluster of %s from its host aggregate, "
                "keeping %r: %s",
                self.host,
                self.current(),
                exc,
            )
            return
        if name is None:
            LOG.warning(
                "No host aggregate of %s has a cluster name, keeping %r",
                self.host,
                self.current(),
            )
            return
        if not _USABLE.match(name):
            LOG.error(
                "The host aggregate of %s gives the cluster name %r, which "
                "the collector would refuse (longer than 255 characters "
                "or a control character), keeping %r",
                self.host,
                name,
                self.current(),
            )
            return
        if name != self._known:
            LOG.info("Cluster of %s is now %r", self.host, name)
        self._known = name

    def start(self) -> None:
        """Refresh now and then every interval, in a daemon thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._run, name="ha-cluster-refresh", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self.refresh_once()
            self._stopped.wait(self.refresh_interval)


def _ceilometer_nova(conf: cfg.ConfigOpts) -> typing.Any:
    # Imported late: only aggregate users need Nova and Keystone.
    from ceilometer import nova_client

    return nova_client.Client(conf).nova_client


def nova_aggregate_lookup(
    conf: cfg.ConfigOpts,
    metadata_key: str,
    make_client: typing.Callable[[cfg.ConfigOpts], typing.Any] = (
        _ceilometer_nova
    ),
) -> AggregateLookup:
    """A look-up through ceilometer's Nova client and credentials.

    The client (``make_client(conf)``), with its Keystone session and
    token, is made once and kept: Keystone is asked again when the
    token expires, not at every refresh. A look-up that fails drops it,
    so that the next one starts from a new session.
    """
    made: list[typing.Any] = []

    def lookup(host: str) -> str | None:
        if not made:
            made.append(make_client(conf))
        try:
            aggregates = made[0].aggregates.list()
        except Exception:
            made.clear()
            raise
        for aggregate in aggregates:
            if host in (aggregate.hosts or []):
                name = (aggregate.metadata or {}).get(metadata_key)
                if name:
                    return str(name)
        return None

    return lookup


def source_for(conf: cfg.ConfigOpts) -> ClusterNameSource:
    """The process-wide cluster name source of ``conf`` (one thread)."""
    opts.register_compute_opts(conf)
    return _sources.get(conf)


def build_source(
    conf: cfg.ConfigOpts, lookup: AggregateLookup | None = None
) -> ClusterNameSource:
    """A new source for ``conf``; aggregate sources are started."""
    compute = conf.compute
    if compute.cluster_source != "aggregate":
        return ClusterNameSource(compute.cluster)
    source = AggregateClusterName(
        conf.host,
        compute.cluster,
        lookup or nova_aggregate_lookup(conf, compute.cluster_metadata_key),
        compute.cluster_refresh_interval,
    )
    source.start()
    return source


_sources: per_conf.PerConf[ClusterNameSource] = per_conf.PerConf(build_source)
