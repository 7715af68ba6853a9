"""Foundation: a bare aio-pika echo RPC and the same through shared.bus, against the gateway → accounts
worker GET of one account (issue 3's benchmark)."""

from __future__ import annotations

import httpx

from tests.bench.echo_rpc import bus_echo, raw_echo
from tests.bench.harness import BenchContext, Comparison, Figures, compare_figures, measure

SEQUENTIAL_CALLS = 300
CONCURRENT_CALLS = 3000
IN_FLIGHT = 64


async def _both(call) -> tuple[Figures, Figures]:  # type: ignore[no-untyped-def]
    return await measure(call, SEQUENTIAL_CALLS, 1), await measure(call, CONCURRENT_CALLS, IN_FLIGHT)


async def run(ctx: BenchContext) -> list[Comparison]:
    async with raw_echo() as call:
        raw_seq, raw_conc = await _both(call)
    async with bus_echo() as call:
        bus_seq, bus_conc = await _both(call)
    account = ctx.system.master_id
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with ctx.system.client(ctx.master_token, limits=limits) as client:

        async def get_account() -> None:
            reply = await client.get(f"/accounts/{account}")
            assert reply.status_code == 200, reply.text

        gw_seq, gw_conc = await _both(get_account)
    raw, bus, gateway = "bare aio-pika echo RPC", "shared.bus echo RPC", "gateway GET /v2/accounts/{A}"
    return [
        *compare_figures("bus echo", bus, bus_seq, raw, raw_seq),
        *compare_figures("bus echo", bus, bus_conc, raw, raw_conc),
        *compare_figures("gateway GET account", gateway, gw_seq, raw, raw_seq),
        *compare_figures("gateway GET account", gateway, gw_conc, raw, raw_conc),
    ]
