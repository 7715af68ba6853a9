"""The numbers worker's caches (numbers.md §2.7, §9) and the broadcasts that drop them (bus.md §10, §11).

| cache | key | filled from | dropped by |
| --- | --- | --- | --- |
| config | `number_manager` | `system_config` (its `default` object) | its events; drops lookups too |
| outside settings | one entry | `system_config`: `OUTSIDE_CATEGORIES` + `http_timeout_ms` | their events, config's |
| reseller settings | reseller account id | `configs_number_manager` in its account DB | events on that doc |
| accounts | account id | `accounts` (shared.account_directory) | its account events |
| lookups | E.164 number | the number doc and its owner (`lookup_reply`) | number events, the owner's events |
| descendants | account id | `accounts` view `listing_by_descendants` (listing's cascade count) | any account event |

Everything is also dropped by `cache.flush.numbers` / `cache.flush.all` (or only what concerns one
account), after every reconnect to the broker (events may have been missed), and by a TTL backstop:
300 s for config and accounts, 1 hour for lookups.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from shared.account_directory import AccountDirectory
from shared.bus.connection import Bus
from shared.bus.encoding import encode_segment
from shared.bus.flush import serve_cache_flush
from shared.couch import names
from shared.couch.client import Couch
from shared.domain.number_config import (
    OUTSIDE_CATEGORIES,
    NumberManagerConfig,
    OutsideSettings,
    ResellerSettings,
)
from shared.domain.number_features import FeaturePolicy
from shared.domain.number_lookup import lookup_reply
from shared.domain.numbering import is_reconcilable, normalize
from shared.keyed_cache import KeyedCache
from shared.number_store import NumberStore
from shared.system_config import number_manager_config

log = structlog.get_logger(__name__)

CONFIG_TTL_S = 300.0
LOOKUP_TTL_S = 3600.0
MAX_RESELLERS = 10_000
MAX_ACCOUNTS = 100_000
MAX_LOOKUPS = 100_000
NUMBER_MANAGER = "number_manager"
RESELLER_CONFIG = "configs_number_manager"
ACCOUNTS_DDOC, DESCENDANTS_VIEW = "accounts", "listing_by_descendants"

EVENTS_EXCHANGE = "configuration"
NUMBER_EVENTS = "*.*.number.*"
ACCOUNT_EVENTS = f"*.{names.ACCOUNTS}.account.*"
CONFIG_EVENTS = f"*.{names.SYSTEM_CONFIG}.*.{NUMBER_MANAGER}"
OUTSIDE_EVENTS = tuple(f"*.{names.SYSTEM_CONFIG}.*.{encode_segment(category)}" for category in OUTSIDE_CATEGORIES)
OUTSIDE = "outside"
RESELLER_CONFIG_EVENTS = f"*.*.*.{RESELLER_CONFIG}"

EventHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any] | None]]


class NumbersCaches:
    """Every read the number routes and the lookup make besides the number docs themselves."""

    def __init__(self, couch: Couch, store: NumberStore) -> None:
        self._couch = couch
        self._store = store
        self._config: KeyedCache[str, NumberManagerConfig] = KeyedCache(
            name="numbers.config", ttl_s=CONFIG_TTL_S, max_entries=1
        )
        self._outside: KeyedCache[str, OutsideSettings] = KeyedCache(
            name="numbers.outside", ttl_s=CONFIG_TTL_S, max_entries=1
        )
        self._resellers: KeyedCache[str, ResellerSettings | None] = KeyedCache(
            name="numbers.resellers", ttl_s=CONFIG_TTL_S, max_entries=MAX_RESELLERS
        )
        self.accounts = AccountDirectory(couch, ttl_s=CONFIG_TTL_S, max_entries=MAX_ACCOUNTS)
        self.lookups: KeyedCache[str, dict[str, Any]] = KeyedCache(
            name="numbers.lookups", ttl_s=LOOKUP_TTL_S, max_entries=MAX_LOOKUPS
        )
        self._descendants: KeyedCache[str, tuple[str, ...]] = KeyedCache(
            name="numbers.descendants", ttl_s=CONFIG_TTL_S, max_entries=MAX_ACCOUNTS
        )

    # --- reads ------------------------------------------------------------------------------------

    async def config(self) -> NumberManagerConfig:
        return await self._config.get(NUMBER_MANAGER, lambda: number_manager_config(self._couch))

    async def outside(self) -> OutsideSettings:
        """Where the phonebook, the locality service and the E911 provider are (§2.7)."""
        return await self._outside.get(OUTSIDE, self._load_outside)

    async def _reseller_settings(self, account_id: str) -> ResellerSettings | None:
        reseller = await self.accounts.reseller_of(account_id)
        if reseller is None:
            return None
        return await self._resellers.get(reseller, lambda: self._load_reseller(reseller))

    async def feature_policy(self, owner_id: str, config: NumberManagerConfig) -> FeaturePolicy:
        """§6.2: the features available on numbers owned by `owner_id` (through its reseller's lists)."""
        settings = await self._reseller_settings(owner_id)
        return FeaturePolicy.resolve(config.features, settings.features if settings else None)

    async def carrier_modules(self, account_id: str | None, config: NumberManagerConfig) -> tuple[str, ...]:
        """§5.2: the modules a search by `account_id` asks (its reseller's list, else the system's)."""
        settings = await self._reseller_settings(account_id) if account_id else None
        if settings is not None and settings.carrier_modules is not None:
            return settings.carrier_modules
        return config.carrier_modules

    async def descendants(self, account_id: str) -> tuple[str, ...]:
        """The ids of the account's strict descendants."""
        return await self._descendants.get(account_id, lambda: self._load_descendants(account_id))

    async def lookup(self, number: str) -> dict[str, Any]:
        """The `lookup_resp` fields of §9 (successes and errors are cached alike)."""
        config = await self.config()
        e164 = normalize(number, config.e164_converters)
        if not is_reconcilable(e164):
            return lookup_reply(number, None, None, config)
        return await self.lookups.get(e164, lambda: self._store.lookup(e164, self.accounts, config))

    async def _load_reseller(self, reseller_id: str) -> ResellerSettings | None:
        doc = await self._couch.get(names.account_db(reseller_id), RESELLER_CONFIG)
        return ResellerSettings.from_values(doc) if doc is not None else None

    async def _load_outside(self) -> OutsideSettings:
        async def values(category: str) -> dict[str, Any] | None:
            doc = await self._couch.get(names.SYSTEM_CONFIG, category)
            found = doc.get("default") if doc is not None else None
            return found if isinstance(found, dict) else None

        config, *found = await asyncio.gather(self.config(), *(values(category) for category in OUTSIDE_CATEGORIES))
        return OutsideSettings.from_values(dict(zip(OUTSIDE_CATEGORIES, found, strict=True)), config)

    async def _load_descendants(self, account_id: str) -> tuple[str, ...]:
        rows = await self._couch.view(
            names.ACCOUNTS, ACCOUNTS_DDOC, DESCENDANTS_VIEW, startkey=[account_id], endkey=[account_id, {}]
        )
        return tuple(sorted({str(row["id"]) for row in rows} - {account_id}))

    # --- invalidation -----------------------------------------------------------------------------

    def drop_number(self, number: str) -> int:
        return self.lookups.drop(number)

    def drop_account(self, account_id: str) -> int:
        """The account entry, its reseller lists, the lookups that name it as owner, and every descendant
        list (an account made, moved or deleted anywhere changes those of its ancestors)."""
        return (
            self.accounts.invalidate(account_id)
            + self._descendants.clear()
            + self._resellers.drop(account_id)
            + self.lookups.drop_where(lambda _number, reply: reply.get("Account-ID") == account_id)
        )

    def drop_config(self) -> int:
        """`number_manager` and what was built with it: outside settings (the timeout), policies and
        lookups (converters, force rules)."""
        return self._config.clear() + self._outside.clear() + self._resellers.clear() + self.lookups.clear()

    def flush(self, account_id: str | None = None) -> int:
        if account_id is not None:
            return self.drop_account(account_id)
        return self.drop_config() + self.accounts.invalidate() + self._descendants.clear()

    # --- wiring to the bus ------------------------------------------------------------------------

    async def attach(self, bus: Bus) -> None:
        """Bind the events and flushes on the process's own queue; flush everything after a reconnect."""

        async def on_number(event: dict[str, Any]) -> None:
            self.drop_number(str(event.get("ID", "")))

        async def on_account(event: dict[str, Any]) -> None:
            self.drop_account(str(event.get("ID", "")))

        async def on_config(_event: dict[str, Any]) -> None:
            self.drop_config()

        async def on_outside(_event: dict[str, Any]) -> None:
            self._outside.clear()

        async def on_reseller_config(event: dict[str, Any]) -> None:
            account_id = event.get("Account-ID") or names.account_id_from_db(str(event.get("Database", "")))
            if isinstance(account_id, str) and account_id:
                self._resellers.drop(account_id)

        async def on_reconnect() -> None:
            log.info("caches flushed after reconnect", entries_dropped=self.flush())

        subscriptions: list[tuple[str, EventHandler]] = [
            (NUMBER_EVENTS, on_number),
            (ACCOUNT_EVENTS, on_account),
            (CONFIG_EVENTS, on_config),
            *((binding, on_outside) for binding in OUTSIDE_EVENTS),
            (RESELLER_CONFIG_EVENTS, on_reseller_config),
        ]
        for binding_key, handler in subscriptions:
            await bus.subscribe(EVENTS_EXCHANGE, binding_key, handler)
        await serve_cache_flush(bus, "numbers", self.flush)
        bus.on_reconnect(on_reconnect)
