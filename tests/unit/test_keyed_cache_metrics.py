"""Every KeyedCache counts its hits and misses under its own name (issue 9's cache metrics)."""

from __future__ import annotations

from shared.keyed_cache import KeyedCache
from shared.metrics import CACHE_LOOKUPS


def _count(cache: str, result: str) -> float:
    return CACHE_LOOKUPS.labels(cache, result)._value.get()


async def test_hits_and_misses_are_counted() -> None:
    cache: KeyedCache[str, int] = KeyedCache(name="unit.metrics", ttl_s=60.0, max_entries=10)
    hits, misses = _count("unit.metrics", "hit"), _count("unit.metrics", "miss")

    async def load() -> int:
        return 7

    assert await cache.get("k", load) == 7
    assert await cache.get("k", load) == 7
    assert await cache.get("other", load) == 7
    assert _count("unit.metrics", "miss") == misses + 2
    assert _count("unit.metrics", "hit") == hits + 1
