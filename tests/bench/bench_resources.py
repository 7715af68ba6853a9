"""Resources through the whole stack against the CouchDB-API server alone (issue 4's benchmark).

GET one resource through the gateway (HTTP -> gateway -> bus -> resources worker -> CouchDB and back)
against a direct GET of the same document from CouchDB, and PUT create through the gateway against a
direct PUT of an equivalent document; both with 16 calls in flight, in the master account's DB.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from shared.couch import names
from shared.domain.resources import WriteContext, new_resource
from tests.bench.harness import BenchContext, Comparison, compare_figures, measure

IN_FLIGHT = 16
GET_CALLS = 800
PUT_CALLS = 400
BODY = {"name": "bench carrier", "gateways": [{"server": "carrier.example.com", "prefix": "+1"}],
        "rules": ["^\\+?1?(\\d{10})$"]}


def stored_doc(account_id: str) -> dict[str, Any]:
    """The document the worker would store for BODY, under a fresh id (the direct PUT's payload)."""
    ctx = WriteContext(db=names.account_db(account_id), account_id=account_id, now=names.gregorian_now(),
                       request_id="bench", auth_account_id=account_id, msg_id=uuid.uuid4().hex)
    doc = new_resource(BODY, generated_id=ctx.msg_id, ctx=ctx)
    assert isinstance(doc, dict), doc
    return doc


def _ok(reply: httpx.Response, *statuses: int) -> None:
    if reply.status_code not in statuses:
        raise RuntimeError(f"{reply.request.method} {reply.request.url}: {reply.status_code} {reply.text[:200]}")


async def run(ctx: BenchContext) -> list[Comparison]:
    account = ctx.system.master_id
    resources = f"/accounts/{account}/resources"
    db_url = f"{ctx.couch_url.rstrip('/')}/{names.encoded(names.account_db(account))}"
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with (
        ctx.system.client(ctx.master_token, limits=limits) as gateway,
        httpx.AsyncClient(timeout=30.0, limits=limits, headers={"Accept": "application/json"}) as couch,
    ):
        created = await gateway.put(resources, json={"data": BODY})
        _ok(created, 201)
        resource_id = created.json()["data"]["id"]

        async def gateway_get() -> None:
            _ok(await gateway.get(f"{resources}/{resource_id}"), 200)

        async def couch_get() -> None:
            _ok(await couch.get(f"{db_url}/{resource_id}"), 200)

        async def gateway_put() -> None:
            _ok(await gateway.put(resources, json={"data": BODY}), 201)

        async def couch_put() -> None:
            doc = stored_doc(account)
            _ok(await couch.put(f"{db_url}/{doc['_id']}", json=doc), 201, 202)

        rows = compare_figures("resource GET", "gateway GET /resources/{id}",
                               await measure(gateway_get, GET_CALLS, IN_FLIGHT),
                               "CouchDB GET /{db}/{id}", await measure(couch_get, GET_CALLS, IN_FLIGHT))
        rows += compare_figures("resource PUT create", "gateway PUT /resources",
                                await measure(gateway_put, PUT_CALLS, IN_FLIGHT),
                                "CouchDB PUT /{db}/{id}", await measure(couch_put, PUT_CALLS, IN_FLIGHT))
    ctx.notes.append(f"resources: {IN_FLIGHT} in flight, {GET_CALLS} GETs and {PUT_CALLS} PUTs each side, "
                     f"local resources of the master account")
    return rows
