"""Row building for the database: times, metadata JSON, MySQL escaping."""

import datetime
import itertools
import json
import math

from pymysql import converters
import pytest

from ceilometer_ha.storage import child_protocol
from ceilometer_ha.storage import mysql_rows
from ceilometer_ha.storage import rows
from tests import records


@pytest.mark.parametrize(
    "metadata",
    [
        {"host": "compute-1", "cluster": "rack-a"},
        {"host": "计算节点", "note": "ünïcode ✓ 😀"},
        {"nested": {"deeper": [1, "two", 3.5, None, True]}},
        {1: "int key", 2.5: "float key", None: "none key"},
    ],
)
def test_metadata_json_reads_back_as_the_map(metadata):
    expected = json.loads(json.dumps(metadata, ensure_ascii=False))
    text = rows.metadata_text(metadata)
    assert json.loads(text) == expected
    assert "\\u" not in text  # UTF-8 as is, not escaped


def test_metadata_json_falls_back_for_what_orjson_refuses():
    # orjson refuses integers beyond 64 bits and bytes keys.
    big = {"count": 2**70, "host": "h"}
    assert json.loads(rows.metadata_text(big)) == big
    odd = {b"raw": {1: b"v"}, "host": "h"}
    assert json.loads(rows.metadata_text(odd)) == {
        "b'raw'": {"1": "b'v'"},
        "host": "h",
    }


def test_metadata_never_holds_nan_or_infinity_which_json_cannot():
    # Nested deeper than orjson takes, so that the standard encoder,
    # which would write NaN, does the work.
    deep = {"x": math.nan, "y": [math.inf, -math.inf], "host": "h"}
    for _ in range(300):
        deep = {"a": deep}
    text = rows.metadata_text(deep)

    def refuse(constant):
        raise ValueError(constant)

    inner = json.loads(text, parse_constant=refuse)
    for _ in range(300):
        inner = inner["a"]
    assert inner == {"x": None, "y": [None, None], "host": "h"}
    flat = rows.metadata_text({"x": math.nan, "host": "h"})
    assert json.loads(flat, parse_constant=refuse) == {"x": None, "host": "h"}


def test_metadata_values_json_cannot_hold_become_text():
    text = rows.metadata_text({"blob": b"\x00\x01", "set": {1}})
    assert json.loads(text) == {"blob": "b'\\x00\\x01'", "set": "{1}"}


def test_escape_is_pymysql_escape_string_or_needs_none():
    alphabet = ["a", "é", "\0", "\n", "\r", "\x1a", "'", '"', "\\", "%"]
    needs_backslash = set("\0\n\r\x1a'\\")
    for length in range(4):
        for chars in itertools.product(alphabet, repeat=length):
            value = "".join(chars)
            escaped = mysql_rows._escape(value)
            if needs_backslash.intersection(value):
                assert escaped == converters.escape_string(value)
            else:
                # Double quotes stand for themselves in '...' literals.
                assert escaped == value


def test_statements_are_chunked_under_the_bound_in_order(monkeypatch):
    monkeypatch.setattr(mysql_rows, "MAX_STATEMENT_BYTES", 40)
    insert = mysql_rows.MultiRowStatement(
        "INSERT INTO t (a, b) VALUES (%s, %s) ON DUPLICATE KEY UPDATE a=a"
    )
    rows = [[f"'r{i}'", str(i)] for i in range(10)]
    texts = insert.texts(rows)
    assert len(texts) > 1
    values = [t.split("VALUES ")[1].split(" ON")[0] for t in texts]
    assert ",".join(values) == ",".join(f"('r{i}',{i})" for i in range(10))
    assert all(len(v) <= 40 for v in values)
    in_list = mysql_rows.InListStatement("DELETE FROM t WHERE a IN (@)", "@")
    texts = in_list.texts([f"'r{i}'" for i in range(10)])
    assert len(texts) > 1
    items = [t.split("IN (")[1].rstrip(")") for t in texts]
    assert ",".join(items) == ",".join(f"'r{i}'" for i in range(10))
    with pytest.raises(ValueError):
        mysql_rows.InListStatement("DELETE FROM t", "@")


def test_the_bound_counts_bytes_not_characters(monkeypatch):
    # As max_allowed_packet does: a 4-byte character counts 4.
    monkeypatch.setattr(mysql_rows, "MAX_STATEMENT_BYTES", 100)
    in_list = mysql_rows.InListStatement("DELETE FROM t WHERE a IN (@)", "@")
    items = [f"'{chr(0x1F600) * 10}{i}'" for i in range(10)]
    texts = in_list.texts(items)
    lists = [t.split("IN (")[1][:-1] for t in texts]
    assert ",".join(lists) == ",".join(items)
    assert all(len(x.encode()) <= 100 for x in lists)
    assert len(texts) == 5  # two items of 43 bytes each, not 13 chars


T0 = datetime.datetime(2026, 11, 22, 3, 0, 0, 250001)


def _record(mid, stamp, recorded_at):
    return records.record(
        mid,
        meter="ha.storage.loss",
        resource_id="compute-1-198.51.100.7",
        volume=0.0,
        unit="%",
        timestamp=stamp,
        recorded_at=recorded_at,
    )


def _batch():
    later, whole = (
        T0 + datetime.timedelta(seconds=1),
        T0.replace(microsecond=0),
    )
    return [
        _record("b", later, whole),
        _record("a", whole, whole),
        _record("c", T0, later),
    ]


def test_times_as_text_make_the_rows_of_times_as_datetimes():
    records = _batch()
    as_text = child_protocol.decode_batch(child_protocol.encode_batch(records))
    assert type(as_text[0].timestamp) is str
    expected = rows.build(records, rows.sqlite_time)
    assert rows.build(as_text, rows.sqlite_time) == expected
    # In timestamp order, SQLAlchemy's SQLite format, 6 digits always.
    assert [(r[0], r[7], r[8]) for r in expected] == [
        ("a", "2026-11-22 03:00:00.000000", "2026-11-22 03:00:00.000000"),
        ("c", "2026-11-22 03:00:00.250001", "2026-11-22 03:00:01.250001"),
        ("b", "2026-11-22 03:00:01.250001", "2026-11-22 03:00:00.000000"),
    ]
    # MySQL: datetimes as they are, text as the same SQLite-format text.
    for mine, theirs in zip(
        rows.build(records, rows.same_time),
        rows.build(as_text, rows.same_time),
        strict=True,
    ):
        for i in (7, 8):
            assert mine[i].isoformat(" ", "microseconds") == theirs[i]
        assert (mine[:7], mine[9:]) == (theirs[:7], theirs[9:])


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("2026-11-22 03:00:00.5", "2026-11-22 03:00:00.500000"),
        ("2026-11-22T04:00:00+01:00", "2026-11-22 03:00:00.000000"),
    ],
)
def test_time_text_of_another_shape_is_parsed(text, stored):
    assert rows.sqlite_time(text) == stored
    assert rows.same_time(text) == stored


def test_time_text_that_is_no_time_is_refused():
    with pytest.raises(ValueError):
        rows.sqlite_time("yesterday")


def test_equal_recorded_at_values_are_converted_once():
    # After the pipe, equal times are distinct objects.
    seen = []

    def converter(when):
        seen.append(when)
        return rows.sqlite_time(when)

    recorded = "2026-11-22T03:00:00.000001"
    records = [
        # "".join: a new string each time, equal to the others.
        _record(str(i), f"2026-11-22T03:00:0{i}", "".join(recorded))
        for i in range(5)
    ]
    assert records[0].recorded_at is not records[1].recorded_at
    built = rows.build(records, converter)
    assert len(seen) == 5 + 1
    assert {r[8] for r in built} == {"2026-11-22 03:00:00.000001"}


def test_rows_come_in_the_order_of_their_times_not_of_their_text():
    # As text, 03:00:01 sorts before 04:00:00.5+01:00 (03:00:00.5 UTC).
    recorded = "2026-11-22T03:00:02"
    records = [
        _record("later", "2026-11-22T03:00:01", recorded),
        _record("earlier", "2026-11-22T04:00:00.5+01:00", recorded),
        _record("earliest", "2026-11-22T03:00:00.000001", recorded),
    ]
    for to_time in (rows.sqlite_time, rows.same_time):
        built = rows.build(records, to_time)
        assert [r[0] for r in built] == ["earliest", "earlier", "later"]
