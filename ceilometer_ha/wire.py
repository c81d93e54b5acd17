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
``DatagramError`` with a reason from ``REASONS``; nothing else escapes, so the
receiving protocol only has to count.

The record holds ``resource_metadata`` as its JSON text (``metadata_json``),
so that a queued sample takes about the memory of its datagram.

Host and cluster come from ``resource_metadata``: ``host`` (falling back
to ``node``, the key ceilometer's IPMI pollsters use) and ``cluster``. A
sample without a host cannot be attributed to a compute host and is
rejected as ``invalid``; a sample without a cluster is stored with
``DEFAULT_CLUSTER``, the agent's own default.
"""

import collections.abc
import datetime
import math
import re
import time
import typing

import msgspec

from ceilometer_ha import metadata_json
from ceilometer_ha import signing

OVERSIZED = "oversized"
UNDECODABLE = "undecodable"
UNSIGNED = "unsigned"
BAD_SIGNATURE = "bad_signature"
INVALID = "invalid"
STALE = "stale"
FUTURE = "future"
REASONS = (
    OVERSIZED,
    UNDECODABLE,
    UNSIGNED,
    BAD_SIGNATURE,
    INVALID,
    STALE,
    FUTURE,
)

DEFAULT_CLUSTER = "default"
MAX_NAME_LENGTH = 255
MAX_MESSAGE_ID_LENGTH = 64
_UTC = datetime.timezone.utc
_EPOCH = datetime.datetime(1970, 1, 1)
# Integers this small convert to a finite float exactly; others go the
# slow way through ``_volume``.
_EXACT_INT = 2**53
# Control characters: the names that key the tables (host, cluster,
# meter, resource id) never hold one, so that a line break sent in a
# cluster name cannot break the reports that read them.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class DatagramError(Exception):
    """A datagram that must be dropped; ``reason`` is one of REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


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


def utcnow() -> datetime.datetime:
    """The collector clock: naive UTC with microseconds.

    Epoch plus integer microseconds: the same clock as
    ``datetime.now(timezone.utc)`` without the time zone to strip, at
    half the cost (it is read once per datagram).
    """
    return _EPOCH + datetime.timedelta(microseconds=time.time_ns() // 1000)


def _text(message: dict, key: str, limit: int, required: bool) -> str:
    value = message.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise DatagramError(INVALID, f"{key} must be a non-empty string")
    if len(value) > limit:
        raise DatagramError(INVALID, f"{key} longer than {limit} characters")
    return value


def _volume(message: dict) -> float:
    value = message.get("counter_volume")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise DatagramError(INVALID, "counter_volume must be a number")
    value = float(value)
    if not math.isfinite(value):
        raise DatagramError(INVALID, "counter_volume must be finite")
    return value


def parse_timestamp(value: typing.Any) -> datetime.datetime:
    """ISO 8601 text to naive UTC; a naive stamp is taken as UTC."""
    if not isinstance(value, str) or len(value) > 64:
        raise DatagramError(INVALID, "timestamp must be an ISO 8601 string")
    try:
        if value.endswith("+00:00"):  # what ceilometer sends: skip tz math
            stamp = datetime.datetime.fromisoformat(value[:-6])
            if stamp.tzinfo is None:
                return stamp
        stamp = datetime.datetime.fromisoformat(value)
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(_UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # year 1 at -01:00 overflows
        raise DatagramError(INVALID, "timestamp is not ISO 8601") from None
    return stamp


def _no_control(value: str, field: str) -> None:
    # isprintable() is the fast test; it also refuses characters that
    # are no control character (a non-breaking space, say).
    if not value.isprintable() and _CONTROL.search(value):
        raise DatagramError(INVALID, f"{field} holds a control character")


def _host_and_cluster(metadata: dict) -> tuple[str, str]:
    host = metadata.get("host") or metadata.get("node")
    if not isinstance(host, str) or not host:
        raise DatagramError(INVALID, "resource_metadata names no host")
    cluster = metadata.get("cluster") or DEFAULT_CLUSTER
    if not isinstance(cluster, str):
        raise DatagramError(INVALID, "resource_metadata cluster not a string")
    if len(host) > MAX_NAME_LENGTH or len(cluster) > MAX_NAME_LENGTH:
        raise DatagramError(INVALID, "host or cluster name too long")
    _no_control(host, "host")
    _no_control(cluster, "cluster")
    return host, cluster


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
        """msgpack bytes to the message map, or DatagramError."""
        if len(data) > self._max_size:
            raise DatagramError(OVERSIZED, f"{len(data)} bytes")
        try:
            message = _MSGPACK.decode(data)
        except Exception as exc:  # junk raises several types
            raise DatagramError(UNDECODABLE, type(exc).__name__) from None
        if not isinstance(message, dict):
            raise DatagramError(UNDECODABLE, "not a msgpack map")
        return message

    def verify(self, message: dict) -> None:
        if not self._signer.enabled:
            return
        if not message.get(signing.SIGNATURE_KEY):
            raise DatagramError(UNSIGNED, "no message_signature")
        try:
            valid = self._signer.verify(message)
        except (TypeError, ValueError):  # unsortable keys, bad bytes
            valid = False
        except RecursionError:
            raise DatagramError(INVALID, "nested too deeply") from None
        if not valid:
            raise DatagramError(BAD_SIGNATURE, "signature does not match")

    def validate(
        self, message: dict, now: datetime.datetime | None = None
    ) -> SampleRecord:
        """Check types, sizes and freshness; build the record.

        ``now`` is the collector clock (read here when not given); it
        becomes ``recorded_at``. The checks run in a fixed order
        (metadata, timestamp, freshness, then the fields in record
        order), so a datagram wrong in several ways is always rejected
        for the same reason. Each field takes an inline fast path when
        valid; ``_text`` and ``_volume`` say why it is not.
        """
        metadata = message.get("resource_metadata")
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict):
            raise DatagramError(INVALID, "resource_metadata must be a map")
        host, cluster = _host_and_cluster(metadata)
        timestamp = parse_timestamp(message.get("timestamp"))
        if now is None:
            now = self._clock()
        if not now - self._window <= timestamp <= now + self._window:
            raise self._out_of_window(timestamp, now)
        get = message.get
        message_id = get("message_id")
        if type(message_id) is not str or not (
            0 < len(message_id) <= MAX_MESSAGE_ID_LENGTH
        ):
            message_id = _text(
                message, "message_id", MAX_MESSAGE_ID_LENGTH, True
            )
        meter = get("counter_name")
        if type(meter) is not str or not 0 < len(meter) <= MAX_NAME_LENGTH:
            meter = _text(message, "counter_name", MAX_NAME_LENGTH, True)
        _no_control(meter, "counter_name")
        resource_id = get("resource_id")
        if type(resource_id) is not str or not (
            0 < len(resource_id) <= MAX_NAME_LENGTH
        ):
            resource_id = _text(message, "resource_id", MAX_NAME_LENGTH, True)
        _no_control(resource_id, "resource_id")
        volume = get("counter_volume")
        if type(volume) is int and -_EXACT_INT <= volume <= _EXACT_INT:
            volume = float(volume)
        elif type(volume) is not float or not math.isfinite(volume):
            volume = _volume(message)
        unit = get("counter_unit")
        if type(unit) is not str or len(unit) > MAX_NAME_LENGTH:
            unit = _text(message, "counter_unit", MAX_NAME_LENGTH, False)
        source = get("source")
        if type(source) is not str or len(source) > MAX_NAME_LENGTH:
            source = _text(message, "source", MAX_NAME_LENGTH, False)
        try:
            metadata_text = metadata_json.text(metadata)
        except RecursionError:
            raise DatagramError(INVALID, "nested too deeply") from None
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
        self, timestamp: datetime.datetime, now: datetime.datetime
    ) -> DatagramError:
        # How far off, so that a sender whose clock is wrong is told
        # from a replay: every sample of such a host is refused.
        off = (timestamp - now).total_seconds()
        return DatagramError(
            STALE if off < 0 else FUTURE,
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
