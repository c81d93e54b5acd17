"""Records into the rows the writer inserts into ``ha_sample``.

A row is a tuple in the order of ``wire.SampleRecord``'s fields (the
order of ``ha_sample``'s columns), with the two times as the driver
takes them and ``resource_metadata`` as JSON text. A batch's rows come
in timestamp order, so that samples of one key apply to ``ha_latest`` as
if they had arrived one by one.

A record's times are naive UTC datetimes or, in records that crossed
the pipe to the writer process (``child_protocol``), the RFC 3339 text
msgspec writes for them (``2026-11-22T03:00:00.250001``, no fraction
when the microseconds are 0), which is rewritten as it is: cheaper
than parsing it into a datetime and formatting that. Either way SQLite
gets SQLAlchemy's own storage format (``2026-11-22 03:00:00.250001``),
so that reads parse it; MySQL gets the same text or the datetime.
"""

import datetime
import operator
import typing

from ceilometer_ha import metadata_json
from ceilometer_ha import rejection
from ceilometer_ha import sample_fields
from ceilometer_ha import wire

LAYOUT = wire.SampleRecord._fields
_TIMESTAMP = operator.itemgetter(LAYOUT.index("timestamp"))
Row = tuple[typing.Any, ...]
TimeConverter = typing.Callable[[datetime.datetime | str], typing.Any]


def metadata_text(metadata: str | dict) -> str:
    """The JSON text of a record's ``resource_metadata``: as it is when
    the decoder made it already (``metadata_json``)."""
    if type(metadata) is str:
        return metadata
    return metadata_json.text(typing.cast(dict, metadata))


# Lengths of msgspec's text of a naive datetime, with and without the
# fraction.
_WITH_MICROSECONDS = len("2026-11-22T03:00:00.250001")
_WHOLE_SECONDS = len("2026-11-22T03:00:00")


def _from_text(text: str) -> str:
    """msgspec's text of a naive datetime in SQLite's storage format."""
    if len(text) == _WITH_MICROSECONDS:
        return text.replace("T", " ")
    if len(text) == _WHOLE_SECONDS:
        return text.replace("T", " ") + ".000000"
    # Not msgspec's: parsed as the receiver parses a datagram's, so that
    # text of another shape is still stored as the UTC time it says. A
    # ValueError, not DatagramError: the store counts it as permanent.
    try:
        return _datetime_text(sample_fields.parse_timestamp(text))
    except rejection.DatagramError as exc:
        raise ValueError(str(exc)) from None


def _datetime_text(when: datetime.datetime) -> str:
    return when.isoformat(" ", "microseconds")


def sqlite_time(when: datetime.datetime | str) -> typing.Any:
    """SQLAlchemy's SQLite DateTime storage format."""
    if type(when) is str:
        return _from_text(when)
    return _datetime_text(typing.cast(datetime.datetime, when))


def same_time(when: datetime.datetime | str) -> typing.Any:
    """A datetime as it is; text as SQLite's format, which MySQL reads."""
    if type(when) is str:
        return _from_text(when)
    return when


def build(
    records: typing.Sequence[wire.SampleRecord], to_time: TimeConverter
) -> list[Row]:
    """One row per record (see the module doc), in timestamp order.

    Ordered by the converted time, which is of one shape whatever text
    a record held (SQLite reads a batch's rows back in the order they
    were inserted).
    """
    dumps = metadata_text
    # Datagrams read together share one recorded_at: convert it once.
    # Compared by value: after the pipe, equal times are distinct objects.
    last_recorded: typing.Any = None
    recorded_text: typing.Any = None
    out = []
    for record in records:
        recorded_at = record[8]
        if recorded_at != last_recorded:
            last_recorded = recorded_at
            recorded_text = to_time(recorded_at)
        # message_id .. unit as they are, then the times, source, JSON.
        out.append(
            (
                *record[:7],
                to_time(record[7]),
                recorded_text,
                record[9],
                dumps(record[10]),
            )
        )
    out.sort(key=_TIMESTAMP)
    return out
