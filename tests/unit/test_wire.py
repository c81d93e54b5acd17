"""The datagram codec on captured datagrams and ceilometer-made messages."""

import datetime
import json
import math
import pathlib

from ceilometer import sample as ceilometer_sample
from ceilometer.publisher import utils
import msgpack
import pytest

from ceilometer_ha import rejection
from ceilometer_ha import sample_fields
from ceilometer_ha import signing
from ceilometer_ha import wire

SECRET = "nmWpu7Pu8DDWhQ3oPaBpVQjn"
DATA = pathlib.Path(__file__).parent / "data"
# The captured datagrams were stamped 2026-11-22T03:00:00.25Z.
CAPTURE_TIME = datetime.datetime(2026, 11, 22, 3, 0, 1)


class FakeClock:
    """A collector clock the test moves by hand."""

    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def _decoder(now=CAPTURE_TIME, secret=SECRET, window=300, max_size=16384):
    return wire.DatagramDecoder(
        signing.Signer(secret), max_size, window, FakeClock(now)
    )


def _datagram(fixture):
    return (DATA / f"{fixture}.msgpack").read_bytes()


def _reason(decoder, data):
    with pytest.raises(rejection.DatagramError) as err:
        decoder.decode(data)
    return err.value.reason


def _pack(metadata=None, secret=SECRET, timestamp=None, **fields):
    smp = ceilometer_sample.Sample(
        name=fields.pop("name", "ha.heartbeat"),
        type="gauge",
        unit="s",
        volume=fields.pop("volume", 1),
        user_id=None,
        project_id=None,
        resource_id=fields.pop("resource_id", "compute-1"),
        timestamp=timestamp or "2026-11-22T03:00:00.5",
        resource_metadata=(
            {"host": "compute-1"} if metadata is None else metadata
        ),
    )
    message = utils.meter_message_from_counter(smp, "")
    message.update(fields)
    message["message_signature"] = utils.compute_signature(message, secret)
    return msgpack.dumps(message, use_bin_type=True)


def test_captured_plain_datagram_decodes():
    record = _decoder().decode(_datagram("signed_plain"))
    assert record.message_id == "6f1c55a2-8c2e-11f1-9b2e-525400a1b2c3"
    assert record.host == "compute-1"
    assert record.cluster == "rack-a"
    assert record.meter == "ha.storage.reachable"
    assert record.resource_id == "compute-1-192.0.2.10"
    assert record.volume == 1.0
    assert record.unit == "B"
    assert record.source == "openstack"
    assert record.timestamp == datetime.datetime(2026, 11, 22, 3, 0, 0, 250000)
    assert record.recorded_at == CAPTURE_TIME


def test_captured_nested_unicode_datagram_decodes():
    record = _decoder().decode(_datagram("signed_nested"))
    assert record.host == "计算节点-2"
    assert record.cluster == "机架-b"
    assert record.volume == 0.25
    metadata = json.loads(record.resource_metadata)
    assert metadata["probe"] == {
        "count": 4,
        "lost": [1],
        "note": "ünïcode",
    }
    assert metadata["addresses"] == ["192.0.2.10", "2001:db8::20"]
    assert "ünïcode" in record.resource_metadata  # UTF-8, not \u escapes


def test_metadata_is_held_as_json_text_of_about_the_datagram_size():
    # A 16 KiB datagram of empty maps would take over a megabyte held
    # as Python objects; as text it takes about its datagram's size.
    packed = {"host": "compute-1", "x": [{}] * 5000}
    data = _pack(packed)
    record = _decoder().decode(data)
    assert isinstance(record.resource_metadata, str)
    assert json.loads(record.resource_metadata) == packed
    assert len(record.resource_metadata) < 3 * len(data)


def test_metadata_too_deep_for_json_is_invalid():
    # Deeper than any datagram msgspec decodes (as deep as the stack
    # allows), made in Python and validated as a decoded message is.
    message = msgpack.unpackb(_pack(), raw=False)
    deep = message["resource_metadata"]
    for _ in range(5000):
        deep = {"host": "compute-1", "x": deep}
    message["resource_metadata"] = deep
    with pytest.raises(rejection.DatagramError) as exc:
        _decoder().validate(message)
    assert exc.value.reason == rejection.INVALID
    assert exc.value.detail == "nested too deeply"


@pytest.mark.parametrize(
    "fixture, reason",
    [
        ("forged", rejection.BAD_SIGNATURE),
        ("unsigned", rejection.UNSIGNED),
        ("truncated", rejection.UNDECODABLE),
    ],
)
def test_captured_bad_datagrams_are_rejected(fixture, reason):
    assert _reason(_decoder(), _datagram(fixture)) == reason


def test_wrong_secret_is_bad_signature():
    decoder = _decoder(secret="another secret")
    assert (
        _reason(decoder, _datagram("signed_plain")) == rejection.BAD_SIGNATURE
    )


def _detail(decoder, data):
    with pytest.raises(rejection.DatagramError) as err:
        decoder.decode(data)
    return err.value.detail


def test_signature_rejections_name_the_host_the_message_claims():
    """A host whose secret differs looks silent to the verdicts: the
    log line about its samples names it."""
    data = _pack({"host": "compute-7"}, secret="another secret")
    detail = _detail(_decoder(), data)
    assert detail == "signature does not match (claims host 'compute-7')"
    unsigned = msgpack.loads(_pack({"node": "compute-8"}))
    del unsigned["message_signature"]
    detail = _detail(_decoder(), msgpack.dumps(unsigned))
    assert detail == "no message_signature (claims host 'compute-8')"


@pytest.mark.parametrize(
    "metadata",
    [{"host": "evil\nhost"}, {"host": "x" * 256}, {"host": 7}, {}],
)
def test_claimed_host_is_named_only_when_it_would_be_valid(metadata):
    data = _pack(metadata, secret="another secret")
    assert _detail(_decoder(), data) == "signature does not match"


def test_a_signature_resplit_into_a_new_message_id_is_invalid():
    """ceilometer signs the bare concatenation of keys and values, so a
    captured datagram re-split at a key boundary still verifies, with a
    new message_id: a replay that dedup by message_id would store."""
    message = msgpack.loads(_pack())
    forged = {k: v for k, v in message.items() if k != "monotonic_time"}
    forged["message_id"] = message["message_id"] + "m"
    forged["onotonic_time"] = message["monotonic_time"]
    assert utils.verify_signature(forged, SECRET)
    data = msgpack.dumps(forged, use_bin_type=True)
    assert _reason(_decoder(), data) == rejection.INVALID
    assert "message_id is not a UUID" in _detail(_decoder(), data)


@pytest.mark.parametrize(
    "message_id",
    [
        "m-1",
        "6F1C55A2-8C2E-11F1-9B2E-525400A1B2C3",
        "6f1c55a2-8c2e-11f1-9b2e-525400a1b2c3\n",
        "6f1c55a28c2e11f19b2e525400a1b2c3",
    ],
)
def test_message_id_must_be_a_uuid_as_ceilometer_writes_it(message_id):
    data = _pack(message_id=message_id)
    assert _reason(_decoder(), data) == rejection.INVALID


def test_empty_secret_skips_verification():
    record = _decoder(secret="").decode(_datagram("unsigned"))
    assert record.host == "compute-1"


def test_oversized_is_rejected_unread():
    decoder = _decoder(max_size=512)
    assert _reason(decoder, b"\x80" * 513) == rejection.OVERSIZED


@pytest.mark.parametrize(
    "data",
    [b"", b"\xc1", b"\x93\x01\x02\x03", b"not msgpack at all", b"\xa3abc"],
)
def test_junk_is_undecodable(data):
    assert _reason(_decoder(), data) == rejection.UNDECODABLE


@pytest.mark.parametrize(
    "seconds, reason, said",
    [
        (-301, rejection.STALE, "301 s behind"),
        (301, rejection.FUTURE, "301 s ahead of"),
    ],
)
def test_outside_freshness_window(seconds, reason, said):
    """Refused, and the log says how far the sender's clock is off: a
    host whose clock is wrong has every sample refused."""
    now = datetime.datetime(2026, 11, 22, 3, 0, 0, 500000)
    decoder = _decoder(now=now + datetime.timedelta(seconds=-seconds))
    with pytest.raises(rejection.DatagramError) as err:
        decoder.decode(_pack())
    assert err.value.reason == reason
    assert f"{said} the collector's clock" in str(err.value)
    assert err.value.detail.startswith("host 'compute-1': timestamp ")


@pytest.mark.parametrize("seconds", [-299, 0, 299])
def test_inside_freshness_window(seconds):
    now = datetime.datetime(2026, 11, 22, 3, 0, 0, 500000)
    decoder = _decoder(now=now + datetime.timedelta(seconds=seconds))
    assert decoder.decode(_pack()).meter == "ha.heartbeat"


def test_timezone_offsets_are_normalised_to_utc():
    data = _pack(timestamp="2026-11-22T11:00:00.5+08:00")
    record = _decoder().decode(data)
    assert record.timestamp == datetime.datetime(2026, 11, 22, 3, 0, 0, 500000)


@pytest.mark.parametrize(
    "fields",
    [
        {"volume": True},
        {"volume": math.nan},
        {"volume": math.inf},
        {"counter_volume": "1"},
        {"counter_name": ""},
        {"counter_name": "x" * 256},
        {"resource_id": 5},
        {"message_id": "m" * 65},
        {"timestamp": "yesterday"},
        {"timestamp": 1700000000},
        {"timestamp": "0001-01-01T00:00:00+01:00"},
        {"timestamp": "9999-12-31T23:59:59-01:00"},
        {"resource_metadata": ["not", "a", "map"]},
        {"resource_metadata": {"cluster": "no host"}},
        {"resource_metadata": {"host": "h", "cluster": 7}},
        {"resource_metadata": {"host": "h" * 256}},
        {"counter_unit": 3},
        # Control characters in the names that key the tables, which
        # the reports split their texts on.
        {"resource_metadata": {"host": "h", "cluster": "rack-1\nrack-2"}},
        {"resource_metadata": {"host": "h\tx"}},
        {"resource_metadata": {"node": "h\x1f"}},
        {"counter_name": "ha.heartbeat\n"},
        {"resource_id": "h-198.51.100.2\x7f"},
        # Line breaks and terminal escapes beyond ASCII.
        {"resource_metadata": {"host": "compute-1\x85FAKE ok"}},
        {"resource_metadata": {"host": "h", "cluster": "rack\u2028x"}},
        {"resource_metadata": {"host": "h\u2029"}},
        {"resource_id": "h\x9b2J"},
    ],
)
def test_invalid_fields_are_rejected(fields):
    metadata = fields.pop("resource_metadata", None)
    assert _reason(_decoder(), _pack(metadata, **fields)) == rejection.INVALID


def test_names_may_hold_any_printable_character():
    record = _decoder().decode(
        _pack({"host": "c\u00f6mpute 1", "cluster": "rack\u00a01"})
    )
    assert (record.host, record.cluster) == ("c\u00f6mpute 1", "rack\u00a01")


def test_node_is_the_host_fallback_and_cluster_defaults():
    record = _decoder().decode(_pack({"node": "compute-9"}))
    assert record.host == "compute-9"
    assert record.cluster == sample_fields.DEFAULT_CLUSTER


def test_integer_volume_becomes_float():
    record = _decoder().decode(_pack(volume=3))
    assert record.volume == 3.0
    assert isinstance(record.volume, float)


def test_datagrams_unpack_as_msgpack_does():
    for name in ("signed_plain", "signed_nested"):
        data = _datagram(name)
        assert _decoder().unpack(data) == msgpack.unpackb(data, raw=False)


def test_extension_types_are_undecodable():
    # ceilometer never sends them; a signed one is refused all the same.
    message = msgpack.unpackb(_pack(), raw=False)
    message["resource_metadata"]["odd"] = msgpack.ExtType(5, b"xx")
    assert _reason(_decoder(), msgpack.dumps(message)) == rejection.UNDECODABLE


class DeepSigner(signing.Signer):
    """Runs out of stack as a metadata nested past the limit makes it."""

    def verify(self, message):
        raise RecursionError("maximum recursion depth exceeded")


def test_metadata_too_deep_to_verify_is_invalid_not_an_internal_error():
    decoder = wire.DatagramDecoder(
        DeepSigner(SECRET), 16384, 300, FakeClock(CAPTURE_TIME)
    )
    assert _reason(decoder, _pack()) == rejection.INVALID
