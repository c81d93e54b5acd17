"""The collector never waits on its writer process without a bound.

A stand-in child that reads nothing and answers nothing (as one stuck
in a statement no timeout covers) takes the place of the writer process
of a ``ProcessStore`` on SQLite: the outcome awaited from it fails as
transient after ``reply_timeout`` and a real child takes over; ``close``
returns even with a batch filling the pipe, and kills it; the
collector's stop gives it no more than ``shutdown_timeout`` allows.
"""

import multiprocessing
import select
import socket
import threading
import time

import pytest

from ceilometer_ha.cmd import collector as collector_cmd
from ceilometer_ha.collector import dispatcher
from ceilometer_ha.collector import stats as stats_mod
from ceilometer_ha.storage import child_protocol
from ceilometer_ha.storage import engine as engine_mod
from ceilometer_ha.storage import migration
from ceilometer_ha.storage import process_store
from tests import records
from tests.functional import collector as helper
from tests.functional import collector_config

# Bounds of the test's own waits, far above what each takes.
WAIT = 60.0


def _silent(_conn) -> None:
    """A writer process stuck before reading anything (see module doc)."""
    time.sleep(3600)


def _record(mid, note=""):
    return records.record(
        mid, resource_metadata={"host": "compute-1", "note": note}
    )


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'ha.sqlite'}"
    engine = engine_mod.create_engine(url)
    migration.upgrade(engine)
    engine.dispose()
    store = process_store.ProcessStore(url)
    yield store
    store.close()


def _give_silent_child(store):
    """Make ``store`` send to a ``_silent`` child; return the child."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    proc = context.Process(target=_silent, args=(child,), daemon=True)
    proc.start()
    child.close()
    store._proc, store._conn = proc, parent
    return proc


def _pipe_full(conn):
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLOUT)
    return not poller.poll(0)


def test_an_outcome_not_coming_fails_as_lost_and_a_child_takes_over(store):
    silent = _give_silent_child(store)
    given = store.reply_timeout
    store.reply_timeout = 0.5
    store.send_batch([_record("a")])
    with pytest.raises(child_protocol.RemoteWriteError) as lost:
        store.receive_result()
    assert not lost.value.permanent
    silent.join(WAIT)
    assert silent.exitcode is not None
    # The real child that takes over starts a Python and an engine
    # first: it gets the store's own bound, not the test's half second.
    store.reply_timeout = given
    assert store.write_batch([_record("a")]) == 1


def test_close_returns_while_a_batch_fills_the_pipe(store):
    silent = _give_silent_child(store)
    # Far more than the pipe holds: the sending thread waits, as a
    # writer thread the stop gave up on would.
    batch = [_record(f"m{i}", "x" * 1000) for i in range(5000)]
    failures = []

    def _send():
        try:
            store.send_batch(batch)
        except child_protocol.RemoteWriteError as exc:
            failures.append(exc)

    sending = threading.Thread(target=_send, daemon=True)
    sending.start()
    helper.wait_until(lambda: _pipe_full(store._conn), WAIT, "a full pipe")
    assert sending.is_alive()

    closing = threading.Thread(target=store.close, args=(0.5,), daemon=True)
    closing.start()
    closing.join(WAIT)
    assert not closing.is_alive()
    assert silent.exitcode is not None
    sending.join(WAIT)
    assert not sending.is_alive()
    assert [f.permanent for f in failures] == [False]


def test_close_lets_a_child_that_wrote_everything_exit(store):
    assert store.write_batch([_record("a")]) == 1
    child = store._proc
    store.close()
    assert child.exitcode == 0


def test_a_stop_gives_a_stuck_writer_process_only_the_budget_left(
    tmp_path, monkeypatch, caplog
):
    # The default grace far beyond the test's wait: only the stop's
    # budget can end the child in time.
    monkeypatch.setattr(process_store, "JOIN_TIMEOUT", 10 * WAIT)
    url = f"sqlite:///{tmp_path / 'ha.sqlite'}"
    config, overlay, _ = collector_config.write_files(
        tmp_path, url, collector_config.SEED_CONFIG.read_text(), None
    )
    conf = collector_cmd.prepare_conf(
        ["--config-file", str(config), "--config-file", str(overlay)]
    )
    engine = engine_mod.create_engine(url)
    migration.upgrade(engine)
    engine.dispose()
    database = dispatcher.DatabaseDispatcher(conf, stats_mod.Stats())
    store = database._store
    children = []
    monkeypatch.setattr(
        store, "start", lambda: children.append(_give_silent_child(store))
    )
    database.start()
    database.dispatch(_record("a"))
    helper.wait_until(lambda: store._unconfirmed, WAIT, "a batch sent")

    left = []
    stopping = threading.Thread(
        target=lambda: left.append(database.stop(0.5)), daemon=True
    )
    stopping.start()
    stopping.join(WAIT)
    assert not stopping.is_alive()
    assert left == [1]
    [silent] = children
    assert silent.exitcode is not None
    # Killed after the least grace, the budget being spent: not after
    # JOIN_TIMEOUT, nor after a budget of its own.
    assert (
        "did not exit in 1.0 s, killed with 1 samples sent to it"
        in caplog.text
    )
    # Killed by the stop itself, as that line says: not "unasked".
    assert "ended unasked" not in caplog.text


def test_a_stop_does_not_wait_for_a_schema_check_without_answer(tmp_path):
    # A "MySQL server" on 127.0.0.1 that takes connections and never
    # greets: the schema check started while waiting for the database
    # hangs in it (as on a server gone silent) until the test ends it.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"mysql+pymysql://ha@127.0.0.1:{port}/ha?connect_timeout=3600"
    config, overlay, _ = collector_config.write_files(
        tmp_path, url, collector_config.SEED_CONFIG.read_text(), None
    )
    conf = collector_cmd.prepare_conf(
        ["--config-file", str(config), "--config-file", str(overlay)]
    )
    # No listener yet: refused at once, so the collector waits.
    database = dispatcher.DatabaseDispatcher(conf, stats_mod.Stats())
    silent = socket.create_server(("127.0.0.1", port))
    taken = []
    try:
        database.start()
        ready, _, _ = select.select([silent], [], [], WAIT)
        assert ready, "the schema check never connected"
        taken.append(silent.accept()[0])
        waiter = database._waiter._thread
        stopping = threading.Thread(
            target=database.stop, args=(0.5,), daemon=True
        )
        stopping.start()
        stopping.join(WAIT)
        assert not stopping.is_alive()
        # The stop returned while the check still hangs: it did not
        # wait for it beyond its budget.
        assert waiter.is_alive()
    finally:
        for sock in (*taken, silent):
            sock.close()
    waiter.join(WAIT)
    assert not waiter.is_alive()
