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

A file can also load and publish nothing: ceilometer logs a publisher
it cannot load (``upd://`` for ``udp://``) and builds the sink without
it, and a ``udp://`` URL without a host loads but every send fails.
:func:`publisher_problems` finds both, for ``check-config`` and for the
in-process driver (``ceilometer_ha.notifier``), which logs them. Where
the sinks send each meter, read from the file without loading it, is
``pipeline_routes``.
"""

from oslo_config import cfg


def set_in_a_file(conf: cfg.ConfigOpts, name: str, group: str | None) -> bool:
    """Whether a configuration file sets the option (not its default)."""
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
    published: list[str] = []
    for group, name, load in (
        ("polling", "cfg_file", polling_manager.PollingManager),
        (None, "pipeline_cfg_file", sample_pipeline.SamplePipelineManager),
    ):
        if not set_in_a_file(conf, name, group):
            continue
        value = getattr(conf[group] if group else conf, name)
        try:
            loaded = load(conf)
        except Exception as exc:  # whatever the YAML or ceilometer raises
            why = " ".join(str(exc).split())
            failed.setdefault((value, why), []).append(
                f"[{group or 'DEFAULT'}] {name}"
            )
            continue
        if group is None:
            published += [
                f"[DEFAULT] pipeline_cfg_file {value}: {problem}"
                for problem in publisher_problems(conf, loaded)
            ]
    # One line per file and cause: the shipped file serves both options.
    return [
        f"{' and '.join(labels)} {value}: cannot be loaded: {why}"
        for (value, why), labels in failed.items()
    ] + published


def publisher_problems(conf: cfg.ConfigOpts, manager) -> list[str]:
    """The publishers of ``manager``'s sinks (a loaded
    ``SamplePipelineManager``) that would publish nothing.

    The publishers the sinks loaded are checked as they are; only a sink
    that left some out has its URLs loaded again, to learn which and why.
    """
    from ceilometer.publisher import udp

    found = []
    sinks = {id(p.sink): p.sink for p in manager.pipelines}
    for sink in sinks.values():
        urls = sink.cfg.get("publishers") or []
        if len(sink.publishers) == len(urls):
            pairs: list = list(zip(urls, sink.publishers, strict=True))
        else:
            pairs = _load_again(conf, urls)
        for url, publisher in pairs:
            if isinstance(publisher, Exception):
                why = " ".join(str(publisher).split())
                found.append(
                    f"sink {sink.name}: publisher {url} cannot be loaded "
                    f"({why or type(publisher).__name__}); ceilometer "
                    "leaves it out"
                )
            elif isinstance(publisher, udp.UDPPublisher) and (
                not publisher.host
            ):
                found.append(
                    f"sink {sink.name}: publisher {url} names no host"
                )
    return found


def reaches_collector(manager, meter: str) -> bool:
    """Whether a sink of ``manager`` (a loaded ``SamplePipelineManager``)
    publishes ``meter`` to a collector: a ``udp://`` publisher that
    loaded and names a host."""
    from ceilometer.publisher import udp

    return any(
        pipeline.source.support_meter(meter)
        and any(
            isinstance(publisher, udp.UDPPublisher) and publisher.host
            for publisher in pipeline.sink.publishers
        )
        for pipeline in manager.pipelines
    )


def _load_again(conf: cfg.ConfigOpts, urls: list[str]) -> list[tuple]:
    """(url, its publisher or the exception loading it raised), as
    ceilometer's sink loads them."""
    from ceilometer.pipeline import base as pipeline_base

    publishers = pipeline_base.PublisherManager(conf, "sample")
    pairs: list[tuple] = []
    for url in urls:
        try:
            pairs.append(
                (url, publishers.get(url if "://" in url else url + "://"))
            )
        except Exception as exc:  # whatever the plugin raises
            pairs.append((url, exc))
    return pairs
