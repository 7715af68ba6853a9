"""Numbers (issue 5's benchmark), against baselines measured in the same run.

- number lookup round trip, warm cache (a plain aio-pika requester: `reply_to` + `correlation_id`, as an
  outside call controller would ask), against the bare aio-pika echo RPC of echo_rpc.py; p50 and calls/s
  at 1 and 64 in flight.
- the listing of an account holding 10,000 numbers through the gateway, against the direct query of the
  view it reads: one default page (50 numbers) and the whole listing (`paginate=false`). The numbers are
  loaded with `NumberStore.apply` in bulk (1,000 per call).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aio_pika
import httpx
from aio_pika.abc import AbstractIncomingMessage

from shared.bus import envelope
from shared.couch import names
from shared.couch.client import Couch
from shared.domain.number_states import AccountView
from shared.domain.numbers import NumberContext, NumberPlan, RequestMeta, create_number
from shared.number_store import NumberStore
from tests.bench.echo_rpc import raw_echo
from tests.bench.harness import BenchContext, Comparison, Figures, compare_figures, measure

SEQUENTIAL_CALLS = 300
CONCURRENT_CALLS = 2000
IN_FLIGHT = 64
LISTED_NUMBERS = 10_000
LOAD_CHUNK = 1000
PAGE_CALLS = 200
PAGE_IN_FLIGHT = 16
FULL_CALLS = 10
CALL_TIMEOUT_S = 10.0
VIEW_WARM_TIMEOUT_S = 600.0
Call = Callable[[], Awaitable[None]]


@asynccontextmanager
async def lookup_client(amqp_url: str, number: str) -> AsyncIterator[Call]:
    """`lookup_req` for `number` on exchange `numbers`, answered to an exclusive queue."""
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        exchange = await channel.get_exchange("numbers", ensure=False)
        replies = await channel.declare_queue(exclusive=True, auto_delete=True)
        pending: dict[str, asyncio.Future[bytes]] = {}

        async def on_reply(message: AbstractIncomingMessage) -> None:
            future = pending.pop(message.correlation_id or "", None)
            if future is not None and not future.done():
                future.set_result(message.body)

        await replies.consume(on_reply, no_ack=True)

        async def call() -> None:
            body = {**envelope.headers("bench", "number", "lookup_req"), "Number": number}
            future = pending[body["Msg-ID"]] = asyncio.get_running_loop().create_future()
            message = aio_pika.Message(envelope.encode(body), content_type="application/json",
                                       correlation_id=body["Msg-ID"], reply_to=replies.name,
                                       expiration=CALL_TIMEOUT_S)
            await exchange.publish(message, "number.lookup.req", mandatory=True)
            reply = json.loads(await asyncio.wait_for(future, CALL_TIMEOUT_S))
            assert reply.get("Account-ID"), reply

        yield call
    finally:
        await connection.close()


async def _both(call: Call) -> tuple[Figures, Figures]:
    return await measure(call, SEQUENTIAL_CALLS, 1), await measure(call, CONCURRENT_CALLS, IN_FLIGHT)


async def load_numbers(couch: Couch, master: str, account: str, tree: tuple[str, ...]) -> float:
    """10,000 in-service numbers in `account`, written in bulk; the seconds it took."""
    store = NumberStore(couch, None)
    ctx = NumberContext(actor=AccountView(master, (), superduper_admin=True), target=AccountView(account, tree),
                        now=names.gregorian_now(), meta=RequestMeta(uuid.uuid4().hex))
    started = time.perf_counter()
    for start in range(0, LISTED_NUMBERS, LOAD_CHUNK):
        plans = []
        for index in range(start, start + LOAD_CHUNK):
            plan = create_number(f"+1646{2000000 + index:07d}", None, {}, ctx)
            assert isinstance(plan, NumberPlan), plan
            plans.append(plan)
        results = await store.apply(plans, request_id=None)
        assert all(result.ok for result in results), [r for r in results if not r.ok][:1]
    return time.perf_counter() - started


async def run(ctx: BenchContext) -> list[Comparison]:
    system = ctx.system
    holder = await system.create_account(system.master_id, ctx.master_token, "Bench numbers")
    async with system.client(ctx.master_token) as client:
        reply = await client.put(f"/accounts/{holder['id']}/phone_numbers/%2B16465550100")
        assert reply.status_code == 201, reply.text
    async with raw_echo() as call:
        echo_seq, echo_conc = await _both(call)
    async with lookup_client(ctx.amqp_url, "+16465550100") as call:
        lookup_seq, lookup_conc = await _both(call)

    listed = await system.create_account(system.master_id, ctx.master_token, "Bench 10k numbers")
    couch = Couch(ctx.couch_url, timeout_s=VIEW_WARM_TIMEOUT_S)
    await couch.connect()
    try:
        loaded_s = await load_numbers(couch, system.master_id, listed["id"], tuple(listed["_read_only"]["tree"]))
        db = names.account_db(listed["id"])
        started = time.perf_counter()
        await couch.warm_views(db, "account")
        indexed_s = time.perf_counter() - started
        ctx.notes.append(f"bench_numbers: {LISTED_NUMBERS} numbers loaded with NumberStore.apply in {loaded_s:.1f}s;"
                         f" listing view indexed in {indexed_s:.1f}s")

        async def view_page() -> None:
            rows = await couch.view(db, "phone_numbers", "crossbar_listing", reduce=False, limit=51)
            assert len(rows) == 51

        async def view_all() -> None:
            rows = await couch.view(db, "phone_numbers", "crossbar_listing", reduce=False)
            assert len(rows) == LISTED_NUMBERS

        limits = httpx.Limits(max_connections=PAGE_IN_FLIGHT, max_keepalive_connections=PAGE_IN_FLIGHT)
        async with system.client(ctx.master_token, limits=limits) as client:

            async def gateway_page() -> None:
                reply = await client.get(f"/accounts/{listed['id']}/phone_numbers")
                assert reply.status_code == 200 and len(reply.json()["data"]["numbers"]) == 50, reply.text[:200]

            async def gateway_all() -> None:
                reply = await client.get(f"/accounts/{listed['id']}/phone_numbers", params={"paginate": "false"})
                assert reply.status_code == 200 and len(reply.json()["data"]["numbers"]) == LISTED_NUMBERS

            page_seq = await measure(gateway_page, PAGE_CALLS, 1)
            page_view_seq = await measure(view_page, PAGE_CALLS, 1)
            page = await measure(gateway_page, PAGE_CALLS, PAGE_IN_FLIGHT)
            page_view = await measure(view_page, PAGE_CALLS, PAGE_IN_FLIGHT)
            full = await measure(gateway_all, FULL_CALLS, 1, warmup=2)
            full_view = await measure(view_all, FULL_CALLS, 1, warmup=2)
    finally:
        await couch.close()

    lookup, echo = "number lookup (warm cache)", "bare aio-pika echo RPC"
    gateway, view = "gateway GET .../phone_numbers (10k numbers)", "direct crossbar_listing view query"
    return [
        *compare_figures("lookup", lookup, lookup_seq, echo, echo_seq),
        *compare_figures("lookup", lookup, lookup_conc, echo, echo_conc),
        *compare_figures("listing page of 50", gateway, page_seq, view + " (limit 51)", page_view_seq),
        *compare_figures("listing page of 50", gateway, page, view + " (limit 51)", page_view),
        *compare_figures("listing all 10k", gateway + " paginate=false", full, view + " (all rows)", full_view),
    ]
