"""Compute settings with which no health sample reaches the collectors.

The agent runs with them (someone may deliberately route the samples
over the message bus) and logs them once at WARNING, with the rest of
``advice``; ``ceilometer-ha check-config`` reports them as errors, so
that the unit's ``ExecStartPre=`` refuses to start such an agent.
Each names its option and the fix.
"""

from oslo_config import cfg

from ceilometer_ha.pollsters import pipeline_files
from ceilometer_ha.pollsters import pipeline_routes

HYPERVISOR_METER = "ha.hypervisor.up"
HA_METERS = [
    f"ha.{network}.{kind}"
    for network in ("storage", "management", "tenant")
    for kind in ("reachable", "loss", "rtt")
] + [HYPERVISOR_METER, "ha.heartbeat"]


def problems(
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
    ``named_load_errors`` false leaves out a polling file that the
    configuration names itself and that cannot be loaded:
    ``pipeline_files.problems`` reports it.
    ``sources``: what :func:`polled_sources` returned, if read already.
    """
    found = []
    driver = option(conf, "publisher_notifier", "telemetry_driver")
    if driver is not None and driver != "ha_pipeline":
        found.append(
            f"[publisher_notifier] telemetry_driver is {driver!r}: samples "
            "go to the message bus, not straight to the collectors; set "
            "it to ha_pipeline"
        )
    polling_file = option(conf, "polling", "cfg_file")
    if polling_file is None:
        return found
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
            found.append(
                f"{label}: {meters}: the polling worker would exit at "
                "every start; point it at pipeline_ha.yaml"
            )
    elif not meters:
        found.append(
            f"{label} polls no ha.* meter; point it at pipeline_ha.yaml"
        )
    elif driver == "ha_pipeline":
        found += _unpublished(conf, meters)
    return found


def _unpublished(conf: cfg.ConfigOpts, meters: list[str]) -> list[str]:
    """The polled ``meters`` that the in-process pipeline would send to
    no collector: the controllers would judge the host without them."""
    named = pipeline_files.set_in_a_file(conf, "pipeline_cfg_file", None)
    label = f"[DEFAULT] pipeline_cfg_file {conf.pipeline_cfg_file}"
    if not named:
        label += " (ceilometer's default)"
    routes = pipeline_routes.read_routes(conf)
    if isinstance(routes, str):
        # A file the configuration names: pipeline_files.problems
        # reports it, and the agent's in-process driver logs it.
        return [] if named else [f"{label}: {routes}"]
    found = [
        f"{label}: {url} is no IP address (digits and dots, but not four "
        "numbers up to 255): every sample sent there is lost"
        for url in pipeline_routes.mistyped_collectors(routes)
    ]
    missing = pipeline_routes.unpublished(routes, meters)
    if missing:
        found.append(
            f"{label} sends {', '.join(missing)} to no collector (no sink "
            "with a udp:// publisher naming a host): the controllers never "
            "see them; point it at pipeline_ha.yaml"
        )
    return found


def option(conf: cfg.ConfigOpts, group: str | None, name: str):
    """An option's value, or None where it is not registered."""
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
