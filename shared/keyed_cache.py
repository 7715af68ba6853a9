"""An in-memory read-through cache for documents that change elsewhere (selection.md §7, numbers.md §9).

- Single flight: a miss starts one fill per key; callers that miss the same key meanwhile await it. The
  fill runs in its own task, so a caller that gives up (timeout, cancellation) does not fail the others.
- A failed fill answers all its waiters with its exception and stores nothing: the next call retries.
- Invalidation detaches: `drop`, `drop_where` and `clear` remove entries and detach fills in progress,
  which still answer the callers already waiting but store nothing. So a value read before a change is
  never stored after the change was announced.
- A TTL (a backstop for writes that announce nothing) and a bound on entries (least recently used first).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from shared import metrics

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Loader = Callable[[], Awaitable[V]]


class KeyedCache(Generic[K, V]):
    def __init__(
        self, *, name: str, ttl_s: float, max_entries: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name  # the `cache` label of the hit/miss metrics
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()  # key -> (expiry, value), LRU first
        self._fills: dict[K, asyncio.Future[V]] = {}  # the attached fill of each key
        self._tasks: set[asyncio.Task[None]] = set()  # keeps fill tasks referenced until they end

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    async def get(self, key: K, load: Loader[V]) -> V:
        """The cached value, else the result of the fill in progress, else of a new fill by `load`."""
        entry = self._entries.get(key)
        if entry is not None:
            if entry[0] > self._clock():
                self._entries.move_to_end(key)
                metrics.cache_hit(self.name)
                return entry[1]
            del self._entries[key]
        metrics.cache_miss(self.name)
        return await asyncio.shield(self._fills.get(key) or self._start(key, load))

    def prefetch(self, key: K, load: Loader[V]) -> None:
        """Begin filling `key` now unless it is cached or a fill is under way (warm start)."""
        if key not in self._entries and key not in self._fills:
            self._start(key, load)

    def drop(self, key: K) -> int:
        """Remove one entry and detach its fill; the number of entries removed (0 or 1)."""
        self._fills.pop(key, None)
        return 1 if self._entries.pop(key, None) is not None else 0

    def drop_where(self, predicate: Callable[[K, V], bool]) -> int:
        """Remove the entries `predicate` selects. Every fill in progress is detached too: what it will
        return is unknown yet, so it may be one the predicate would have selected."""
        self._fills.clear()
        doomed = [key for key, (_, value) in self._entries.items() if predicate(key, value)]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    def clear(self) -> int:
        """Remove everything and detach every fill; the number of entries removed."""
        self._fills.clear()
        dropped = len(self._entries)
        self._entries.clear()
        return dropped

    def _start(self, key: K, load: Loader[V]) -> asyncio.Future[V]:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._fills[key] = future
        task = asyncio.create_task(self._fill(key, load, future))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return future

    async def _fill(self, key: K, load: Loader[V], future: asyncio.Future[V]) -> None:
        try:
            value = await load()
        except asyncio.CancelledError:  # shutting down: the waiters must not hang
            self._detach(key, future)
            future.cancel()
            raise
        except Exception as exc:
            self._detach(key, future)
            future.set_exception(exc)
            future.exception()  # retrieved here: a fill nobody awaits (prefetch) must not log it as lost
            return
        if self._detach(key, future):  # still attached: no invalidation since it started
            self._entries[key] = (self._clock() + self._ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        future.set_result(value)

    def _detach(self, key: K, future: asyncio.Future[V]) -> bool:
        """End `future`'s hold on `key`; False when an invalidation had detached it already."""
        if self._fills.get(key) is not future:
            return False
        del self._fills[key]
        return True
