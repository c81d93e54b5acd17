"""What crosses the pipe between the collector and its writer process.

Batches go to the child as msgpack (msgspec: records as arrays, times
as RFC 3339 text), several times cheaper than pickle for the receiving
process. The child keeps the times as text (``ReceivedRecord``), which
``storage.rows`` rewrites for the database more cheaply than it would
format a datetime parsed back from it. A batch msgpack cannot hold
(unpaired surrogates in metadata text; in a record made with metadata
as a dict, integers beyond 64 bits) goes as a pickle instead, times as
datetimes. The first byte says which;
``RESUME`` alone asks the child to write again after a failed batch
(``writer_child``). The child exits when the pipe ends.

Replies come back, one per batch and in the order of the batches, as
``("ok", new_samples)`` or ``("error", description, permanent)``;
``outcome`` turns one into the count or a ``RemoteWriteError``.
"""

import pickle
import typing

import msgspec

from ceilometer_ha import wire

_PROTOCOL = pickle.HIGHEST_PROTOCOL
# First byte of a message to the child.
_MSGPACK, _PICKLE = b"m", b"p"
RESUME = b"r"
_ENCODER = msgspec.msgpack.Encoder()


# A wire.SampleRecord as the child reads it: the same fields, the times
# as text.
_TIMES = ("timestamp", "recorded_at")
ReceivedRecord = typing.NamedTuple(  # type: ignore[misc]
    "ReceivedRecord",
    [
        (name, str if name in _TIMES else kind)
        for name, kind in typing.get_type_hints(wire.SampleRecord).items()
    ],
)
_DECODER = msgspec.msgpack.Decoder(list[ReceivedRecord])

Reply = tuple[typing.Any, ...]


def encode_batch(records: typing.Sequence[wire.SampleRecord]) -> bytes:
    """A batch as the child reads it (see the module doc)."""
    try:
        return _MSGPACK + _ENCODER.encode(records)
    except (TypeError, ValueError, OverflowError):
        # Plain tuples pickle faster than named ones; the store reads
        # records by position.
        rows = [tuple(record) for record in records]
        return _PICKLE + pickle.dumps(rows, _PROTOCOL)


def decode_batch(payload: bytes) -> list[typing.Any]:
    """The records of ``encode_batch``."""
    kind, body = payload[:1], memoryview(payload)[1:]
    if kind == _MSGPACK:
        return _DECODER.decode(body)
    if kind == _PICKLE:
        # From our own parent over a private pipe.
        return typing.cast(list, pickle.loads(body))  # noqa: S301
    raise ValueError(f"not a batch: first byte {bytes(kind)!r}")


class RemoteWriteError(Exception):
    """A batch the child could not write; ``permanent`` as it judged."""

    def __init__(self, description: str, permanent: bool) -> None:
        super().__init__(description)
        self.description = description
        self.permanent = permanent


def describe(exc: BaseException) -> str:
    """``Type: first line`` of an error, the child's own for remote ones."""
    if isinstance(exc, RemoteWriteError):
        return exc.description
    lines = str(exc).splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def ok(new_samples: int) -> Reply:
    return ("ok", new_samples)


def error(exc: BaseException, permanent: bool, hint: str = "") -> Reply:
    """The reply for a failed batch; ``hint`` follows the description."""
    return ("error", describe(exc) + hint, permanent)


# Why a batch was not written: an earlier one failed (``writer_child``).
HELD_BACK = "not written: an earlier batch failed and goes first"


def held_back() -> Reply:
    """The reply to a batch not written because an earlier one failed."""
    return ("error", HELD_BACK, False)


def outcome(reply: Reply) -> int:
    """The new samples of an ``ok`` reply; raise for an ``error`` one."""
    if reply[0] == "ok":
        return int(reply[1])
    raise RemoteWriteError(reply[1], bool(reply[2]))
