"""The polling and pipeline files a compute configuration names, loaded.

``[polling] cfg_file`` and ``[DEFAULT] pipeline_cfg_file`` (the same
combined ``pipeline_ha.yaml`` in the shipped configuration) are read by
the agent's polling worker when it starts, by ceilometer's own
``PollingManager`` and ``SamplePipelineManager``. A file that does not
load makes that worker exit at once, and cotyledon start it again,
forever: the agent runs, publishes nothing, and the host goes ``stale``.
``ceilometer-ha check-config`` (before every start and reload of the
shipped units) loads them the same way, so that such a file stops the
start or the reload instead.
"""

from oslo_config import cfg


def _set_in_a_file(conf: cfg.ConfigOpts, name: str, group: str | None) -> bool:
    try:
        where = conf.get_location(name, group)
    except (cfg.Error, ValueError):
        return False
    return where is not None and where.location == cfg.Locations.user


def problems(conf: cfg.ConfigOpts) -> list[str]:
    """Why the files this configuration names would not load, if so.

    Only the files it names itself: a controller's file names none, and
    the defaults (``polling.yaml``, ``pipeline.yaml``) are ceilometer's
    own service's.
    """
    # Imported late: loading ceilometer's managers is heavy.
    from ceilometer.pipeline import sample as sample_pipeline
    from ceilometer.polling import manager as polling_manager

    failed: dict[tuple[str, str], list[str]] = {}
    for group, name, load in (
        ("polling", "cfg_file", polling_manager.PollingManager),
        (None, "pipeline_cfg_file", sample_pipeline.SamplePipelineManager),
    ):
        if not _set_in_a_file(conf, name, group):
            continue
        try:
            load(conf)
        except Exception as exc:  # whatever the YAML or ceilometer raises
            value = getattr(conf[group] if group else conf, name)
            why = " ".join(str(exc).split())
            failed.setdefault((value, why), []).append(
                f"[{group or 'DEFAULT'}] {name}"
            )
    # One line per file and cause: the shipped file serves both options.
    return [
        f"{' and '.join(labels)} {value}: cannot be loaded: {why}"
        for (value, why), labels in failed.items()
    ]
