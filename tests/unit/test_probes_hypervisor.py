"""The libvirt probe: up, down with a reason, bounded by its timeout."""

import pytest

from ceilometer_ha.probes import hypervisor
from tests.unit import fakes


def test_up_with_version_and_domains():
    libvirt = fakes.FakeLibvirt()
    prober = hypervisor.HypervisorProber("test:///x", 1.0, libvirt)
    status = prober.check()
    assert (status.up, status.version, status.domains) == (True, 9000000, 2)
    assert status.reason is None
    assert libvirt.opened == ["test:///x"]
    assert libvirt.closed == 1


def test_libvirt_error_is_down_with_reason():
    libvirt = fakes.FakeLibvirt(fail="Failed to connect socket")
    status = hypervisor.HypervisorProber(
        "qemu:///system", 1.0, libvirt
    ).check()
    assert not status.up
    assert "Failed to connect socket" in status.reason


def test_hung_libvirt_is_down_and_not_asked_twice():
    libvirt = fakes.FakeLibvirt(hang=True)
    prober = hypervisor.HypervisorProber("qemu:///system", 0.2, libvirt)
    try:
        first = prober.check()
        second = prober.check()
    finally:
        libvirt.release.set()
        prober.close()
    assert not first.up and "no answer" in first.reason
    assert not second.up and "still running" in second.reason
    assert libvirt.opened == ["qemu:///system"]


@pytest.mark.parametrize(
    "uri, kind, expected",
    [
        ("test:///default", "kvm", "test:///default"),
        ("", "kvm", "qemu:///system"),
        ("", "lxc", "lxc:///"),
        (None, "parallels", "parallels:///system"),
    ],
)
def test_uri_as_ceilometer_chooses_it(uri, kind, expected):
    assert hypervisor.libvirt_uri(uri, kind) == expected


def test_real_libvirt_test_driver():
    """libvirt's own test driver: a real connection without a daemon."""
    try:
        prober = hypervisor.HypervisorProber("test:///default", 5.0)
    except hypervisor.HypervisorUnavailableError as exc:
        pytest.skip(str(exc))
    status = prober.check()
    assert status.up, status.reason
    assert status.domains == 1  # the test driver's one running domain
