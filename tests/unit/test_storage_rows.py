"""Row building for the database: metadata JSON and MySQL escaping."""

import itertools
import json

from pymysql import converters
import pytest

from ceilometer_ha.storage import mysql_rows
from ceilometer_ha.storage import rows


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
