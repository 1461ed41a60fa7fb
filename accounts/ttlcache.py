"""A small in-process cache bounded in size and in age (issue #12, item 7).

Both per-process caches of accounts (known users in ``accounts.services``, verified tokens in
``accounts.clerk``) are this one class: a plain dict that is never evicted grows with every
distinct user or token a long-lived worker meets.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable


class TTLCache:
    """At most ``max_entries`` values, each for ``ttl`` seconds after it was put.

    Entries are kept in the order they were put (a put moves its key to the end), and all share
    one ``ttl``, so the oldest entry is also the first to expire: every ``put`` drops expired
    entries from the front, then the oldest ones while the cache is over its cap. Both costs are
    constant per call on average, and the cache never holds an expired entry for longer than it
    takes the next ``put`` to arrive. Thread-safe (runserver and gthread workers share it).
    """

    def __init__(
        self, *, max_entries: int, ttl: float, clock: Callable[[], float] = time.monotonic
    ):
        self.max_entries = max_entries
        self.ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[object, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable):
        """The value put for ``key`` less than ``ttl`` seconds ago, else None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, expires_at = entry
        if self._clock() < expires_at:
            return value
        with self._lock:
            if self._entries.get(key) is entry:
                del self._entries[key]
        return None

    def put(self, key: Hashable, value) -> None:
        now = self._clock()
        with self._lock:
            self._entries[key] = (value, now + self.ttl)
            self._entries.move_to_end(key)
            while self._entries:
                _, (_, expires_at) = next(iter(self._entries.items()))
                if expires_at > now and len(self._entries) <= self.max_entries:
                    break
                self._entries.popitem(last=False)

    def pop(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
