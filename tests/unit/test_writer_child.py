"""The writer child commits batches in the order sent, failures included.

``InOrder`` with a fake store and a recording pipe end: after a failed
batch, the batches already sent behind it are held back (answered as
transient failures, not written) until the parent's RESUME.
"""

import types

from ceilometer_ha.storage import child_protocol
from ceilometer_ha.storage import writer_child


class FakeStore:
    """``execute`` as SampleStore's: new samples, or the database's error."""

    engine = types.SimpleNamespace(dialect=types.SimpleNamespace(dbapi=None))

    def __init__(self, failures):
        # batch name -> exception raised on its next write
        self.failures = dict(failures)
        self.executed = []

    def execute(self, batch):
        self.executed.append(batch)
        exc = self.failures.pop(batch, None)
        if exc is not None:
            raise exc
        return 10

    def is_permanent(self, exc):
        return isinstance(exc, ValueError)


class RecordingPipe:
    def __init__(self):
        self.replies = []

    def send(self, reply):
        self.replies.append(reply)


def _run(store, items):
    pipe = RecordingPipe()
    write = writer_child.InOrder(store, pipe)
    for item in items:
        assert write(item)
    return [
        reply[1] if reply[0] == "ok" else ("error", reply[2])
        for reply in pipe.replies
    ]


def test_batches_after_a_failed_one_wait_for_resume_then_go_in_order():
    store = FakeStore({"b1": ConnectionError("lost")})
    replies = _run(
        store, ["b1", "b2", "b3", writer_child.RESUMED, "b1", "b2", "b3"]
    )
    # b2 and b3 were not written before b1 was written again.
    assert store.executed == ["b1", "b1", "b2", "b3"]
    assert replies == [("error", False)] * 3 + [10, 10, 10]


def test_a_held_back_batch_says_why_and_is_transient():
    store = FakeStore({"b1": ConnectionError("lost")})
    pipe = RecordingPipe()
    write = writer_child.InOrder(store, pipe)
    write("b1")
    write("b2")
    assert pipe.replies[1] == child_protocol.held_back()
    assert "earlier batch failed" in pipe.replies[1][1]


def test_a_refused_batch_holds_back_too_and_resume_lets_rows_in():
    # The parent writes a refused batch again row by row, after RESUME.
    store = FakeStore({"bad": ValueError("refused")})
    replies = _run(store, ["bad", "next", writer_child.RESUMED, "row1"])
    assert replies == [("error", True), ("error", False), 10]
    assert store.executed == ["bad", "row1"]


def test_without_failures_nothing_is_held():
    store = FakeStore({})
    assert _run(store, ["b1", "b2", "b3"]) == [10, 10, 10]
