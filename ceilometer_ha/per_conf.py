"""One object per configuration, shared by every plugin of a process.

The polling agent builds its plugins separately, each with the same
``ConfigOpts``; the prober, the cluster name source and the validation
verdict must be shared among them. ``ConfigOpts`` is unhashable (it is
a mapping), so objects are keyed by identity, and a weak reference
checks that the identity still names the same, living configuration.
"""

import collections.abc
import threading
import typing
import weakref

T = typing.TypeVar("T")


class PerConf(typing.Generic[T]):
    """A thread-safe ``conf -> T`` cache filled by ``factory(conf)``."""

    def __init__(self, factory: collections.abc.Callable[[typing.Any], T]):
        self._factory = factory
        self._lock = threading.Lock()
        self._items: dict[int, tuple[weakref.ref, T]] = {}

    def get(self, conf: typing.Any) -> T:
        with self._lock:
            item = self._items.get(id(conf))
            if item is not None and item[0]() is conf:
                return item[1]
            value = self._factory(conf)
            self._items[id(conf)] = (weakref.ref(conf), value)
            return value
