"""The selection worker's caches (selection.md §7) and the broadcasts that drop them (bus.md §10, §11).

| cache | key | filled from | dropped by |
| --- | --- | --- | --- |
| config | `number_manager` | `system_config` | its own events |
| pools | database name | one `resources/crossbar_listing` query with docs, compiled | resource events of that DB |
| accounts | account id | the doc in `accounts` (shared.account_directory) | its account events |
| lookups | normalised number | `NumberStore.lookup` (successes and errors) | number events, owner's account events |

A `number_manager` change drops everything (converters and classifiers shape pools and lookups); so does
every (re)connection to the broker, since events may have been missed meanwhile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from shared.account_directory import AccountDirectory, AccountInfo
from shared.bus.connection import Bus
from shared.bus.encoding import decode_segment
from shared.bus.flush import serve_cache_flush
from shared.couch import names
from shared.couch.client import Couch
from shared.couch.errors import CouchError, NotFound
from shared.domain.number_config import NumberManagerConfig
from shared.domain.numbering import normalize
from shared.domain.selection import CompiledResource, OnNetInfo, compile_pool
from shared.keyed_cache import KeyedCache
from shared.number_store import NumberStore
from shared.system_config import number_manager_config

log = structlog.get_logger(__name__)

CACHE_TTL_S = 300.0  # pools, accounts, config (selection.md's fixed values)
LOOKUP_TTL_S = 3600.0  # numbers.md §9
MAX_POOLS = 10_000
MAX_ACCOUNTS = 100_000
MAX_LOOKUPS = 100_000
NUMBER_MANAGER = "number_manager"
RESOURCES_DDOC = "resources"
RESOURCES_VIEW = "crossbar_listing"  # every non-deleted resource of the DB

# bus.md §10 and §11: what the worker binds on exchange `configuration`.
EVENTS_EXCHANGE = "configuration"
RESOURCE_EVENTS = "*.*.resource.*"
ACCOUNT_EVENTS = f"*.{names.ACCOUNTS}.account.*"
NUMBER_EVENTS = "*.*.number.*"
CONFIG_EVENTS = f"*.{names.SYSTEM_CONFIG}.*.{NUMBER_MANAGER}"

Pool = tuple[CompiledResource, ...]
EventHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]


def _names_account(account_id: str) -> Callable[[str, dict[str, Any]], bool]:
    return lambda _number, reply: reply.get("Account-ID") == account_id


class SelectionCaches:
    """Every read selection makes, cached. Reads raise the CouchDB layer's errors, except `on_net`,
    for which any failure means "not on-net" (selection.md §3.4)."""

    def __init__(self, couch: Couch) -> None:
        self._couch = couch
        self._numbers = NumberStore(couch, None)  # reads only
        self._config: KeyedCache[str, NumberManagerConfig] = KeyedCache(
            name="selection.config", ttl_s=CACHE_TTL_S, max_entries=1
        )
        self.pools: KeyedCache[str, Pool] = KeyedCache(name="selection.pools", ttl_s=CACHE_TTL_S, max_entries=MAX_POOLS)
        self.accounts = AccountDirectory(couch, ttl_s=CACHE_TTL_S, max_entries=MAX_ACCOUNTS)
        self.lookups: KeyedCache[str, dict[str, Any]] = KeyedCache(
            name="selection.lookups", ttl_s=LOOKUP_TTL_S, max_entries=MAX_LOOKUPS
        )

    # --- reads --------------------------------------------------------------------------------------

    async def config(self) -> NumberManagerConfig:
        return await self._config.get(NUMBER_MANAGER, lambda: number_manager_config(self._couch))

    async def pool(self, db: str) -> Pool:
        """The compiled resources of `db` (a missing database is an empty pool)."""
        return await self.pools.get(db, lambda: self._load_pool(db))

    async def account(self, account_id: str) -> AccountInfo | None:
        """The account, None when it does not exist (or is deleted)."""
        info = await self.accounts.get(account_id)
        return info if info is not None and info.usable else None

    async def on_net(self, number: str, config: NumberManagerConfig) -> OnNetInfo | None:
        """The lookup of `number` as selection uses it: None unless it succeeds."""
        key = normalize(number, config.e164_converters)
        try:
            reply = await self.lookups.get(key, lambda: self._numbers.lookup(key, self.accounts, config))
        except CouchError as exc:
            log.warning("number lookup failed; treated as not on-net", number=key, error=str(exc))
            return None
        return OnNetInfo.from_lookup_reply(reply)

    def warm(self) -> None:
        """Begin filling the global pool now, so the first requests await a fill already under way."""
        self.pools.prefetch(names.OFFNET, lambda: self._load_pool(names.OFFNET))

    async def _load_pool(self, db: str) -> Pool:
        config = await self.config()
        try:
            rows = await self._couch.view(db, RESOURCES_DDOC, RESOURCES_VIEW, include_docs=True)
        except NotFound:  # a DB made before its view existed: install the design docs, retry once
            kind = names.db_kind(db)
            if kind is None:
                raise
            await self._couch.install_design_docs(db, kind)
            rows = await self._couch.view(db, RESOURCES_DDOC, RESOURCES_VIEW, include_docs=True)
        docs = [row["doc"] for row in rows if isinstance(row.get("doc"), dict)]
        pool = compile_pool(docs, is_global=db == names.OFFNET, classifiers=config.classifiers)
        for resource in pool:
            for warning in resource.warnings:
                log.warning("resource pattern dropped", db=db, detail=warning)
        log.info("pool loaded", db=db, resources=len(docs))
        return pool

    # --- invalidation -------------------------------------------------------------------------------

    def drop_pool(self, db: str) -> int:
        return self.pools.drop(db)

    def drop_account(self, account_id: str) -> int:
        """The account entry and the lookups that name it (as owner)."""
        return self.accounts.invalidate(account_id) + self.lookups.drop_where(_names_account(account_id))

    def drop_number(self, number: str) -> int:
        return self.lookups.drop(number)

    def drop_config(self) -> int:
        """`number_manager` and everything built with it: pools (classifiers) and lookups (converters)."""
        return self._config.clear() + self.pools.clear() + self.lookups.clear()

    def flush(self, account_id: str | None = None) -> int:
        """Everything, or what concerns one account: its pool, its entry, the lookups naming it."""
        if account_id is not None:
            return self.drop_pool(names.account_db(account_id)) + self.drop_account(account_id)
        return self.drop_config() + self.accounts.invalidate()

    # --- wiring to the bus --------------------------------------------------------------------------

    async def attach(self, bus: Bus) -> None:
        """Bind the events and flushes on the process's own queue; flush and re-warm after a reconnect."""

        async def on_resource(event: dict[str, Any]) -> None:
            self.drop_pool(decode_segment(str(event.get("Database", ""))))

        async def on_account(event: dict[str, Any]) -> None:
            self.drop_account(str(event.get("ID", "")))

        async def on_number(event: dict[str, Any]) -> None:
            self.drop_number(str(event.get("ID", "")))

        async def on_config(_event: dict[str, Any]) -> None:
            self.drop_config()

        async def on_reconnect() -> None:
            log.info("caches flushed after reconnect", entries_dropped=self.flush())
            self.warm()

        subscriptions: list[tuple[str, EventHandler]] = [
            (RESOURCE_EVENTS, on_resource),
            (ACCOUNT_EVENTS, on_account),
            (NUMBER_EVENTS, on_number),
            (CONFIG_EVENTS, on_config),
        ]
        for binding_key, handler in subscriptions:
            await bus.subscribe(EVENTS_EXCHANGE, binding_key, handler)
        await serve_cache_flush(bus, "selection", self.flush)
        bus.on_reconnect(on_reconnect)
