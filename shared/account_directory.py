"""Read-through cache of account documents (DB `accounts`) for authentication and authorization.

The gateway and the workers ask it who an account is (its tree, its privileges). Entries are dropped by
the document-change events of DB `accounts`, flushed on reconnect, and expire after a short TTL as a
backstop, so a disabled account or a revoked privilege takes effect on the next request.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from shared.bus.connection import Bus
from shared.couch import names
from shared.couch.client import Couch


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
        )

    @property
    def usable(self) -> bool:
        """Exists for the API: not deleted (a disabled account still exists, its tokens are refused)."""
        return not self.deleted


class AccountDirectory:
    def __init__(self, couch: Couch, ttl_s: float = 30.0) -> None:
        self._couch = couch
        self._ttl_s = ttl_s
        self._entries: dict[str, tuple[float, AccountInfo | None]] = {}
        self._loading: dict[str, asyncio.Future[AccountInfo | None]] = {}

    async def attach(self, bus: Bus) -> None:
        """Drop entries on account document changes, and everything on reconnect."""

        async def on_change(event: dict[str, Any]) -> None:
            self.invalidate(str(event.get("ID", "")))

        async def on_reconnect() -> None:
            self.invalidate()

        await bus.subscribe("configuration", f"*.{names.ACCOUNTS}.account.*", on_change)
        bus.on_reconnect(on_reconnect)

    def invalidate(self, account_id: str | None = None) -> int:
        if account_id is None:
            dropped = len(self._entries)
            self._entries.clear()
            return dropped
        return 1 if self._entries.pop(account_id, None) else 0

    async def get(self, account_id: str) -> AccountInfo | None:
        cached = self._entries.get(account_id)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        pending = self._loading.get(account_id)
        if pending:  # one load per key at a time: concurrent callers share it
            return await asyncio.shield(pending)
        future: asyncio.Future[AccountInfo | None] = asyncio.get_running_loop().create_future()
        self._loading[account_id] = future
        try:
            doc = await self._couch.get(names.ACCOUNTS, account_id)
            info = AccountInfo.from_doc(doc) if doc and doc.get("pvt_type") == "account" else None
            self._entries[account_id] = (time.monotonic() + self._ttl_s, info)
            future.set_result(info)
            return info
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            del self._loading[account_id]
