"""Compute settings that are valid but probably not meant.

The agent runs with them and logs them once at WARNING
(``validate.enforce``), with the settings of ``delivery`` under which no
sample would reach the collectors; ``ceilometer-ha check-config``
reports these as warnings (:func:`compute_warnings`), those as errors.
"""

import typing

from oslo_config import cfg

from ceilometer_ha import opts
from ceilometer_ha.pollsters import delivery
from ceilometer_ha.pollsters import pipeline_routes

# The meters of one ping run: a source polling any of them waits for it.
_PING_METERS = [
    m
    for m in delivery.HA_METERS
    if m.rsplit(".", 1)[1] in ("reachable", "loss", "rtt")
]
# The controllers' stale window, in intervals, unless they change it.
DEFAULT_STALE_CYCLES = next(
    o.default for o in opts.HEALTH_OPTS if o.name == "stale_cycles"
)
# Echo requests per cycle, over all storage addresses, below which a
# lossy link empties whole cycles often: at 30 % random loss, 0.3 ** 4
# (0.8 %) of cycles lose all four, and three in a row fail a host about
# once in two million cycles; with three requests, once in 50,000.
MIN_STORAGE_REQUESTS = 4


def no_storage_address(conf: cfg.ConfigOpts) -> str | None:
    """The advice when only management or tenant addresses are set.

    The compute options must be registered and valid.
    """
    c = conf.compute
    if c.storage_server_address:
        return None
    if not (c.management_address or c.tenant_address):
        return None  # no address at all: validate.missing_address
    return (
        "[compute] storage_server_address is empty: no ha.storage.* "
        "sample is sent, and the verdicts never find this host's "
        "storage cut (only management_address or tenant_address is "
        "pinged)"
    )


def compute_namespace(conf: cfg.ConfigOpts) -> str | None:
    """The advice when the agent loads ceilometer's compute pollsters.

    With the ``compute`` namespace (ceilometer's default, and the
    deployment notes' file) the agent also loads ceilometer's instance
    pollsters, whose libvirt inspector connects when the agent starts,
    with no timeout: a libvirtd that accepts and never answers holds the
    agent before its first health sample, and the host goes stale while
    its instances may still run. ``ha`` loads only ours.
    """
    namespaces = delivery.option(conf, None, "polling_namespaces")
    if not namespaces or "compute" not in namespaces:
        return None
    return (
        "[DEFAULT] polling_namespaces includes compute: ceilometer's "
        "instance pollsters are loaded too, and their libvirt connection "
        "at start has no timeout, so a libvirtd that accepts and never "
        "answers stops every health sample; set it to ha (the shipped "
        "units pass --polling-namespaces ha, which overrides the file)"
    )


def collectors_by_name(conf: cfg.ConfigOpts) -> str | None:
    """The advice when the pipeline file names a collector by host name
    (``pipeline_routes.collectors_by_name``)."""
    routes = pipeline_routes.read_routes(conf)
    if isinstance(routes, str):
        return None  # reported by delivery.problems or problems
    named = pipeline_routes.collectors_by_name(routes)
    if not named:
        return None
    which = (
        "names the collector by host name"
        if len(named) == 1
        else "name their collectors by host name"
    )
    return (
        f"[DEFAULT] pipeline_cfg_file {conf.pipeline_cfg_file}: "
        f"{', '.join(named)} {which}, which ceilometer's UDP publisher "
        "looks up for every datagram: while it does not resolve, every "
        "sample is lost; use the collector's IP address"
    )


def slow_cycle(
    conf: cfg.ConfigOpts, sources: list | str | None = None
) -> str | None:
    """The advice when a ping run outlasts the polling interval.

    ceilometer starts the next cycle only once every pollster of the
    last one returned, so a ping run that lasts longer than the interval
    stretches every cycle: samples come less often
    than the controllers' ``[health] polling_interval`` counts them, a
    cut takes longer to fail a host, and a long enough run makes it
    stale. The compute options must be registered and valid.
    ``sources``: what :func:`delivery.polled_sources` returned, if
    read already.
    """
    if sources is None:
        sources = delivery.polled_sources(conf)
    if isinstance(sources, str):
        return None  # reported by delivery.problems
    intervals = [
        s.interval
        for s in sources
        if any(s.support_meter(m) for m in _PING_METERS)
    ]
    if not intervals:
        return None
    bound = _ping_bound(conf.compute)
    interval = min(intervals)
    if bound < interval:
        return None
    return (
        f"[compute] ping_count, ping_interval and ping_timeout make a ping "
        f"run last up to {bound:g} s, not less than the polling interval "
        f"of {interval:g} s ([polling] cfg_file): each cycle then takes "
        "that long, not the interval the controllers count cycles by "
        "([health] polling_interval); shorten ping_interval or "
        "ping_timeout, or lengthen the interval on both sides"
    )


def few_echo_requests(conf: cfg.ConfigOpts) -> str | None:
    """The advice when a cycle sends few echo requests to the storage.

    A cycle is failing when every request to every storage address is
    lost; with few requests random loss does that often enough to fail
    a healthy host. The compute options must be registered and valid.
    """
    c = conf.compute
    addresses = len(c.storage_server_address)
    requests = c.ping_count * addresses
    if not addresses or requests >= MIN_STORAGE_REQUESTS:
        return None
    return (
        f"[compute] ping_count = {c.ping_count} with {addresses} storage "
        f"address{'es' if addresses > 1 else ''}: {requests} echo "
        f"request{'s' if requests > 1 else ''} per cycle in all; at 30 % "
        f"random loss {0.3**requests:.1%} of cycles lose every one, and a "
        "few such cycles in a row fail a healthy host; send at least "
        f"{MIN_STORAGE_REQUESTS} in all (ping_count's default is 4)"
    )


def hung_hypervisor(
    conf: cfg.ConfigOpts, sources: list | str | None = None
) -> str | None:
    """The advice when a hung libvirtd could make the host look stale.

    The hypervisor check waits up to ``hypervisor_timeout`` for an
    answer, and the cycle (heartbeat included) waits for the check: the
    cycle it hangs in lasts that long plus the ping run. Advised when
    that comes within an interval of the controllers' default stale
    window. The compute options must be registered and valid.
    """
    if sources is None:
        sources = delivery.polled_sources(conf)
    if isinstance(sources, str):
        return None  # reported by delivery.problems
    checked = [
        s.interval
        for s in sources
        if s.support_meter(delivery.HYPERVISOR_METER)
    ]
    if not checked:
        return None
    c = conf.compute
    pinged = any(s.support_meter(m) for s in sources for m in _PING_METERS)
    ping = _ping_bound(c) if pinged else 0.0
    interval = min(checked)
    window = DEFAULT_STALE_CYCLES * interval
    if ping >= interval or ping + c.hypervisor_timeout < window - interval:
        return None  # the first: slow_cycle's advice
    return (
        f"[compute] hypervisor_timeout = {c.hypervisor_timeout:g}: a "
        "libvirtd that does not answer holds the cycle it hangs in, "
        f"heartbeat included, up to {ping + c.hypervisor_timeout:g} s "
        "with the ping run, and the controllers find a host stale after "
        f"{window:g} s without a sample ([health] stale_cycles' default of "
        f"{DEFAULT_STALE_CYCLES} intervals of {interval:g} s); keep it "
        f"under {max(window - interval - ping, 0):g} s"
    )


def _ping_bound(c: typing.Any) -> float:
    # IcmpProber.bound's contract; not asked of a prober, whose module
    # (pollsters.address) imports this one through base and validate.
    return float((c.ping_count - 1) * c.ping_interval + c.ping_timeout)


def advise_compute_conf(conf: cfg.ConfigOpts) -> list[str]:
    """Settings that are valid but probably not meant; each names its option.

    The agent runs anyway (someone may deliberately route samples over
    the message bus), but says so once at WARNING: with ceilometer's
    defaults the health samples would silently go nowhere useful.
    """
    sources = delivery.polled_sources(conf)
    return compute_warnings(conf, sources) + delivery.problems(
        conf, sources=sources
    )


def compute_warnings(
    conf: cfg.ConfigOpts, sources: list | str | None = None
) -> list[str]:
    """The advice that is no delivery problem: samples still arrive.

    A bad value makes a check say nothing (validation reports it).
    ``sources``: what :func:`delivery.polled_sources` returned, if
    read already.
    """
    if sources is None:
        sources = delivery.polled_sources(conf)
    checks = (
        no_storage_address,
        compute_namespace,
        lambda c: slow_cycle(c, sources),
        lambda c: hung_hypervisor(c, sources),
        few_echo_requests,
        collectors_by_name,
    )
    advice = []
    for check in checks:
        try:
            found = check(conf)
        except (cfg.Error, ValueError):
            found = None  # a bad value, which validation reports
        if found:
            advice.append(found)
    return advice
