"""Database writes in a child process, so that they get a core of their own.

Run in a thread of the receiving process, ``SampleStore.write_batch``
shares that process's interpreter lock with the event loop: the SQLite
and PyMySQL drivers release the lock around every statement step or
socket call and so does every datagram read, so the two threads hand the
lock back and forth thousands of times a second and the collector stored
half of what decoding and writing manage one after the other in one
thread. ``ProcessStore`` offers the same ``write_batch`` and
``is_permanent`` to ``writer.SqlWriter``, but each batch is sent to a
child process that owns its own engine and ``SampleStore``; the writer
thread only encodes and waits on a pipe. Retries, backoff, row-by-row
isolation of refused rows and all counting stay in ``SqlWriter``,
unchanged.

Batches cross the pipe as msgpack (msgspec: records as arrays, times as
ISO text parsed back into datetimes by a typed decoder), several times
cheaper than pickle for the receiving process; a batch msgpack cannot
hold (integers beyond 64 bits, unpaired surrogates in metadata) goes as
a pickle instead. The first byte says which.

The child is started with ``spawn`` (nothing inherited from a threaded
parent), ignores SIGINT and SIGTERM (the parent flushes, then closes the
pipe) and exits when the pipe closes, so it never outlives the
collector. A child that dies is started again for the next attempt; the
batch in flight fails as a transient error and is retried.
"""

import multiprocessing
import pickle
import signal
import typing

import msgspec
from oslo_log import log

from ceilometer_ha import wire

LOG = log.getLogger(__name__)
JOIN_TIMEOUT = 5.0
_PROTOCOL = pickle.HIGHEST_PROTOCOL
# First byte of a message to the child.
_MSGPACK, _PICKLE, _STOP = b"m", b"p", b"s"
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(list[wire.SampleRecord])


def encode_batch(records: typing.Sequence[wire.SampleRecord]) -> bytes:
    """A batch as the child reads it (see the module doc)."""
    try:
        return _MSGPACK + _ENCODER.encode(records)
    except (TypeError, ValueError, OverflowError):
        # Plain tuples pickle faster than named ones; the store reads
        # records by position.
        rows = [tuple(record) for record in records]
        return _PICKLE + pickle.dumps(rows, _PROTOCOL)


def decode_batch(payload: bytes) -> list[typing.Any] | None:
    """The records of ``encode_batch``; None for the stop message."""
    kind, body = payload[:1], memoryview(payload)[1:]
    if kind == _MSGPACK:
        return _DECODER.decode(body)
    if kind == _PICKLE:
        # From our own parent over a private pipe.
        return typing.cast(list, pickle.loads(body))  # noqa: S301
    return None


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


def _serve(url: str, conn: typing.Any) -> None:
    """The child: write each batch received, reply with the outcome."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Imported here: the parent needs neither for the pipe end alone.
    from ceilometer_ha.storage import engine as engine_mod
    from ceilometer_ha.storage import store as store_mod

    engine = engine_mod.create_engine(url)
    store = store_mod.SampleStore(engine)
    try:
        while True:
            try:
                payload = conn.recv_bytes()
            except (EOFError, OSError):
                return
            reply: tuple[typing.Any, ...]
            try:
                batch = decode_batch(payload)
                if batch is None:
                    return
                reply = ("ok", store.write_batch(batch))
            except msgspec.DecodeError as exc:  # will fail again
                reply = ("error", describe(exc), True)
            except Exception as exc:
                reply = ("error", describe(exc), store.is_permanent(exc))
            try:
                conn.send(reply)
            except OSError:  # the parent is gone: nothing left to do
                return
    finally:
        engine.dispose()


class ProcessStore:
    """A ``writer.BatchStore`` whose writes run in a child process."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._context = multiprocessing.get_context("spawn")
        self._proc: typing.Any = None
        self._conn: typing.Any = None

    def start(self) -> None:
        parent, child = self._context.Pipe()
        proc = self._context.Process(
            target=_serve,
            args=(self._url, child),
            name="sql-writer-process",
            daemon=True,
        )
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent

    def write_batch(self, records: typing.Sequence[wire.SampleRecord]) -> int:
        """Write in the child; raise ``RemoteWriteError`` on failure."""
        if self._proc is None or not self._proc.is_alive():
            self._discard()
            self.start()
        try:
            self._conn.send_bytes(encode_batch(records))
            reply = self._conn.recv()
        except (EOFError, OSError) as exc:
            self._discard()
            raise RemoteWriteError(
                f"database writer process lost: {type(exc).__name__}", False
            ) from None
        if reply[0] == "ok":
            return int(reply[1])
        raise RemoteWriteError(reply[1], bool(reply[2]))

    def is_permanent(self, exc: BaseException) -> bool:
        """As the child judged the database's error."""
        if isinstance(exc, RemoteWriteError):
            return exc.permanent
        # A batch that cannot even be encoded will not be next time.
        return isinstance(
            exc, (TypeError, ValueError, RecursionError, pickle.PicklingError)
        )

    def close(self) -> None:
        """Let the child finish its batch and exit; at most a few seconds."""
        if self._conn is not None:
            try:
                self._conn.send_bytes(_STOP)
            except OSError:
                pass
        self._discard()

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            self._proc.join(JOIN_TIMEOUT)
            if self._proc.is_alive():
                LOG.warning("Database writer process did not exit, killed")
                self._proc.kill()
                self._proc.join(JOIN_TIMEOUT)
            self._proc = None
