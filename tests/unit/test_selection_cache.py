"""shared.keyed_cache.KeyedCache: single flight, failures, detaching invalidation, TTL, LRU (selection.md §7)."""

from __future__ import annotations

import asyncio

import pytest

from shared.keyed_cache import KeyedCache


class Loader:
    """Counts its calls; each call waits for `release` (when set) and returns the next value."""

    def __init__(self, *, fail: Exception | None = None, release: asyncio.Event | None = None) -> None:
        self.calls = 0
        self.fail = fail
        self.release = release

    async def __call__(self) -> str:
        self.calls += 1
        call = self.calls
        if self.release is not None:
            await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return f"value-{call}"


def cache(**options: float) -> KeyedCache[str, str]:
    return KeyedCache(name="test", ttl_s=options.get("ttl_s", 300.0), max_entries=int(options.get("max_entries", 100)))


async def test_a_miss_fills_once_for_every_concurrent_caller() -> None:
    release = asyncio.Event()
    load = Loader(release=release)
    entries = cache()
    waiters = [asyncio.create_task(entries.get("k", load)) for _ in range(200)]
    await asyncio.sleep(0)
    release.set()
    assert set(await asyncio.gather(*waiters)) == {"value-1"}
    assert load.calls == 1
    assert await entries.get("k", load) == "value-1"
    assert load.calls == 1


async def test_a_failed_fill_fails_its_waiters_and_stores_nothing() -> None:
    release = asyncio.Event()
    load = Loader(fail=RuntimeError("couch down"), release=release)
    entries = cache()
    waiters = [asyncio.create_task(entries.get("k", load)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(result, RuntimeError) for result in results)
    assert load.calls == 1 and "k" not in entries
    load.fail = None
    assert await entries.get("k", load) == "value-2"


@pytest.mark.parametrize("invalidate", ["drop", "drop_where", "clear"])
async def test_an_invalidation_detaches_the_fill_in_progress(invalidate: str) -> None:
    release = asyncio.Event()
    load = Loader(release=release)
    entries = cache()
    early = asyncio.create_task(entries.get("k", load))
    await asyncio.sleep(0)
    if invalidate == "drop":
        entries.drop("k")
    elif invalidate == "drop_where":
        entries.drop_where(lambda _key, _value: False)
    else:
        entries.clear()
    release.set()
    assert await early == "value-1"  # the waiter still gets its answer...
    assert "k" not in entries  # ...but the value read before the change is not kept
    assert await entries.get("k", load) == "value-2"


async def test_a_fresh_fill_after_an_invalidation_is_not_joined_by_the_detached_one() -> None:
    first_release, second_release = asyncio.Event(), asyncio.Event()
    entries = cache()
    first = asyncio.create_task(entries.get("k", Loader(release=first_release)))
    await asyncio.sleep(0)
    entries.drop("k")
    second_load = Loader(release=second_release)
    second = asyncio.create_task(entries.get("k", second_load))
    await asyncio.sleep(0)
    first_release.set()
    await first
    assert "k" not in entries  # the detached fill ended first and stored nothing
    second_release.set()
    assert await second == "value-1" and second_load.calls == 1
    assert "k" in entries


async def test_drop_where_removes_only_the_selected_entries() -> None:
    entries = cache()
    for key in ("a", "b", "c"):
        await entries.get(key, Loader())
    assert entries.drop_where(lambda key, _value: key != "b") == 2
    assert "b" in entries and len(entries) == 1


async def test_entries_expire_after_the_ttl() -> None:
    now = [1000.0]
    entries: KeyedCache[str, str] = KeyedCache(name="test", ttl_s=300.0, max_entries=10, clock=lambda: now[0])
    load = Loader()
    assert await entries.get("k", load) == "value-1"
    now[0] += 299.0
    assert await entries.get("k", load) == "value-1"
    now[0] += 2.0
    assert await entries.get("k", load) == "value-2"


async def test_the_least_recently_used_entry_goes_first() -> None:
    entries = cache(max_entries=2)
    load = Loader()
    await entries.get("a", load)
    await entries.get("b", load)
    await entries.get("a", load)  # a is now the most recently used
    await entries.get("c", load)
    assert "a" in entries and "c" in entries and "b" not in entries


async def test_a_caller_that_gives_up_does_not_cancel_the_fill() -> None:
    release = asyncio.Event()
    load = Loader(release=release)
    entries = cache()
    impatient = asyncio.create_task(entries.get("k", load))
    patient = asyncio.create_task(entries.get("k", load))
    await asyncio.sleep(0)
    impatient.cancel()
    release.set()
    assert await patient == "value-1"
    assert impatient.cancelled() and load.calls == 1


async def test_prefetch_starts_a_fill_that_later_callers_join() -> None:
    release = asyncio.Event()
    load = Loader(release=release)
    entries = cache()
    entries.prefetch("k", load)
    entries.prefetch("k", load)
    waiter = asyncio.create_task(entries.get("k", load))
    await asyncio.sleep(0)
    release.set()
    assert await waiter == "value-1" and load.calls == 1
    entries.prefetch("k", load)  # cached: nothing to do
    assert load.calls == 1


async def test_a_failed_prefetch_stores_nothing() -> None:
    load = Loader(fail=RuntimeError("couch down"))
    entries = cache()
    entries.prefetch("k", load)
    await asyncio.sleep(0.01)
    assert "k" not in entries and load.calls == 1
