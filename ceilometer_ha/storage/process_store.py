"""Database writes in a child process, so that they get a core of their own.

Run in a thread of the receiving process, ``SampleStore.write_batch``
shares that process's interpreter lock with the event loop: the SQLite
and PyMySQL drivers release the lock around every statement step or
socket call and so does every datagram read, so the two threads hand the
lock back and forth thousands of times a second and the collector stored
half of what decoding and writing manage one after the other in one
thread. ``ProcessStore`` offers ``write_batch`` and ``is_permanent`` to
``writer.SqlWriter`` like ``SampleStore``, but each batch is sent to a
child process (``writer_child``) that owns its own engine and
``SampleStore``; the writer thread only encodes and waits on a pipe.
Retries, backoff, row-by-row isolation of refused rows and all counting
stay in ``SqlWriter``.

``write_batch`` is ``send_batch`` then ``receive_result``. The writer
keeps a second batch in the pipe while the child writes the first
(``SqlWriter``'s ``pipeline_depth``), so that the child never waits for
the parent between batches; outcomes come back in the order the batches
were sent. What crosses the pipe is in ``child_protocol``.

The child is started with ``spawn`` (nothing inherited from a threaded
parent), ignores SIGINT and SIGTERM (the parent flushes, then closes the
pipe) and exits when the pipe closes, so it never outlives the
collector. A child that dies is started again for the next batch sent
once every outcome awaited from it has failed as a transient error; the
writer retries those batches.
"""

import multiprocessing
import pickle
import typing

from oslo_log import log

from ceilometer_ha import wire
from ceilometer_ha.storage import child_protocol
from ceilometer_ha.storage import writer_child

LOG = log.getLogger(__name__)
JOIN_TIMEOUT = 5.0


def _lost(why: str) -> child_protocol.RemoteWriteError:
    return child_protocol.RemoteWriteError(
        f"database writer process lost: {why}", False
    )


class ProcessStore:
    """A ``batch_store.PipelinedStore`` whose writes run in a child process."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._context = multiprocessing.get_context("spawn")
        self._proc: typing.Any = None
        self._conn: typing.Any = None
        # Batches sent whose outcome was not received yet.
        self._pending = 0

    def start(self) -> None:
        parent, child = self._context.Pipe()
        proc = self._context.Process(
            target=writer_child.serve,
            args=(self._url, child),
            name="sql-writer-process",
            daemon=True,
        )
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        self._pending = 0

    def send_batch(self, records: typing.Sequence[wire.SampleRecord]) -> None:
        """Hand a batch to the child; its outcome comes from
        ``receive_result``, in the order the batches were sent.

        A child that died is replaced, unless outcomes are still awaited
        from it: then this batch fails as lost too.
        """
        if self._proc is None or not self._proc.is_alive():
            if self._pending:
                raise _lost("died")
            self._discard()
            self.start()
        payload = child_protocol.encode_batch(records)
        try:
            self._conn.send_bytes(payload)
        except OSError as exc:
            self._discard()
            raise _lost(type(exc).__name__) from None
        self._pending += 1

    def receive_result(self) -> int:
        """The outcome of the oldest batch sent: how many samples were new,
        or ``RemoteWriteError``."""
        if self._pending <= 0:
            raise RuntimeError("no batch was sent")
        self._pending -= 1
        if self._conn is None:
            raise _lost("died")
        try:
            reply = self._conn.recv()
        except (EOFError, OSError) as exc:
            self._discard()
            raise _lost(type(exc).__name__) from None
        return child_protocol.outcome(reply)

    def write_batch(self, records: typing.Sequence[wire.SampleRecord]) -> int:
        """Write in the child; raise ``RemoteWriteError`` on failure."""
        self.send_batch(records)
        return self.receive_result()

    def is_permanent(self, exc: BaseException) -> bool:
        """As the child judged the database's error."""
        if isinstance(exc, child_protocol.RemoteWriteError):
            return exc.permanent
        # A batch that cannot even be encoded will not be next time.
        return isinstance(
            exc, (TypeError, ValueError, RecursionError, pickle.PicklingError)
        )

    def close(self) -> None:
        """Let the child finish its batch and exit; at most a few seconds."""
        if self._conn is not None:
            try:
                self._conn.send_bytes(child_protocol.STOP)
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
