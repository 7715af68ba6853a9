"""Number search (issue 6's benchmark), against the view query it is built on, measured in the same run.

10,000 `available` inventory numbers (`+17373000000`…) are loaded with `NumberStore.apply` in bulk. The
subject is the unauthenticated `GET /v2/phone_numbers?prefix=7373…` through the gateway (the numbers
worker reads the `numbers/status` view once per configured pool module, merges, sorts and pages); the
baseline is one direct query of that view for the same rows. Two shapes: the first page of 50, and the
deepest page the sources allow (`offset=450&quantity=50`, so each source reads 500 rows). p50 and
calls/s at 1 and 16 in flight.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable

import httpx

from shared.couch import names
from shared.couch.client import Couch
from shared.domain.number_config import KNM_INVENTORY
from shared.domain.number_states import AccountView
from shared.domain.numbers import NumberContext, NumberPlan, RequestMeta, create_number
from shared.number_store import NumberStore
from tests.bench.harness import BenchContext, Comparison, compare_figures, measure

POOL_SIZE = 10_000
LOAD_CHUNK = 1000
AREA = "737"
EXCHANGE = "3"  # numbers +1 737 3xx xxxx
PREFIX = AREA + EXCHANGE  # searched as `prefix=7373`
CALLS = 200
IN_FLIGHT = 16
VIEW_WARM_TIMEOUT_S = 600.0
PAGES = {"first page of 50": (0, 50), "rows 451-500": (450, 50)}
POOL_DB = f"numbers/+1{AREA}"
START_KEY = ["available", KNM_INVENTORY, f"+1{PREFIX}"]
END_KEY = ["available", KNM_INVENTORY, f"+1{PREFIX}\ufff0"]
Call = Callable[[], Awaitable[None]]


def pool_numbers(offset: int, quantity: int) -> list[str]:
    return [f"+1{PREFIX}{index:06d}" for index in range(offset, offset + quantity)]


async def load_pool(couch: Couch, master: str) -> float:
    """The 10,000 available inventory numbers, written in bulk; the seconds it took."""
    store = NumberStore(couch, None)
    actor = AccountView(master, (), superduper_admin=True)
    ctx = NumberContext(actor=actor, target=actor, now=names.gregorian_now(), meta=RequestMeta(uuid.uuid4().hex))
    started = time.perf_counter()
    for start in range(0, POOL_SIZE, LOAD_CHUNK):
        plans = []
        for index in range(start, start + LOAD_CHUNK):
            [number] = pool_numbers(index, 1)
            plan = create_number(number, None, {}, ctx, module=KNM_INVENTORY)
            assert isinstance(plan, NumberPlan) and plan.answer["state"] == "available", plan
            plans.append(plan)
        results = await store.apply(plans, request_id=None)
        assert all(result.ok for result in results), [r for r in results if not r.ok][:1]
    return time.perf_counter() - started


def gateway_search(client: httpx.AsyncClient, offset: int, quantity: int) -> Call:
    expected = pool_numbers(offset, quantity)

    async def call() -> None:
        reply = await client.get("/phone_numbers", params={"prefix": PREFIX, "offset": str(offset),
                                                            "quantity": str(quantity)})
        assert reply.status_code == 200, reply.text[:200]
        assert [item["number"] for item in reply.json()["data"]] == expected

    return call


def view_query(couch: Couch, offset: int, quantity: int) -> Call:
    expected = pool_numbers(offset, quantity)

    async def call() -> None:
        found = await couch.view(POOL_DB, "numbers", "status", startkey=START_KEY, endkey=END_KEY, skip=offset,
                                 limit=quantity)
        assert [row["key"][2] for row in found] == expected

    return call


async def run(ctx: BenchContext) -> list[Comparison]:
    couch = Couch(ctx.couch_url, timeout_s=VIEW_WARM_TIMEOUT_S)
    await couch.connect()
    rows: list[Comparison] = []
    try:
        loaded_s = await load_pool(couch, ctx.system.master_id)
        started = time.perf_counter()
        await couch.warm_views(POOL_DB, "numbers")
        ctx.notes.append(f"bench_numbers_search: {POOL_SIZE} inventory numbers loaded in {loaded_s:.1f}s; "
                         f"status view indexed in {time.perf_counter() - started:.1f}s")
        limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
        async with ctx.system.client(None, limits=limits) as client:
            for name, (offset, quantity) in PAGES.items():
                subject = f"gateway GET /phone_numbers?prefix ({name}, 10k pool)"
                baseline = f"direct numbers/status view query ({name})"
                for in_flight in (1, IN_FLIGHT):
                    searched = await measure(gateway_search(client, offset, quantity), CALLS, in_flight)
                    queried = await measure(view_query(couch, offset, quantity), CALLS, in_flight)
                    rows.extend(compare_figures(f"search {name}", subject, searched, baseline, queried))
    finally:
        await couch.close()
    return rows
