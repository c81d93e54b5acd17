"""How batches cross the pipe to the database writer process."""

import datetime

import pytest

from ceilometer_ha.storage import child_protocol
from tests import records

T0 = datetime.datetime(2026, 11, 22, 3, 0, 0, 250001)


def _record(**changes):
    record = records.record(
        "1d541686-e636-11f1-bdb2-02fc00000001",
        meter="ha.storage.loss",
        resource_id="compute-1-198.51.100.7",
        volume=0.25,
        unit="%",
        timestamp=T0,
        recorded_at=T0.replace(microsecond=0),
        resource_metadata={
            "host": "compute-1",
            "nested": {"n": [1, "два", None, 2.5]},
        },
    )
    return record._replace(**changes)


def test_records_cross_as_msgpack_times_as_text():
    records = [_record(), _record(message_id="m2", volume=3.0)]
    payload = child_protocol.encode_batch(records)
    assert payload[:1] == b"m"
    decoded = child_protocol.decode_batch(payload)
    assert all(type(r) is child_protocol.ReceivedRecord for r in decoded)
    # Every field as sent, but the times, which come as RFC 3339 text
    # (no fraction when the microseconds are 0).
    assert decoded == [
        r._replace(
            timestamp=r.timestamp.isoformat(),
            recorded_at="2026-11-22T03:00:00",
        )
        for r in records
    ]
    assert decoded[0].timestamp == "2026-11-22T03:00:00.250001"
    assert isinstance(decoded[0].volume, float)


def test_what_msgpack_cannot_hold_crosses_as_a_pickle():
    for metadata in ({"count": 2**70}, {"text": "\ud800"}):
        records = [_record(resource_metadata=metadata)]
        payload = child_protocol.encode_batch(records)
        assert payload[:1] == b"p"
        assert child_protocol.decode_batch(payload) == [tuple(records[0])]


def test_a_message_that_is_no_batch_is_refused():
    for payload in (child_protocol.RESUME, b"", b"x junk"):
        with pytest.raises(ValueError, match="not a batch"):
            child_protocol.decode_batch(payload)
