"""Number search (numbers.md §5.2): read every source concurrently, save what the phonebook found as
`discovery` docs, merge. Which sources exist and how they merge is `shared.domain.number_search`.

| source | read |
| --- | --- |
| reserved numbers of A, then of each ancestor of A | account DB view `numbers/list_reserved`, key range P… |
| `knm_local`, `knm_inventory` | number DB view `numbers/status`, `["available", module, P…]` |
| `knm_other` | the phonebook's search call (skipped when unset or failing) |
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from services.numbers.caches import NumbersCaches
from services.numbers.listing import NUMBERS_DDOC, view_rows
from services.numbers.phonebook import Phonebook
from shared.account_directory import AccountInfo
from shared.couch import names
from shared.couch.client import Couch
from shared.couch.errors import CouchError
from shared.domain.number_config import KNM_INVENTORY, KNM_LOCAL, KNM_OTHER
from shared.domain.number_search import SearchHit, SearchQuery, hits_from_keys, merge_hits, phonebook_hits
from shared.domain.number_states import State
from shared.number_store import NumberStore

log = structlog.get_logger(__name__)

RESERVED_VIEW, STATUS_VIEW = "list_reserved", "status"
POOL_MODULES = (KNM_LOCAL, KNM_INVENTORY)


@dataclass(frozen=True)
class NumberSearch:
    couch: Couch
    store: NumberStore
    caches: NumbersCaches
    phonebook: Phonebook | None

    async def search(
        self, query: SearchQuery, account: AccountInfo | None, modules: tuple[str, ...], *, msg_id: str
    ) -> list[dict[str, object]]:
        """The answer's items; `account` is the search account (None: unauthenticated, pool only)."""
        holders = (account.id, *reversed(account.tree)) if account is not None else ()
        sources = [self._reserved(holder, query) for holder in holders]
        for module in modules:
            if module in POOL_MODULES:
                sources.append(self._pool(module, query))
            elif module == KNM_OTHER:
                sources.append(self._phonebook(query, msg_id))
        return merge_hits(await asyncio.gather(*sources), query)

    async def _reserved(self, account_id: str, query: SearchQuery) -> list[SearchHit]:
        rows = await view_rows(self.couch, names.account_db(account_id), NUMBERS_DDOC, RESERVED_VIEW,
                               startkey=query.start_key, endkey=query.end_key, limit=query.rows)
        return hits_from_keys((str(row["key"]) for row in rows), State.RESERVED)

    async def _pool(self, module: str, query: SearchQuery) -> list[SearchHit]:
        available = str(State.AVAILABLE)
        dbs = query.number_dbs(await self.couch.all_dbs() if query.number_db is None else ())
        found = await asyncio.gather(*(
            view_rows(self.couch, db, NUMBERS_DDOC, STATUS_VIEW, startkey=[available, module, query.start_key],
                      endkey=[available, module, query.end_key], limit=query.rows)
            for db in dbs
        ))
        return hits_from_keys((str(row["key"][2]) for rows in found for row in rows), State.AVAILABLE)

    async def _phonebook(self, query: SearchQuery, msg_id: str) -> list[SearchHit]:
        entries = await self.phonebook.search(query) if self.phonebook is not None else {}
        if not entries:
            return []
        stored = await self.store.load(list(entries))
        hits, plans = phonebook_hits(entries, stored, names.gregorian_now(), msg_id)
        try:  # best effort: a number that cannot be saved is still shown, and saved by the next search
            results = await self.store.apply(plans, request_id=None)
        except CouchError as exc:
            log.warning("discovery docs not saved", count=len(plans), error=str(exc))
            return hits
        for result in results:
            if result.ok:
                self.caches.drop_number(result.plan.number)
        return hits
