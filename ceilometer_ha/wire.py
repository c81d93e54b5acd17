"""The datagram codec: ceilometer's UDP wire format into a typed record.

Every datagram is one msgpack map as ``ceilometer.publisher.udp`` sends it
(``msgpack.dumps(meter_message_from_counter(...), use_bin_type=True)``).
It is read with msgspec's msgpack decoder, which gives the same map as
``msgpack.unpackb(data, raw=False)`` at about a third of the cost;
extension types, which ceilometer never sends, are refused as
undecodable. msgpack's timestamp type (-1) escapes that rule, as
msgspec reads it as a datetime itself: ``timestamp`` must still be a
string, and within ``resource_metadata`` it is stored as ISO 8601 text.
``DatagramDecoder.decode`` turns one into a ``SampleRecord`` or raises
``rejection.DatagramError`` with a reason from ``rejection.REASONS``;
nothing else escapes, so the receiving protocol only has to count. What
each field must be is in ``sample_fields``.

The record holds ``resource_metadata`` as its JSON text (``metadata_json``),
so that a queued sample takes about the memory of its datagram.
"""

import collections.abc
import datetime
import math
import time
import typing

import msgspec

from ceilometer_ha import metadata_json
from ceilometer_ha import rejection
from ceilometer_ha import sample_fields
from ceilometer_ha import signing

_EPOCH = datetime.datetime(1970, 1, 1)
# The limits of ``sample_fields``, global names of this module for the
# fast paths of ``DatagramDecoder.validate`` (read once per datagram).
_is_uuid = sample_fields.is_uuid
_MAX_NAME = sample_fields.MAX_NAME_LENGTH
_EXACT_INT = sample_fields.EXACT_INT


class SampleRecord(typing.NamedTuple):
    """One accepted sample, as the storage layer needs it (UTC, naive)."""

    message_id: str
    host: str
    cluster: str
    meter: str
    resource_id: str
    volume: float
    unit: str
    timestamp: datetime.datetime
    recorded_at: datetime.datetime
    source: str
    # JSON text (``metadata_json``), as the decoder makes it; a dict
    # (records made elsewhere) is turned into that text when written.
    resource_metadata: str | dict


def _refuse_extension(code: int, _data: memoryview) -> typing.NoReturn:
    raise ValueError(f"msgpack extension type {code}")


_MSGPACK = msgspec.msgpack.Decoder(ext_hook=_refuse_extension)


def _claims(message: dict) -> str:
    # A host whose secret differs from the collector's looks silent to
    # the verdicts; the log line names it (as the message claims it).
    host = sample_fields.claimed_host(message)
    return "" if host is None else f" (claims host {host!r})"


def utcnow() -> datetime.datetime:
    """The collector clock: naive UTC with microseconds.

    Epoch plus integer microseconds: the same clock as
    ``datetime.now(timezone.utc)`` without the time zone to strip, at
    half the cost (it is read once per datagram).
    """
    return _EPOCH + datetime.timedelta(microseconds=time.time_ns() // 1000)


class DatagramDecoder:
    """Decode, verify and validate datagrams against one configuration.

    ``clock`` returns the collector's naive-UTC now; injected so tests
    can check the freshness window without sleeping.
    """

    def __init__(
        self,
        signer: signing.Signer,
        max_size: int,
        freshness_window: float,
        clock: collections.abc.Callable[[], datetime.datetime] = utcnow,
    ) -> None:
        self._signer = signer
        self._max_size = max_size
        self._window = datetime.timedelta(seconds=freshness_window)
        self._clock = clock

    def unpack(self, data: bytes) -> dict:
        """msgpack bytes to the message map, or rejection.DatagramError."""
        if len(data) > self._max_size:
            raise rejection.DatagramError(
                rejection.OVERSIZED, f"{len(data)} bytes"
            )
        try:
            message = _MSGPACK.decode(data)
        except Exception as exc:  # junk raises several types
            raise rejection.DatagramError(
                rejection.UNDECODABLE, type(exc).__name__
            ) from None
        if not isinstance(message, dict):
            raise rejection.DatagramError(
                rejection.UNDECODABLE, "not a msgpack map"
            )
        return message

    def verify(self, message: dict) -> None:
        if not self._signer.enabled:
            return
        if not message.get(signing.SIGNATURE_KEY):
            raise rejection.DatagramError(
                rejection.UNSIGNED, "no message_signature" + _claims(message)
            )
        try:
            valid = self._signer.verify(message)
        except (TypeError, ValueError):  # unsortable keys, bad bytes
            valid = False
        except RecursionError:
            raise rejection.DatagramError(
                rejection.INVALID, "nested too deeply"
            ) from None
        if not valid:
            raise rejection.DatagramError(
                rejection.BAD_SIGNATURE,
                "signature does not match" + _claims(message),
            )

    def validate(
        self, message: dict, now: datetime.datetime | None = None
    ) -> SampleRecord:
        """Check types, sizes and freshness; build the record.

        ``now`` is the collector clock (read here when not given); it
        becomes ``recorded_at``. The checks run in a fixed order
        (metadata, timestamp, freshness, then the fields in record
        order), so a datagram wrong in several ways is always rejected
        for the same reason. Each field takes an inline fast path when
        valid; ``sample_fields`` says why it is not.
        """
        metadata = message.get("resource_metadata")
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict):
            raise rejection.DatagramError(
                rejection.INVALID, "resource_metadata must be a map"
            )
        host, cluster = sample_fields.host_and_cluster(metadata)
        timestamp = sample_fields.parse_timestamp(message.get("timestamp"))
        if now is None:
            now = self._clock()
        if not now - self._window <= timestamp <= now + self._window:
            raise self._out_of_window(host, timestamp, now)
        get = message.get
        message_id = get("message_id")
        if type(message_id) is not str or not _is_uuid(message_id):
            message_id = sample_fields.message_id(message)
        meter = get("counter_name")
        if type(meter) is not str or not 0 < len(meter) <= _MAX_NAME:
            meter = sample_fields.text(
                message, "counter_name", _MAX_NAME, True
            )
        sample_fields.no_control(meter, "counter_name")
        resource_id = get("resource_id")
        if type(resource_id) is not str or not (
            0 < len(resource_id) <= _MAX_NAME
        ):
            resource_id = sample_fields.text(
                message, "resource_id", _MAX_NAME, True
            )
        sample_fields.no_control(resource_id, "resource_id")
        volume = get("counter_volume")
        if type(volume) is int and -_EXACT_INT <= volume <= _EXACT_INT:
            volume = float(volume)
        elif type(volume) is not float or not math.isfinite(volume):
            volume = sample_fields.volume(message)
        unit = get("counter_unit")
        if type(unit) is not str or len(unit) > _MAX_NAME:
            unit = sample_fields.text(
                message, "counter_unit", _MAX_NAME, False
            )
        source = get("source")
        if type(source) is not str or len(source) > _MAX_NAME:
            source = sample_fields.text(message, "source", _MAX_NAME, False)
        try:
            metadata_text = metadata_json.text(metadata)
        except RecursionError:
            raise rejection.DatagramError(
                rejection.INVALID, "nested too deeply"
            ) from None
        return SampleRecord(
            message_id,
            host,
            cluster,
            meter,
            resource_id,
            volume,
            unit,
            timestamp,
            now,
            source,
            metadata_text,
        )

    def _out_of_window(
        self, host: str, timestamp: datetime.datetime, now: datetime.datetime
    ) -> rejection.DatagramError:
        # How far off, so that a sender whose clock is wrong is told
        # from a replay: every sample of such a host is refused, and the
        # host looks silent to the verdicts.
        off = (timestamp - now).total_seconds()
        return rejection.DatagramError(
            rejection.STALE if off < 0 else rejection.FUTURE,
            f"host {host!r}: "
            f"timestamp {timestamp.isoformat()} is {abs(off):.0f} s "
            f"{'behind' if off < 0 else 'ahead of'} the collector's clock "
            f"(freshness_window {self._window.total_seconds():g} s)",
        )

    def now(self) -> datetime.datetime:
        """The collector clock this decoder stamps ``recorded_at`` with."""
        return self._clock()

    def decode(
        self, data: bytes, now: datetime.datetime | None = None
    ) -> SampleRecord:
        """One datagram to one record; raises only ``DatagramError``.

        ``now``: the collector clock at receipt, when the caller read it
        once for several datagrams received together.
        """
        message = self.unpack(data)
        self.verify(message)
        return self.validate(message, now)
