"""Cache-flush messages (bus.md §11): a caching process binds `cache.flush.<its cache>` and
`cache.flush.all` on its own queue, drops what it is asked to and answers `cache_flush_resp`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from shared.bus import envelope
from shared.bus.connection import Bus

log = structlog.get_logger(__name__)

EXCHANGE = "configuration"
SCHEMA = "cache_flush"


async def serve_cache_flush(bus: Bus, cache: str, flush: Callable[[str | None], int]) -> None:
    """Answer flushes of `cache` with `flush(account_id or None)`, which returns the entries dropped."""

    async def on_flush(request: dict[str, Any]) -> dict[str, Any]:
        errors = envelope.validate_message(request, SCHEMA)
        if errors:  # a broadcast has nobody to refuse: drop nothing, say so
            log.warning("invalid cache_flush ignored", errors=errors)
            dropped = 0
        else:
            account_id = request.get("Account-ID")
            dropped = flush(account_id if isinstance(account_id, str) else None)
            log.info("caches flushed", cache=cache, account_id=account_id, entries_dropped=dropped)
        reply = envelope.reply_headers(bus.app_name, request, "configuration", "cache_flush_resp")
        reply["Entries-Dropped"] = dropped
        return reply

    for binding_key in (f"cache.flush.{cache}", "cache.flush.all"):
        await bus.subscribe(EXCHANGE, binding_key, on_flush)
