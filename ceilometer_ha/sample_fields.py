"""The checks each field of a decoded sample message must pass.

``wire.DatagramDecoder.validate`` takes a valid field on an inline fast
path and calls these checks only for a value that path does not take:
they accept what is valid after all (an integer volume beyond 2**53,
say) and otherwise raise ``rejection.DatagramError`` with reason
``invalid`` and a detail that names the field. The length limits are
those of the columns the fields are stored in (``storage.models``).

Host and cluster come from ``resource_metadata``: ``host`` (falling back
to ``node``, the key ceilometer's IPMI pollsters use) and ``cluster``. A
sample without a host cannot be attributed to a compute host and is
rejected as ``invalid``; a sample without a cluster is stored with
``DEFAULT_CLUSTER``, the agent's own default.
"""

import datetime
import math
import re
import typing

from ceilometer_ha import opts
from ceilometer_ha import rejection

DEFAULT_CLUSTER = "default"
MAX_NAME_LENGTH = 255
MAX_MESSAGE_ID_LENGTH = 64
# Integers this small convert to a finite float exactly; others go the
# slow way through ``volume``.
EXACT_INT = 2**53
_UTC = datetime.timezone.utc
# Control characters: the names that key the tables (host, cluster,
# meter, resource id) never hold one, so that a line break sent in a
# cluster name cannot break the reports that read them.
_CONTROL = re.compile(f"[{opts.CONTROL_CHARACTERS}]")
# ceilometer's sample ids: str(uuid.uuid1()), always this form.
# ceilometer's signature covers the bare concatenation of keys and
# values, so the same signed bytes also read as a message whose
# message_id ends with the first letter of the next key
# ("...-525400a1b2c3m", key "onotonic_time"): a replay that would pass
# for a new sample. No such id is a UUID.
_UUID = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
)
is_uuid = _UUID.match


def text(message: dict, key: str, limit: int, required: bool) -> str:
    value = message.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise rejection.DatagramError(
            rejection.INVALID, f"{key} must be a non-empty string"
        )
    if len(value) > limit:
        raise rejection.DatagramError(
            rejection.INVALID, f"{key} longer than {limit} characters"
        )
    return value


def message_id(message: dict) -> str:
    value = text(message, "message_id", MAX_MESSAGE_ID_LENGTH, True)
    if not is_uuid(value):
        raise rejection.DatagramError(
            rejection.INVALID,
            "message_id is not a UUID as ceilometer writes it "
            "(36 characters, lower-case hexadecimal digits and dashes)",
        )
    return value


def volume(message: dict) -> float:
    value = message.get("counter_volume")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise rejection.DatagramError(
            rejection.INVALID, "counter_volume must be a number"
        )
    value = float(value)
    if not math.isfinite(value):
        raise rejection.DatagramError(
            rejection.INVALID, "counter_volume must be finite"
        )
    return value


def parse_timestamp(value: typing.Any) -> datetime.datetime:
    """ISO 8601 text to naive UTC; a naive stamp is taken as UTC."""
    if not isinstance(value, str) or len(value) > 64:
        raise rejection.DatagramError(
            rejection.INVALID, "timestamp must be an ISO 8601 string"
        )
    try:
        if value.endswith("+00:00"):  # what ceilometer sends: skip tz math
            stamp = datetime.datetime.fromisoformat(value[:-6])
            if stamp.tzinfo is None:
                return stamp
        stamp = datetime.datetime.fromisoformat(value)
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(_UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):  # year 1 at -01:00 overflows
        raise rejection.DatagramError(
            rejection.INVALID, "timestamp is not ISO 8601"
        ) from None
    return stamp


def no_control(value: str, field: str) -> None:
    # isprintable() is the fast test; it also refuses characters that
    # are no control character (a non-breaking space, say).
    if not value.isprintable() and _CONTROL.search(value):
        raise rejection.DatagramError(
            rejection.INVALID, f"{field} holds a control character"
        )


def claimed_host(message: dict) -> str | None:
    """The host a message names, for a log line about rejecting it.

    Not to be trusted (the message failed its signature, say): only
    what would pass ``host_and_cluster``, else None, so that no sender
    writes a control character or a long string into the log.
    """
    metadata = message.get("resource_metadata")
    if not isinstance(metadata, dict):
        return None
    try:
        return host_and_cluster(metadata)[0]
    except rejection.DatagramError:
        return None


def host_and_cluster(metadata: dict) -> tuple[str, str]:
    host = metadata.get("host") or metadata.get("node")
    if not isinstance(host, str) or not host:
        raise rejection.DatagramError(
            rejection.INVALID, "resource_metadata names no host"
        )
    cluster = metadata.get("cluster") or DEFAULT_CLUSTER
    if not isinstance(cluster, str):
        raise rejection.DatagramError(
            rejection.INVALID, "resource_metadata cluster not a string"
        )
    if len(host) > MAX_NAME_LENGTH or len(cluster) > MAX_NAME_LENGTH:
        raise rejection.DatagramError(
            rejection.INVALID, "host or cluster name too long"
        )
    no_control(host, "host")
    no_control(cluster, "cluster")
    return host, cluster
