"""Compute settings that are valid but probably not meant.

The agent runs with them (someone may deliberately route the samples
over the message bus) and logs them once at WARNING
(``validate.enforce``); ``ceilometer-ha check-config`` reports the
ones with which no sample would reach the collectors as errors
(:func:`delivery_problems`), so that the unit's ``ExecStartPre=``
refuses to start such an agent, and the others as warnings.
"""

from oslo_config import cfg

from ceilometer_ha.pollsters import pipeline_files

HA_METERS = [
    f"ha.{network}.{kind}"
    for network in ("storage", "management", "tenant")
    for kind in ("reachable", "loss", "rtt")
] + ["ha.hypervisor.up", "ha.heartbeat"]

# The meters of one ping run: a source polling any of them waits for it.
_PING_METERS = [
    m for m in HA_METERS if m.rsplit(".", 1)[1] in ("reachable", "loss", "rtt")
]


def no_storage_address(conf: cfg.ConfigOpts) -> str | None:
    """The advice when only management or tenant addresses are set.

    The compute options must be registered and valid.
    """
    if conf.compute.storage_server_address:
        return None
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
    namespaces = _option(conf, None, "polling_namespaces")
    if not namespaces or "compute" not in namespaces:
        return None
    return (
        "[DEFAULT] polling_namespaces includes compute: ceilometer's "
        "instance pollsters are loaded too, and their libvirt connection "
        "at start has no timeout, so a libvirtd that accepts and never "
        "answers stops every health sample; set it to ha (the shipped "
        "units pass --polling-namespaces ha, which overrides the file)"
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
    ``sources``: what :func:`polled_sources` returned, if read already.
    """
    if sources is None:
        sources = polled_sources(conf)
    if isinstance(sources, str):
        return None  # reported by delivery_problems
    intervals = [
        s.interval
        for s in sources
        if any(s.support_meter(m) for m in _PING_METERS)
    ]
    if not intervals:
        return None
    c = conf.compute
    bound = (c.ping_count - 1) * c.ping_interval + c.ping_timeout
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


def advise_compute_conf(conf: cfg.ConfigOpts) -> list[str]:
    """Settings that are valid but probably not meant; each names its option.

    The agent runs anyway (someone may deliberately route samples over
    the message bus), but says so once at WARNING: with ceilometer's
    defaults the health samples would silently go nowhere useful.
    """
    advice = []
    sources = polled_sources(conf)
    checks = (
        no_storage_address,
        compute_namespace,
        lambda c: slow_cycle(c, sources),
    )
    for check in checks:
        try:
            found = check(conf)
        except (cfg.Error, ValueError):
            found = None  # a bad value, which validation reports
        if found:
            advice.append(found)
    return advice + delivery_problems(conf, sources=sources)


def delivery_problems(
    conf: cfg.ConfigOpts,
    named_load_errors: bool = True,
    sources: list | str | None = None,
) -> list[str]:
    """Settings with which no health sample reaches the collectors, each
    naming its option and the fix.

    ``[publisher_notifier] telemetry_driver`` other than ``ha_pipeline``
    (ceilometer's default sends the samples to the message bus), a
    ``[polling] cfg_file`` (ceilometer's default ``polling.yaml`` when
    unset) that selects no ``ha.*`` meter or cannot be loaded (the
    polling worker then exits at every start), and a ``[DEFAULT]
    pipeline_cfg_file`` (ceilometer's ``pipeline.yaml``, to Gnocchi, when
    unset) that sends some polled ``ha.*`` meter to no collector.
    ``named_load_errors``
    false leaves out a polling file that the configuration names itself
    and that cannot be loaded: ``pipeline_files.problems`` reports it.
    ``sources``: what :func:`polled_sources` returned, if read already.
    """
    problems = []
    driver = _option(conf, "publisher_notifier", "telemetry_driver")
    if driver is not None and driver != "ha_pipeline":
        problems.append(
            f"[publisher_notifier] telemetry_driver is {driver!r}: samples "
            "go to the message bus, not straight to the collectors; set "
            "it to ha_pipeline"
        )
    polling_file = _option(conf, "polling", "cfg_file")
    if polling_file is None:
        return problems
    named = pipeline_files.set_in_a_file(conf, "cfg_file", "polling")
    label = f"[polling] cfg_file {polling_file}"
    if not named:
        label += " (ceilometer's default)"
    if sources is None:
        sources = polled_sources(conf)
    meters = (
        sources
        if isinstance(sources, str)
        else [m for m in HA_METERS if any(s.support_meter(m) for s in sources)]
    )
    if isinstance(meters, str):
        if named_load_errors or not named:
            problems.append(
                f"{label}: {meters}: the polling worker would exit at "
                "every start; point it at pipeline_ha.yaml"
            )
    elif not meters:
        problems.append(
            f"{label} polls no ha.* meter; point it at pipeline_ha.yaml"
        )
    elif driver == "ha_pipeline":
        problems += _unpublished(conf, meters)
    return problems


def _unpublished(conf: cfg.ConfigOpts, meters: list[str]) -> list[str]:
    """The polled ``meters`` that the in-process pipeline would send to
    no collector: the controllers would judge the host without them."""
    named = pipeline_files.set_in_a_file(conf, "pipeline_cfg_file", None)
    label = f"[DEFAULT] pipeline_cfg_file {conf.pipeline_cfg_file}"
    if not named:
        label += " (ceilometer's default)"
    missing = pipeline_files.unpublished(conf, meters)
    if isinstance(missing, str):
        # A file the configuration names: pipeline_files.problems
        # reports it, and the agent's in-process driver logs it.
        return [] if named else [f"{label}: {missing}"]
    if not missing:
        return []
    return [
        f"{label} sends {', '.join(missing)} to no collector (no sink "
        "with a udp:// publisher naming a host): the controllers never "
        "see them; point it at pipeline_ha.yaml"
    ]


def _option(conf: cfg.ConfigOpts, group: str | None, name: str):
    try:
        return getattr(getattr(conf, group) if group else conf, name)
    except (cfg.NoSuchOptError, AttributeError):
        return None


def polled_sources(conf: cfg.ConfigOpts) -> list | str:
    """The polling file's sources, or why it cannot be loaded."""
    # Imported late: the check-config command may run without an agent.
    from ceilometer.polling import manager as polling_manager

    try:
        return list(polling_manager.PollingManager(conf).sources)
    except Exception as exc:  # any YAML or ceilometer config error
        why = " ".join(str(exc).split())
        return f"cannot be loaded ({why or type(exc).__name__})"
