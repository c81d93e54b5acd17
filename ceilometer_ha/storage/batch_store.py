"""What the batch writer writes to (``writer.SqlWriter``).

A ``BatchStore`` writes one batch and says how many samples were new;
``store.SampleStore`` is one. A ``PipelinedStore`` also takes a batch
before the previous one's outcome is known; ``process_store.ProcessStore``
is one. ``OneAtATime`` shows a plain store as a pipeline of depth one.
"""

import collections
import typing

from ceilometer_ha import wire


class BatchStore(typing.Protocol):
    """What the writer writes to; ``store.SampleStore`` is one."""

    def write_batch(self, records: list[wire.SampleRecord]) -> int: ...

    def is_permanent(self, exc: BaseException) -> bool: ...


class PipelinedStore(BatchStore, typing.Protocol):
    """A store that takes batches before the last one's outcome is known.

    ``receive_result`` returns (or raises) the outcome of the oldest
    batch sent; ``process_store.ProcessStore`` is one.
    """

    def send_batch(self, records: list[wire.SampleRecord]) -> None: ...

    def receive_result(self) -> int: ...


class OneAtATime:
    """A plain ``BatchStore`` seen as a pipeline of depth one."""

    def __init__(self, store: BatchStore) -> None:
        self._store = store
        self._sent: collections.deque[list[wire.SampleRecord]] = (
            collections.deque()
        )
        self.is_permanent = store.is_permanent
        self.write_batch = store.write_batch

    def send_batch(self, records: list[wire.SampleRecord]) -> None:
        self._sent.append(records)

    def receive_result(self) -> int:
        return self._store.write_batch(self._sent.popleft())
