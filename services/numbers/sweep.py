"""The sweep of numbers.md §4.7: expired `discovery` docs go, `aging` numbers past their time come back
`available`. Idempotent and indifferent to conflicts, so every worker copy may run it at once."""

from __future__ import annotations

import asyncio

import structlog

from services.numbers.caches import NumbersCaches
from services.numbers.listing import NUMBER_DB_PREFIX, NUMBERS_DDOC, view_rows
from shared.couch import names
from shared.couch.client import Couch
from shared.couch.errors import CouchError
from shared.domain.number_config import NumberManagerConfig
from shared.domain.number_states import State
from shared.domain.numbers import NumberPlan, plan_sweep
from shared.number_store import NumberStore

log = structlog.get_logger(__name__)

STATUS_VIEW = "status"
SWEPT_STATES = (State.DISCOVERY, State.AGING)


async def sweep_once(couch: Couch, store: NumberStore, config: NumberManagerConfig, now: int) -> int:
    """One pass over every number DB; the number of docs written or removed."""
    swept = 0
    for db in await couch.all_dbs():
        if not db.startswith(NUMBER_DB_PREFIX):
            continue
        plans: list[NumberPlan] = []
        for state in SWEPT_STATES:
            rows = await view_rows(couch, db, NUMBERS_DDOC, STATUS_VIEW, startkey=[str(state)],
                                   endkey=[str(state), {}], include_docs=True)
            plans.extend(plan for row in rows if (plan := plan_sweep(row["doc"], now, config)) is not None)
        results = await store.apply(plans, request_id=None)
        swept += sum(1 for result in results if result.ok)
    return swept


async def run_sweeper(couch: Couch, store: NumberStore, caches: NumbersCaches) -> None:
    """Sweep every `sweep_interval_s` (read afresh each time) until cancelled."""
    while True:
        config = await caches.config()
        await asyncio.sleep(config.sweep_interval_s)
        try:
            swept = await sweep_once(couch, store, await caches.config(), names.gregorian_now())
        except CouchError as exc:
            log.warning("number sweep failed; next pass retries", error=str(exc))
            continue
        if swept:
            log.info("numbers swept", count=swept)
