"""Where ``[DEFAULT] pipeline_cfg_file`` sends the meters, read from
the file without loading its publishers (loading a ``gnocchi://`` one
asks Keystone; loading a ``udp://`` one looks its host up).

:func:`unpublished` finds the meters that no sink sends to a collector
at all (ceilometer's default ``pipeline.yaml`` sends every meter to
Gnocchi); :func:`collectors_by_name` and :func:`mistyped_collectors`
the ``udp://`` URLs whose host would lose samples.
"""

import socket
import typing

from oslo_config import cfg


class Routes(typing.NamedTuple):
    """``[DEFAULT] pipeline_cfg_file`` as read by :func:`read_routes`."""

    # Each source, and the names of its sinks.
    sources: list[tuple[typing.Any, list[str]]]
    # Each sink's publisher URLs, by sink name.
    urls: dict[str, list[str]]


def read_routes(conf: cfg.ConfigOpts) -> Routes | str:
    """The sources and sinks of ``[DEFAULT] pipeline_cfg_file``, or why
    the file cannot be read.

    The file is found as ceilometer finds it (ceilometer's own
    ``pipeline.yaml`` when unset) and read without loading its
    publishers: loading a ``gnocchi://`` one asks Keystone.
    """
    from ceilometer import agent
    from ceilometer.pipeline import sample as sample_pipeline

    try:
        definition = agent.ConfigManagerBase(conf).load_config(
            conf.pipeline_cfg_file
        )
        urls = {
            sink["name"]: sink.get("publishers") or []
            for sink in definition["sinks"]
        }
        sources = [
            (sample_pipeline.SampleSource(source), source.get("sinks") or [])
            for source in definition["sources"]
        ]
    except Exception as exc:  # whatever the YAML or ceilometer raises
        why = " ".join(str(exc).split())
        return f"cannot be loaded ({why or type(exc).__name__})"
    return Routes(sources, urls)


def _collector_host(url: str) -> str | None:
    """The host a ``udp://`` publisher URL sends to, if it is one."""
    from oslo_utils import netutils

    parsed = netutils.urlsplit(url if "://" in url else url + "://")
    return parsed.hostname if parsed.scheme == "udp" else None


def unpublished(routes: Routes, meters: list[str]) -> list[str]:
    """Which of ``meters`` no sink publishes to a collector (a
    ``udp://`` URL that names a host)."""
    collected = {
        meter
        for meter in meters
        for source, sinks in routes.sources
        if source.support_meter(meter)
        and any(
            _collector_host(url)
            for sink in sinks
            for url in routes.urls.get(sink, [])
        )
    }
    return [meter for meter in meters if meter not in collected]


def collectors_by_name(routes: Routes) -> list[str]:
    """The ``udp://`` publisher URLs that name their collector by a
    host name, not an IP address.

    ceilometer's UDP publisher passes the name to every ``sendto``, so
    it is looked up for every datagram: while the name does not resolve
    (a DNS outage) every sample is lost, and each loss logged.
    """
    from oslo_utils import netutils

    return _collector_urls(
        routes,
        lambda host: not netutils.is_valid_ip(host) and not _mistyped_ip(host),
    )


def mistyped_collectors(routes: Routes) -> list[str]:
    """The ``udp://`` URLs whose host is digits and dots but no IPv4
    address (``10.0.0.300``): no such name resolves, and every sample
    sent there is lost."""
    return _collector_urls(routes, _mistyped_ip)


def _collector_urls(
    routes: Routes, chosen: typing.Callable[[str], bool]
) -> list[str]:
    """Each ``udp://`` URL of the sinks, once, whose host is ``chosen``."""
    found = []
    for urls in routes.urls.values():
        for url in urls:
            host = _collector_host(url)
            if host and chosen(host) and url not in found:
                found.append(url)
    return found


def _mistyped_ip(host: str) -> bool:
    if not host.replace(".", "").isdigit():
        return False
    # What the socket takes for an IPv4 address (127.1 too), without a
    # name look-up.
    try:
        socket.getaddrinfo(
            host, None, socket.AF_INET, 0, 0, socket.AI_NUMERICHOST
        )
    except OSError:
        return True
    return False
