"""MySQL statements of a batch as text, every value escaped once.

PyMySQL's ``executemany`` escapes each parameter in Python, at a cost
above MySQL's own work. Here each sample's values are turned into SQL
literals once, escaped as the connection's SQL mode requires
(``string_escaper``, which honours ``NO_BACKSLASH_ESCAPES``): the
``ha_sample`` rows go into multi-row INSERTs (``MultiRowStatement``),
and their message_id literals into the ``IN (...)`` list of the
``ha_latest`` upsert (``InListStatement``), each in chunks of at most
``MAX_STATEMENT_BYTES``, below any ``max_allowed_packet`` in use.
"""

import datetime
import re
import typing

from pymysql import converters
from pymysql.constants import SERVER_STATUS

MAX_STATEMENT_BYTES = 1_000_000
_VALUES = re.compile(r"^(.*?\bVALUES\s*)\([^)]*\)(.*)$", re.DOTALL)


# The characters that need a backslash inside a single-quoted literal
# (PyMySQL's escape_string also escapes '"', which needs none there).
# Most values hold none of them, the metadata JSON only double quotes,
# and a C regex search is cheaper than escape_string's translate.
_BACKSLASH_ESCAPED = re.compile(r"[\x00\n\r\x1a'\\]")


def _quote_only(value: str) -> str:
    return value.replace("'", "''")


def _escape(value: str) -> str:
    if _BACKSLASH_ESCAPED.search(value) is None:
        return value
    return converters.escape_string(value)


# The escaping of MySQL's default SQL mode (backslash escapes).
default_escaper = _escape


def string_escaper(dbapi_conn: typing.Any) -> typing.Callable[[str], str]:
    """String escaping for literals on this connection.

    PyMySQL's own, except that double quotes are left as they are; with
    ``NO_BACKSLASH_ESCAPES`` only quotes are doubled.
    """
    status = getattr(dbapi_conn, "server_status", 0)
    if status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES:
        return _quote_only
    return _escape


def literals(
    row: typing.Sequence[typing.Any],
    names: typing.Sequence[str],
    escape_string: typing.Callable[[str], str],
) -> list[str]:
    """SQL literals for the values of one row (str, float, int, time).

    ``names`` name the values, for the error a value of another type
    raises.
    """
    out = []
    for name, value in zip(names, row, strict=True):
        kind = type(value)
        if kind is str:
            out.append(f"'{escape_string(value)}'")
        elif kind is float or kind is int:
            out.append(repr(value))
        elif isinstance(value, str):
            out.append(f"'{escape_string(value)}'")
        elif isinstance(value, datetime.datetime):
            out.append(f"'{value.isoformat(' ', 'microseconds')}'")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append(repr(value))
        else:
            raise TypeError(f"{name}: cannot write {type(value).__name__}")
    return out


def _chunked(
    prefix: str, items: typing.Iterable[str], suffix: str
) -> list[str]:
    """``prefix`` + items joined by commas + ``suffix``, as few statements
    as keep each under ``MAX_STATEMENT_BYTES``, the items in order.

    Sizes are counted in UTF-8 bytes, as the server's
    ``max_allowed_packet`` counts them: a character may take four
    (``isascii`` is a flag of the string, read without a scan).
    """
    out: list[str] = []
    chunk: list[str] = []
    size = 0
    for item in items:
        length = len(item) if item.isascii() else len(item.encode())
        if chunk and size + length > MAX_STATEMENT_BYTES:
            out.append(prefix + ",".join(chunk) + suffix)
            chunk, size = [], 0
        chunk.append(item)
        size += length + 1
    if chunk:
        out.append(prefix + ",".join(chunk) + suffix)
    return out


class MultiRowStatement:
    """``INSERT ... VALUES (...), (...) <suffix>`` from literal rows.

    Each row's literals are in the order of the statement's columns.
    """

    def __init__(self, sql: str) -> None:
        match = _VALUES.match(sql)
        if match is None:
            raise ValueError("not an INSERT ... VALUES statement")
        self._prefix, self._suffix = match.group(1), match.group(2)

    def texts(self, rows: typing.Iterable[typing.Sequence[str]]) -> list[str]:
        """The statements for ``rows``, each under ``MAX_STATEMENT_BYTES``."""
        values = ("(" + ",".join(lits) + ")" for lits in rows)
        return _chunked(self._prefix, values, self._suffix)


class InListStatement:
    """A statement with one ``IN (...)`` list, from literal items."""

    def __init__(self, sql: str, marker: str) -> None:
        """``marker``: what stands for the list's items in ``sql``."""
        self._prefix, found, self._suffix = sql.partition(marker)
        if not found:
            raise ValueError(f"no {marker} in the statement")

    def texts(self, items: typing.Iterable[str]) -> list[str]:
        """The statements for ``items``, each under
        ``MAX_STATEMENT_BYTES``, in the order of the items."""
        return _chunked(self._prefix, items, self._suffix)


def run(cursor: typing.Any, texts: typing.Sequence[str]) -> int:
    """Run statements of ``texts`` on a DB-API cursor; sum the rowcounts."""
    affected = 0
    for text in texts:
        # No parameters: the values are literals already, and a '%' in
        # them must not be taken for a placeholder.
        cursor.execute(text)
        affected += int(cursor.rowcount)
    return affected
