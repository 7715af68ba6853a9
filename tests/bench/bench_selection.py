"""Route selection (issue 8's benchmark), against baselines measured in the same run.

- route_req round trip through the running selection worker (a plain aio-pika requester: `reply_to` +
  `correlation_id`) against the bare aio-pika echo RPC of echo_rpc.py, p50 and calls/s at 1 and 64 in
  flight. Goals: p50 within 1.25x of the echo, throughput at 64 in flight at least 0.8x of it.
- warm selection (`select_routes` over a compiled pool, no I/O) with 1,000 resources against 10.
- edit visibility: from a REST PATCH's 200 to the first route reply that shows the edit, p50 and p99,
  against a warm route round trip. Goal: under 100 ms at p99.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aio_pika
import httpx
from aio_pika.abc import AbstractIncomingMessage

from shared.bus import envelope
from tests.bench.echo_rpc import raw_echo
from tests.bench.harness import BenchContext, Comparison, Figures, compare_figures, measure
from tests.bench.selection_warm import bench_select

SEQUENTIAL_CALLS = 300
CONCURRENT_CALLS = 2000
ROUNDS = 3
IN_FLIGHT = 64
EDITS = 100
CALL_TIMEOUT_S = 10.0
# Example 1 of selection.md §4, as a client sends it: the pool every route request here selects from.
POOL = [
    {"id": "carrier-a", "name": "Carrier A", "weight_cost": 20, "rules": ["^\\+1(\\d{10})$"],
     "media": {"audio": {"codecs": ["PCMU", "PCMA"]}},
     "gateways": [{"server": "a1.example.net"}, {"server": "a2.example.net", "port": 5080, "prefix": "+1"}]},
    {"id": "carrier-b", "name": "Carrier B", "weight_cost": 10, "rules": ["^\\+1(\\d{10})$"],
     "gateways": [{"server": "b.example.net", "username": "u", "password": "p", "realm": "b.example.net"}]},
]  # fmt: skip
Timed = Callable[[], Awaitable[Any]]
REQUEST = {"To-DID": "4158867900", "Outbound-Caller-ID-Number": "+14155550100", "Outbound-Caller-ID-Name": "Acme"}


class RouteClient:
    """A plain AMQP requester on exchange `resources`, as an outside call controller would be."""

    def __init__(self, channel: aio_pika.abc.AbstractChannel) -> None:
        self._channel = channel
        self._pending: dict[str, asyncio.Future[bytes]] = {}

    async def start(self) -> None:
        self._exchange = await self._channel.get_exchange("resources", ensure=False)
        self._replies = await self._channel.declare_queue(exclusive=True, auto_delete=True)
        await self._replies.consume(self._on_reply, no_ack=True)

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        future = self._pending.pop(message.correlation_id or "", None)
        if future is not None and not future.done():
            future.set_result(message.body)

    async def route(self) -> dict[str, Any]:
        body = envelope.encode({**envelope.headers("bench", "resource", "route_req"), **REQUEST})
        correlation_id = uuid.uuid4().hex
        future = self._pending[correlation_id] = asyncio.get_running_loop().create_future()
        message = aio_pika.Message(body, content_type="application/json", correlation_id=correlation_id,
                                   reply_to=self._replies.name, expiration=CALL_TIMEOUT_S)  # fmt: skip
        await self._exchange.publish(message, "offnet.route.req.audio", mandatory=True)
        reply: dict[str, Any] = json.loads(await asyncio.wait_for(future, CALL_TIMEOUT_S))
        if reply.get("Response-Message") != "SUCCESS":
            raise RuntimeError(f"route_req failed: {reply}")
        return reply


@asynccontextmanager
async def route_client(amqp_url: str) -> AsyncIterator[RouteClient]:
    connection = await aio_pika.connect(amqp_url)
    try:
        client = RouteClient(await connection.channel())
        await client.start()
        yield client
    finally:
        await connection.close()


def _ok(reply: httpx.Response, *statuses: int) -> None:
    if reply.status_code not in statuses:
        raise RuntimeError(f"{reply.request.method} {reply.request.url}: {reply.status_code} {reply.text[:200]}")


async def best_of(baseline: Timed, subject: Timed, calls: int, in_flight: int) -> tuple[Figures, Figures]:
    """The two measured in turn, ROUNDS times; the best round of each (by calls/s), so that a burst of
    load from elsewhere on a shared machine spoils a round rather than the ratio."""
    rounds: list[tuple[Figures, Figures]] = []
    for _ in range(ROUNDS):
        rounds.append((await measure(baseline, calls, in_flight), await measure(subject, calls, in_flight)))
    return (
        max((pair[0] for pair in rounds), key=lambda figures: figures.calls_per_s),
        max((pair[1] for pair in rounds), key=lambda figures: figures.calls_per_s),
    )


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def edit_visibility(gateway: httpx.AsyncClient, client: RouteClient) -> list[float]:
    """Per edit: seconds from the PATCH's 200 to the first route reply with the new weight."""
    delays: list[float] = []
    for edit in range(EDITS):
        weight = 11 + edit % 2  # alternate, so every edit changes the reply
        _ok(await gateway.patch("/resources/carrier-b", json={"data": {"weight_cost": weight}}), 200)
        answered = time.perf_counter()
        while (await client.route())["Endpoints"][0]["Weight"] != weight:
            pass
        delays.append(time.perf_counter() - answered)
    return delays


async def run(ctx: BenchContext) -> list[Comparison]:
    async with (
        raw_echo() as echo,
        ctx.system.client(ctx.master_token) as gateway,
        route_client(ctx.amqp_url) as client,
    ):
        for doc in POOL:
            _ok(await gateway.put("/resources", json={"data": doc}), 201)
        try:
            echo_sequential, sequential = await best_of(echo, client.route, SEQUENTIAL_CALLS, 1)
            echo_concurrent, concurrent = await best_of(echo, client.route, CONCURRENT_CALLS, IN_FLIGHT)
            delays = await edit_visibility(gateway, client)
        finally:
            for doc in POOL:
                _ok(await gateway.delete(f"/resources/{doc['id']}", params={"should_soft_delete": "false"}), 200)

    small, large = bench_select(10, 2000), bench_select(1000, 200)
    route_req, bare = "route_req -> selection worker", "bare aio-pika echo RPC"
    rows = compare_figures("route_req", route_req, sequential, bare, echo_sequential)
    rows += compare_figures("route_req", route_req, concurrent, bare, echo_concurrent)
    rows.append(Comparison("selection warm, per call", "1,000 resources", "10 resources",
                           large["us_per_call"], small["us_per_call"], "us", False))  # fmt: skip
    edit_p50, edit_p99 = statistics.median(delays) * 1000, _percentile(delays, 0.99) * 1000
    rows.append(Comparison("edit visible p50", "REST 200 -> route reply with it", "warm route_req p50",
                           edit_p50, sequential.p50_ms, "ms", False))  # fmt: skip
    rows.append(Comparison("edit visible p99", "REST 200 -> route reply with it", "warm route_req p99",
                           edit_p99, sequential.p99_ms, "ms", False))  # fmt: skip
    ctx.notes.append(
        f"selection: route_req p50 {rows[0].ratio:.2f}x the bare echo at 1 in flight (goal <= 1.25), "
        f"calls/s {rows[3].ratio:.2f}x at {IN_FLIGHT} in flight (goal >= 0.8); "
        f"edit visibility p50 {edit_p50:.1f} ms, p99 {edit_p99:.1f} ms over {EDITS} edits (goal p99 < 100 ms); "
        f"warm selection {small['us_per_call']:.0f} us (10 resources) vs {large['us_per_call']:.0f} us (1,000)"
    )
    return rows
