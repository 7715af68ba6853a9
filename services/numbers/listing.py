"""The reads behind the account listing (numbers.md §7.1) and the repair of its copies (§7.3).

What to show is decided by `shared.domain.number_listing`; this module only queries the views.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from shared.couch import names
from shared.couch.client import Couch
from shared.couch.errors import NotFound
from shared.domain.number_errors import ValidationFailure
from shared.domain.number_listing import Listing, assemble_listing, listing_needs_docs, plan_fix, view_window
from shared.domain.number_search import NUMBER_DB_PREFIX
from shared.number_store import NumberStore, tombstone

LISTING_DDOC, LISTING_VIEW = "phone_numbers", "crossbar_listing"
NUMBERS_DDOC, ASSIGNED_VIEW = "numbers", "assigned_to"
PARALLEL_READS = 16  # view queries in flight at once (descendant counts, number DBs)


async def view_rows(couch: Couch, db: str, ddoc: str, view: str, **params: Any) -> list[dict[str, Any]]:
    """A view's rows; a DB made before its design doc existed gets it installed, then the query again."""
    try:
        return await couch.view(db, ddoc, view, **params)
    except NotFound:
        kind = names.db_kind(db)
        if kind is None:
            raise
        await couch.install_design_docs(db, kind)
        return await couch.view(db, ddoc, view, **params)


async def _bounded(limit: asyncio.Semaphore, couch: Couch, db: str, ddoc: str, view: str, **params: Any) -> list[
    dict[str, Any]
]:
    async with limit:
        return await view_rows(couch, db, ddoc, view, **params)


async def cascade_quantity(couch: Couch, descendants: tuple[str, ...]) -> int:
    """The numbers held by the given accounts: the sum of their listing views' `_count`."""
    limit = asyncio.Semaphore(PARALLEL_READS)
    counts = await asyncio.gather(
        *(_bounded(limit, couch, names.account_db(d), LISTING_DDOC, LISTING_VIEW, reduce=True) for d in descendants)
    )
    return sum(int(row.get("value") or 0) for found in counts for row in found)


async def account_listing(
    couch: Couch, account_id: str, descendants: tuple[str, ...], query: Mapping[str, Any]
) -> Listing | ValidationFailure:
    """§7.1: A's own numbers from its listing view, one page (or all of them), and the count of the numbers
    of A's strict `descendants`."""
    start_key, limit = view_window(query)
    params: dict[str, Any] = {"reduce": False, "include_docs": listing_needs_docs(query)}
    if start_key is not None:
        params["startkey"] = start_key
    if limit is not None:
        params["limit"] = limit
    rows, cascade = await asyncio.gather(
        view_rows(couch, names.account_db(account_id), LISTING_DDOC, LISTING_VIEW, **params),
        cascade_quantity(couch, descendants),
    )
    return assemble_listing(rows, query, cascade)


async def fix_account(couch: Couch, store: NumberStore, account_id: str, *, request_id: str | None) -> None:
    """§7.3 steps 1-2: A's DB gets a copy of every number A owns and loses every other number copy."""
    number_dbs = [db for db in await couch.all_dbs() if db.startswith(NUMBER_DB_PREFIX)]
    limit = asyncio.Semaphore(PARALLEL_READS)
    owned_rows, copy_rows = await asyncio.gather(
        asyncio.gather(
            *(
                _bounded(limit, couch, db, NUMBERS_DDOC, ASSIGNED_VIEW, startkey=[account_id],
                         endkey=[account_id, {}], include_docs=True)
                for db in number_dbs
            )
        ),
        view_rows(couch, names.account_db(account_id), LISTING_DDOC, LISTING_VIEW, reduce=False, include_docs=True),
    )
    owned = [row["doc"] for rows in owned_rows for row in rows if isinstance(row.get("doc"), dict)]
    copies = [row["doc"] for row in copy_rows if isinstance(row.get("doc"), dict)]
    fix = plan_fix(account_id, owned, copies)
    writes = [*fix.upserts, *(tombstone(str(stray["_id"]), str(stray["_rev"])) for stray in fix.deletions)]
    await store.write_account_docs(account_id, writes, request_id=request_id)
