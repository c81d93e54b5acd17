"""Is the local hypervisor answering? A bounded libvirt read-only check.

:class:`HypervisorProber` opens a read-only libvirt connection, asks for
the library version and the running domains, and closes it. The call
runs in one worker thread and is given ``timeout`` seconds: a libvirtd
that hangs makes the check report ``down`` in time instead of stalling
the polling cycle. While a hung call is still running no second one is
started, so a dead daemon never piles up threads.

The libvirt binding is imported when the prober is built; without it
:class:`HypervisorUnavailableError` says why. This module never imports
ceilometer.
"""

import concurrent.futures
import importlib
import threading
import time
import types

from oslo_log import log

from ceilometer_ha.probes import results as probe_results

LOG = log.getLogger(__name__)

DEFAULT_URI = "qemu:///system"
# The URIs ceilometer derives from [DEFAULT] libvirt_type.
URI_BY_TYPE = {"parallels": "parallels:///system", "lxc": "lxc:///"}


class HypervisorUnavailableError(RuntimeError):
    """The hypervisor cannot be checked at all on this host."""


def libvirt_uri(uri: str | None, hypervisor_type: str | None) -> str:
    """The URI ceilometer itself would use for these two options."""
    if uri:
        return uri
    return URI_BY_TYPE.get(hypervisor_type or "", DEFAULT_URI)


def load_libvirt() -> types.ModuleType:
    """The libvirt binding, or :class:`HypervisorUnavailableError`."""
    try:
        return importlib.import_module("libvirt")
    except ImportError as exc:
        raise HypervisorUnavailableError(
            f"the libvirt Python binding is not installed ({exc}); "
            "install libvirt-python into the ceilometer environment"
        ) from exc


class HypervisorProber:
    """Checks one libvirt URI; ``check()`` never blocks past ``timeout``."""

    def __init__(
        self,
        uri: str,
        timeout: float = 2.0,
        libvirt_module: types.ModuleType | None = None,
    ) -> None:
        self.uri = uri
        self.timeout = timeout
        self._libvirt = libvirt_module or load_libvirt()
        # libvirt prints every error to stderr by default; the reason of
        # a failed check travels in the sample instead.
        register = getattr(self._libvirt, "registerErrorHandler", None)
        if register is not None:
            register(lambda _ctx, _err: None, None)
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="ha-hypervisor"
        )
        self._lock = threading.Lock()
        self._running: concurrent.futures.Future | None = None

    def check(self) -> probe_results.HypervisorStatus:
        """Up with version and domain count, or down with a reason."""
        started = time.monotonic()
        with self._lock:
            if self._running is not None and not self._running.done():
                return probe_results.HypervisorStatus(
                    up=False,
                    reason=(
                        "previous check still running: libvirt did not "
                        f"answer {self.uri} within {self.timeout} s"
                    ),
                )
            self._running = self._executor.submit(self._ask)
            running = self._running
        try:
            version, domains = running.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            reason = f"no answer from {self.uri} within {self.timeout} s"
            return self._down(reason, started)
        except Exception as exc:  # any libvirt failure means down
            return self._down(f"{type(exc).__name__}: {exc}", started)
        return probe_results.HypervisorStatus(
            up=True,
            version=version,
            domains=domains,
            duration=time.monotonic() - started,
        )

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _ask(self) -> tuple[int, int]:
        conn = self._libvirt.openReadOnly(self.uri)
        if conn is None:
            raise HypervisorUnavailableError(f"cannot open {self.uri}")
        try:
            return int(conn.getLibVersion()), len(conn.listDomainsID())
        finally:
            conn.close()

    @staticmethod
    def _down(reason: str, started: float) -> probe_results.HypervisorStatus:
        return probe_results.HypervisorStatus(
            up=False, reason=reason, duration=time.monotonic() - started
        )
