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
parent), ignores SIGINT, SIGTERM and SIGHUP (the parent flushes, then
closes the pipe) and exits when the pipe ends, so it never outlives the
collector. A child that dies is started again for the next batch sent
once every outcome awaited from it has failed as a transient error; the
writer retries those batches. A child that ended unasked (killed by the
OOM killer, say) is said in a WARNING with its exit code or signal.

No wait on the child is unbounded. Each of its database waits is
(``engine``: the MySQL drivers' read, write and connect timeouts,
SQLite's busy timeout), so an outcome comes within a few of them; a
child silent for ``reply_timeout`` is stuck where none applies and is
killed, its batches failing as lost. Sending a batch waits at most for
the child's current write, as the child reads while its database thread
writes (SQLite: once it wrote). ``close`` ends the pipe without waiting
and kills a child that has not exited after its ``grace`` (by default
``JOIN_TIMEOUT``; the collector's stop gives what is left of
``shutdown_timeout``, at least ``CLOSE_GRACE_MIN``).
"""

import collections
import multiprocessing
import pickle
import signal
import socket
import threading
import typing

from oslo_log import log

from ceilometer_ha import wire
from ceilometer_ha.storage import child_protocol
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import writer_child

LOG = log.getLogger(__name__)
JOIN_TIMEOUT = 5.0
# The least time a child is given to exit once its pipe ends: a Python
# process that has written everything exits well within it.
CLOSE_GRACE_MIN = 1.0
# The longest wait for a batch's outcome, in driver read timeouts: a
# batch is a handful of round trips (pre-ping, maybe a reconnect, the
# insert and upsert statements, COMMIT), each bounded by one.
REPLY_READ_TIMEOUTS = 10
# ... and at least this many seconds (SQLite: a write waits at most
# busy_timeout per statement, 5 s, and a checkpoint).
REPLY_TIMEOUT_MIN = 300.0


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
        # Batches sent whose outcome was not received yet: their sizes.
        self._unconfirmed: collections.deque[int] = collections.deque()
        # A failed outcome was received: the child holds back batches
        # until the next one sent is preceded by RESUME.
        self._resume = False
        # The writer thread and ``close`` may both discard the child.
        self._discard_lock = threading.Lock()
        # Set by ``close``: no child is started any more.
        self._closed = False
        read_timeout = engine_mod.read_timeout(url) or 0.0
        self.reply_timeout = max(
            REPLY_TIMEOUT_MIN, REPLY_READ_TIMEOUTS * read_timeout
        )

    def start(self) -> None:
        """Start the child; nothing once ``close`` was called."""
        if self._closed:
            return
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
        self._unconfirmed.clear()
        self._resume = False

    def send_batch(self, records: typing.Sequence[wire.SampleRecord]) -> None:
        """Hand a batch to the child; its outcome comes from
        ``receive_result``, in the order the batches were sent.

        A child that died is replaced, unless outcomes are still awaited
        from it: then this batch fails as lost too.
        """
        if self._proc is None or not self._proc.is_alive():
            if self._closed:
                # A writer thread still going after the stop's budget:
                # a child started now would outlive the flush, and hold
                # the exit (it ignores the SIGTERM multiprocessing
                # sends its daemonic children then joins them on).
                raise _lost("closed")
            if self._unconfirmed:
                raise _lost("died")
            proc = self._proc
            self._discard()
            if proc is not None:  # it ended while idle
                _log_end(proc)
            self.start()
        payload = child_protocol.encode_batch(records)
        try:
            if self._resume:
                # The child holds back every batch after a failed one
                # until told: the writer now sends them again, in order.
                self._conn.send_bytes(child_protocol.RESUME)
                self._resume = False
            self._conn.send_bytes(payload)
        except OSError as exc:
            self._discard()
            raise _lost(type(exc).__name__) from None
        self._unconfirmed.append(len(records))

    def receive_result(self) -> int:
        """The outcome of the oldest batch sent: how many samples were new,
        or ``RemoteWriteError``; at most ``reply_timeout`` seconds."""
        if not self._unconfirmed:
            raise RuntimeError("no batch was sent")
        try:
            reply = self._receive()
        finally:
            self._unconfirmed.popleft()
        if reply[0] != "ok":
            self._resume = True
        return child_protocol.outcome(reply)

    def _receive(self) -> child_protocol.Reply:
        conn, proc = self._conn, self._proc
        if conn is None:
            raise _lost("died")
        try:
            if conn.poll(self.reply_timeout):
                return conn.recv()
        except (EOFError, OSError) as exc:
            self._discard()
            # ``close`` ends the child (and kills one that is slow to
            # exit) while an outcome may still be awaited: not "unasked".
            if proc is not None and not self._closed:
                _log_end(proc)
            raise _lost(type(exc).__name__) from None
        LOG.warning(
            "Database writer process gave no outcome in %.0f s, killed; "
            "the %d samples sent to it are written again",
            self.reply_timeout,
            sum(self._unconfirmed),
        )
        if proc is not None:
            proc.kill()
        self._discard()
        raise _lost("no outcome")

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

    def close(self, grace: float | None = None) -> None:
        """Let the child write what it was sent and exit; kill it if it
        has not after ``grace`` seconds (``JOIN_TIMEOUT`` if None). No
        child is started after this."""
        self._closed = True
        self._discard(grace)

    def _discard(self, grace: float | None = None) -> None:
        """End the child: the end of the pipe (read after what was sent),
        then SIGKILL if it is still there after ``grace`` seconds
        (``JOIN_TIMEOUT`` if None).

        The pipe is half-closed rather than sent STOP: that never waits
        (a child stuck in a write reads nothing), and a batch another
        thread is still sending fails at once rather than holding it.
        It is closed once the child is gone, so that no thread waiting
        on it is left with a number the system may give another file.
        """
        with self._discard_lock:
            conn, self._conn = self._conn, None
            proc, self._proc = self._proc, None
        if conn is not None:
            _end_sending(conn)
        if grace is None:
            grace = JOIN_TIMEOUT
        if proc is not None:
            proc.join(grace)
            if proc.is_alive():
                LOG.warning(
                    "Database writer process did not exit in %.1f s, "
                    "killed with %d samples sent to it not confirmed "
                    "written",
                    grace,
                    sum(self._unconfirmed),
                )
                proc.kill()
                proc.join(JOIN_TIMEOUT)
        if conn is not None:
            conn.close()


def _log_end(proc: typing.Any) -> None:
    """Say that the child ``proc`` ended unasked, and how."""
    code = proc.exitcode
    if code is not None and code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
        if code == -signal.SIGKILL:
            how += " (the kernel's OOM killer sends it too)"
    else:
        how = f"exit code {code}"
    LOG.warning(
        "Database writer process %d ended unasked (%s); a new one is "
        "started for the next batch",
        proc.pid,
        how,
    )


def _end_sending(conn: typing.Any) -> None:
    """Shut the sending side of the pipe (a socket pair): the child reads
    what was sent, then the end."""
    try:
        sock = socket.socket(fileno=conn.fileno())
    except OSError:  # closed already, or not a socket
        return
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        sock.detach()
