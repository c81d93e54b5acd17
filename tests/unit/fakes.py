"""Small fakes with the real interfaces, shared by the unit tests.

* :func:`ceilometer_conf`: a ``ConfigOpts`` with ceilometer's and our
  compute options, read from an oslo.config text, without the logging
  and report set-up of ``ceilometer.service.prepare_service``.
* :class:`FakeProber`: the :class:`~ceilometer_ha.probes.icmp.
  IcmpProber` interface, answering from canned :class:`PingResult`\\ s
  and recording every call.
* :class:`FakeHypervisor`: the ``HypervisorProber`` interface.
* :class:`FakeLibvirt`: the few calls of the libvirt module the
  hypervisor probe makes, with a switch to hang like a dead libvirtd.
* :class:`FakeAggregates`: a host aggregate look-up that can fail.
"""

import pathlib
import threading

from ceilometer import opts as ceilometer_opts
from oslo_config import cfg
from oslo_log import log

from ceilometer_ha import opts
from ceilometer_ha.probes import icmp_session
from ceilometer_ha.probes import results

BASE_CONF = """
[DEFAULT]
host = compute-1
polling_namespaces = ha
[compute]
storage_server_address = 192.0.2.10, 192.0.2.20
cluster = cluster-a
"""


def ceilometer_conf(
    tmp_path: pathlib.Path, text: str = BASE_CONF, logging: bool = False
):
    """A ceilometer agent configuration from ``text``; with oslo.log's
    options too when ``logging`` (as the agent registers them)."""
    path = tmp_path / "ceilometer_ha.conf"
    path.write_text(text)
    conf = cfg.ConfigOpts()
    if logging:
        log.register_options(conf)
    for group, options in ceilometer_opts.list_opts():
        conf.register_opts(
            list(options), group=None if group == "DEFAULT" else group
        )
    opts.register_compute_opts(conf)
    conf([], project="ceilometer", default_config_files=[str(path)])
    return conf


def ping_result(address: str, received: int = 4, count: int = 4, **kw):
    """A canned result: ``received`` of ``count`` replies, 1 ms each."""
    rtt = 1.0 if received else None
    return results.PingResult(
        address=address,
        packets_requested=count,
        packets_sent=kw.pop("sent", count),
        packets_received=received,
        min_rtt=rtt,
        avg_rtt=rtt,
        max_rtt=rtt,
        reason=kw.pop("reason", icmp_session._missing(received, count)),
        probed=kw.pop("probed", True),
    )


class FakeProber:
    """Answers ``ping`` from ``answers``; unknown addresses all reply."""

    def __init__(self, answers: dict[str, results.PingResult] | None = None):
        self.answers = dict(answers or {})
        self.calls: list[list[str]] = []
        self._lock = threading.Lock()

    def ping(self, addresses: list[str]) -> results.PingCycle:
        with self._lock:
            self.calls.append(list(addresses))
        found = {a: self.answers.get(a) or ping_result(a) for a in addresses}
        return results.PingCycle(found, duration=0.0, bound=1.0)


class FakeHypervisor:
    """Answers ``check`` with ``status``; counts the calls."""

    uri = "test:///default"

    def __init__(self, status: results.HypervisorStatus | None = None):
        self.status = status or results.HypervisorStatus(
            up=True, version=9000000, domains=1
        )
        self.calls = 0

    def check(self) -> results.HypervisorStatus:
        self.calls += 1
        return self.status


class FakeLibvirtConnection:
    def __init__(self, owner: "FakeLibvirt") -> None:
        self.owner = owner

    def getLibVersion(self) -> int:  # noqa: N802 (libvirt's name)
        if self.owner.hang:
            self.owner.release.wait(30)
        return 9000000

    def listDomainsID(self) -> list[int]:  # noqa: N802 (libvirt's name)
        return [1, 2]

    def close(self) -> None:
        self.owner.closed += 1


class FakeLibvirt:
    """The libvirt module as the hypervisor probe uses it."""

    def __init__(self, fail: str | None = None, hang: bool = False):
        self.fail = fail
        self.hang = hang
        self.release = threading.Event()
        self.opened: list[str] = []
        self.closed = 0

    def openReadOnly(self, uri: str):  # noqa: N802 (libvirt's name)
        self.opened.append(uri)
        if self.fail:
            raise RuntimeError(self.fail)
        return FakeLibvirtConnection(self)

    def registerErrorHandler(self, handler, ctx) -> None:  # noqa: N802
        self.error_handler = handler


class FakeAggregates:
    """host -> cluster look-up; ``error`` makes the next calls raise."""

    def __init__(self, clusters: dict[str, str] | None = None):
        self.clusters = dict(clusters or {})
        self.error: Exception | None = None
        self.calls = 0

    def __call__(self, host: str) -> str | None:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.clusters.get(host)
