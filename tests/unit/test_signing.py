"""ceilometer_ha.signing against ceilometer's own signing functions."""

from ceilometer import sample as ceilometer_sample
from ceilometer.publisher import utils
import pytest

from ceilometer_ha import signing

SECRET = "nmWpu7Pu8DDWhQ3oPaBpVQjn"

METADATA_CASES = [
    {},
    {"host": "compute-1", "cluster": "rack-a"},
    {"host": "计算节点", "note": "ünïcode ✓", "cluster": "机架"},
    {"addresses": ["198.51.100.1", "2001:db8::1"], "host": "h"},
    {"nested": {"deeper": {"x": 1, "y": [1, "two", 3.5]}}, "a": None},
    {"list_of_maps": [{"k": "v", "n": 2}], "tuple": (1, 2)},
    {"mixed": [b"raw", "text", None, True, 1.5e-7]},
    {"message_signature": "inner keys are not skipped"},
    {1: "int key", 2: {"3": "nested int"}},
]


def _message(metadata, volume=1, secret=SECRET):
    smp = ceilometer_sample.Sample(
        name="ha.storage.reachable",
        type="gauge",
        unit="B",
        volume=volume,
        user_id=None,
        project_id=None,
        resource_id="compute-1-storage",
        timestamp="2026-11-22T03:00:00.250000+00:00",
        resource_metadata=metadata,
        source="openstack",
    )
    return utils.meter_message_from_counter(smp, secret)


@pytest.mark.parametrize("metadata", METADATA_CASES)
@pytest.mark.parametrize("volume", [0, 1, 0.25, -3, 1e300, 2**70])
def test_signature_matches_ceilometer(metadata, volume):
    message = _message(metadata, volume)
    assert signing.compute_signature(message, SECRET) == (
        utils.compute_signature(message, SECRET)
    )
    assert signing.verify_signature(message, SECRET)
    assert utils.verify_signature(message, SECRET)


@pytest.mark.parametrize("metadata", METADATA_CASES)
def test_tampered_message_fails_like_ceilometer(metadata):
    message = _message(metadata)
    message["counter_volume"] = 0
    assert not utils.verify_signature(message, SECRET)
    assert not signing.verify_signature(message, SECRET)


def test_wrong_secret_fails():
    message = _message({"host": "h"})
    assert not signing.Signer("other secret").verify(message)


def test_non_ascii_or_non_text_signature_is_rejected():
    message = _message({"host": "h"})
    message["message_signature"] = "é" * 64
    assert not signing.verify_signature(message, SECRET)
    message["message_signature"] = 12
    assert not signing.verify_signature(message, SECRET)


def test_empty_secret_signs_nothing_and_accepts_all():
    signer = signing.Signer("")
    assert not signer.enabled
    assert signer.sign({"a": 1}) == utils.compute_signature({"a": 1}, "")
    assert signer.verify({"message_signature": "junk"})


def test_bytes_secret_equals_text_secret():
    message = _message({"host": "h"})
    assert signing.Signer(SECRET.encode()).sign(message) == (
        signing.Signer(SECRET).sign(message)
    )


def test_unsortable_keys_raise_type_error_like_ceilometer():
    message = {"resource_metadata": {1: "a", "b": 2}}
    with pytest.raises(TypeError):
        utils.compute_signature(message, SECRET)
    with pytest.raises(TypeError):
        signing.compute_signature(message, SECRET)
