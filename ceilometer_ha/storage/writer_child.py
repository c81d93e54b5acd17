"""The writer process: batches from the pipe into the database.

``serve`` is the child's whole life (see ``process_store``). Each batch
is decoded and prepared (``SampleStore.prepare``: rows, parameters,
MySQL statement texts), then written in one transaction
(``SampleStore.execute``), and one reply per batch goes back in the
order of the batches.

With MySQL/MariaDB a second thread writes: the main thread prepares
batch n+1 while the database thread waits for the server to write batch
n, which is most of a batch's time. SQLite writes in this process, so
there a second thread would only contend for the interpreter lock; the
main thread does both.

Batches are committed in the order they were sent, also across a
failure: once a batch fails, those the parent sent after it (before it
knew) are not written but answered as transient failures, until the
parent's ``RESUME``, sent before it writes the failed batches again,
oldest first. No batch is thus committed before one taken earlier, and
``ha_latest`` (which only a newer sample moves, see ``statements``) sees every
sample in its order: a later batch committed first would make the
earlier one's samples look old, and a streak would miss them.

A statement that times out (the driver's read or write timeout, see
``engine``) closes its connection, which the pool then discards; the
batch fails as transient and the parent retries it. The ROLLBACK that
follows fails in turn on the closed connection and is what gets
raised, so the reply names the statement's error instead.
"""

import queue
import signal
import threading
import time
import typing

from ceilometer_ha import heap
from ceilometer_ha.storage import child_protocol
from ceilometer_ha.storage import db_errors

JOIN_TIMEOUT = 5.0


class _Failed(typing.NamedTuple):
    """A batch that failed before reaching the database."""

    reply: child_protocol.Reply


def _failure(exc: Exception, store: typing.Any) -> child_protocol.Reply:
    # Judged as raised: a connection lost (invalidated) is transient.
    permanent = store.is_permanent(exc)
    first = db_errors.first_error(exc, store.engine)
    return child_protocol.error(first, permanent, db_errors.explain(first))


# What the parent's RESUME becomes on its way to the writing thread.
RESUMED = object()


class InOrder:
    """Writes prepared batches and replies, holding back after a failure
    until ``RESUMED`` (see the module doc)."""

    def __init__(self, store: typing.Any, conn: typing.Any) -> None:
        self._store, self._conn = store, conn
        self._held = False

    def __call__(self, item: typing.Any) -> bool:
        """Write ``item`` and reply; False once the parent is gone."""
        if item is RESUMED:
            self._held = False
            return True
        if self._held:
            reply = child_protocol.held_back()
        elif isinstance(item, _Failed):
            reply = item.reply
        else:
            try:
                reply = child_protocol.ok(self._store.execute(item))
            except Exception as exc:
                reply = _failure(exc, self._store)
        self._held = reply[0] != "ok"
        try:
            self._conn.send(reply)
        except OSError:  # the parent is gone: nothing left to do
            return False
        return True


class _DatabaseThread:
    """Writes prepared batches in order, one waiting at most."""

    def __init__(self, store: typing.Any, conn: typing.Any) -> None:
        self._write = InOrder(store, conn)
        self._prepared: queue.Queue = queue.Queue(maxsize=1)
        self._thread = threading.Thread(
            target=self._run, name="sql-writer-db", daemon=True
        )
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._prepared.get()
            if item is None:
                return
            if not self._write(item):
                return

    def hand_over(
        self, item: typing.Any, timeout: float | None = None
    ) -> bool:
        """Queue ``item`` (None: stop); False if the thread has ended,
        or after ``timeout`` seconds (None: as long as it runs)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._thread.is_alive():
            try:
                self._prepared.put(item, timeout=1.0)
                return True
            except queue.Full:
                if deadline is not None and time.monotonic() > deadline:
                    return False
        return False

    def stop(self) -> None:
        """Let the thread write what it holds, then end; a thread stuck
        in a statement is left behind (a daemon) after ``JOIN_TIMEOUT``."""
        if self.hand_over(None, JOIN_TIMEOUT):
            self._thread.join(JOIN_TIMEOUT)


def _receive_and_prepare(
    conn: typing.Any,
    store: typing.Any,
    deliver: typing.Callable[[typing.Any], bool],
) -> None:
    """Until the pipe ends: each batch, or RESUMED, to ``deliver``."""
    while True:
        try:
            payload = conn.recv_bytes()
        except (EOFError, OSError):
            return
        item: typing.Any
        if payload == child_protocol.RESUME:
            if not deliver(RESUMED):
                return
            continue
        try:
            batch = child_protocol.decode_batch(payload)
        except Exception as exc:  # will fail again: permanent
            item = _Failed(child_protocol.error(exc, True))
        else:
            try:
                item = store.prepare(batch)
            except Exception as exc:
                item = _Failed(_failure(exc, store))
        if not deliver(item):
            return


def serve(url: str, conn: typing.Any) -> None:
    """The child process: write each batch received, reply in order."""
    # Its parent ends it (the end of the pipe), whatever it was sent.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    # Imported here: the parent needs neither for the pipe end alone.
    from ceilometer_ha.storage import engine as engine_mod
    from ceilometer_ha.storage import store as store_mod

    engine = engine_mod.create_engine(url)
    store = store_mod.SampleStore(engine)
    heap.freeze_startup_heap()
    try:
        if engine.dialect.name == "sqlite":
            _receive_and_prepare(conn, store, InOrder(store, conn))
            return
        writer = _DatabaseThread(store, conn)
        try:
            _receive_and_prepare(conn, store, writer.hand_over)
        finally:
            writer.stop()
    finally:
        engine.dispose()
