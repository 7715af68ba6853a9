"""Read-through cache of account documents (DB `accounts`) for authentication and authorization.

The gateway and the workers ask it who an account is (its tree, its privileges, its realm). Entries are
dropped by the document-change events of DB `accounts`, flushed on reconnect, and expire after a TTL as a
backstop, so a disabled account or a revoked privilege takes effect on the next request. Loads are
single-flight and an event detaches a load in progress (shared.keyed_cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.bus.connection import Bus
from shared.couch import names
from shared.couch.client import Couch
from shared.keyed_cache import KeyedCache


@dataclass(frozen=True)
class AccountInfo:
    id: str
    name: str
    tree: tuple[str, ...]  # ancestor ids, root first
    superduper_admin: bool
    enabled: bool
    deleted: bool
    is_reseller: bool
    wnm_allow_additions: bool
    realm: str | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> AccountInfo:
        return cls(
            id=doc["_id"],
            name=str(doc.get("name", "")),
            tree=tuple(doc.get("pvt_tree") or ()),
            superduper_admin=bool(doc.get("pvt_superduper_admin", False)),
            enabled=bool(doc.get("pvt_enabled", True)),
            deleted=bool(doc.get("pvt_deleted", False)),
            is_reseller=bool(doc.get("pvt_is_reseller", False)),
            wnm_allow_additions=bool(doc.get("pvt_wnm_allow_additions", False)),
            realm=doc["realm"] if isinstance(doc.get("realm"), str) and doc["realm"] else None,
        )

    @property
    def usable(self) -> bool:
        """Exists for the API: not deleted (a disabled account still exists, its tokens are refused)."""
        return not self.deleted


class AccountDirectory:
    def __init__(self, couch: Couch, ttl_s: float = 30.0, max_entries: int = 100_000) -> None:
        self._couch = couch
        self._cache: KeyedCache[str, AccountInfo | None] = KeyedCache(
            name="accounts", ttl_s=ttl_s, max_entries=max_entries
        )

    async def attach(self, bus: Bus) -> None:
        """Drop entries on account document changes, and everything on reconnect."""

        async def on_change(event: dict[str, Any]) -> None:
            self.invalidate(str(event.get("ID", "")))

        async def on_reconnect() -> None:
            self.invalidate()

        await bus.subscribe("configuration", f"*.{names.ACCOUNTS}.account.*", on_change)
        bus.on_reconnect(on_reconnect)

    def invalidate(self, account_id: str | None = None) -> int:
        """Drop one account (or all); the number of entries dropped."""
        return self._cache.clear() if account_id is None else self._cache.drop(account_id)

    async def get(self, account_id: str) -> AccountInfo | None:
        """The account, None when no account document has that id. Raises the CouchDB layer's errors."""
        return await self._cache.get(account_id, lambda: self._load(account_id))

    async def _load(self, account_id: str) -> AccountInfo | None:
        doc = await self._couch.get(names.ACCOUNTS, account_id)
        return AccountInfo.from_doc(doc) if doc and doc.get("pvt_type") == "account" else None

    async def reseller_of(self, account_id: str) -> str | None:
        """numbers.md §0.1: the nearest of the account and its ancestors with `is_reseller`, else the root
        of its tree (the master); None when the account does not exist."""
        info = await self.get(account_id)
        if info is None:
            return None
        if info.is_reseller:
            return info.id
        for ancestor_id in reversed(info.tree):
            ancestor = await self.get(ancestor_id)
            if ancestor is not None and ancestor.is_reseller:
                return ancestor.id
        return info.tree[0] if info.tree else info.id
