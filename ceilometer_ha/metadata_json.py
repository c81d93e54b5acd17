"""``resource_metadata`` as the JSON text stored in the database.

The receiving process turns each accepted sample's metadata into this
text at once (``wire.DatagramDecoder.validate``): what a sample holds in
memory while queued is then about the size of its datagram, whatever
the structure a sender packed into it (a 16 KiB datagram of empty maps
would take more than a megabyte as Python objects), and the writer
process stores the text as it is.

UTF-8 text as is; anything JSON cannot hold is written as its str(),
and a float that is not finite as ``null`` (``NaN`` is no JSON: an HA
engine's strict parser would refuse the whole text).
orjson first (about a tenth of the cost); the standard encoder for what
orjson refuses (integers beyond 64 bits, nesting deeper than 254, keys
that are neither text nor numbers).
"""

import json
import math
import typing

import orjson

_STANDARD = json.JSONEncoder(ensure_ascii=False, default=str, allow_nan=False)
_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def _json_ready(value: typing.Any) -> typing.Any:
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None  # as orjson writes it
    return value


def text(metadata: dict) -> str:
    """``metadata`` as JSON; keys JSON cannot hold become text.

    Raises RecursionError for nesting deeper than the interpreter's
    recursion limit.
    """
    try:
        return orjson.dumps(
            metadata, default=str, option=_ORJSON_OPTIONS
        ).decode()
    except (TypeError, ValueError):  # orjson.JSONEncodeError is both
        pass
    try:
        return _STANDARD.encode(metadata)
    except (TypeError, ValueError):  # bytes keys from a bin type, NaN
        return _STANDARD.encode(_json_ready(metadata))
