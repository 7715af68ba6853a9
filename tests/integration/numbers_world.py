"""The account tree of numbers.md §10 and helpers shared by the `test_numbers_*` files.

M master (superduper) ── R (is_reseller, wnm_allow_additions) ── C, C2 ;  M ── U.
Numbers are unique per run (`World.fresh`), so the files may run in any order on a shared server.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import pytest_asyncio

from shared.bus import envelope
from shared.bus.connection import Bus
from shared.bus.events import publish_doc_change
from shared.couch import names
from shared.couch.client import Couch
from tests.fixtures.system import System

NUMBER_MANAGER = "number_manager"


def path(account: str, number: str = "", suffix: str = "", *, raw: bool = False) -> str:
    """`/accounts/{A}/phone_numbers[/{N}][/suffix]`, the number percent-encoded unless `raw`."""
    shown = number if raw else quote(number, safe="")
    return f"/accounts/{account}/phone_numbers" + (f"/{shown}" if number else "") + (f"/{suffix}" if suffix else "")


@dataclass
class World:
    system: System
    m: str
    r: str
    c: str
    c2: str
    u: str
    tm: str
    tr: str
    tc: str
    tc2: str
    tu: str
    used: set[str] = field(default_factory=set)

    def fresh(self, area: str = "415") -> str:
        """A number no test of this run has used: `+1<area><7 digits>`."""
        while True:
            number = f"+1{area}{random.randint(2, 9)}{random.randint(0, 999999):06d}"
            if number not in self.used:
                self.used.add(number)
                return number

    @asynccontextmanager
    async def client(self, token: str | None) -> AsyncIterator[httpx.AsyncClient]:
        async with self.system.client(token) as client:
            yield client

    async def call(
        self, token: str | None, method: str, url: str, data: Any = None, *, body: Any = None, **params: str
    ) -> httpx.Response:
        """One request; `data` is sent as `{"data": data}`, `body` as given (None: no body)."""
        if data is not None:
            body = {"data": data}
        content = json.dumps(body) if body is not None else None
        async with self.client(token) as client:
            return await client.request(method, url, content=content, params=params or None)

    async def ok(self, token: str, method: str, url: str, data: Any = None, **params: str) -> Any:
        """The `data` of a successful call (201 for PUT, else 200)."""
        reply = await self.call(token, method, url, data, **params)
        assert reply.status_code == (201 if method == "PUT" else 200), reply.text
        return reply.json()["data"]

    async def create(self, account: str, data: dict[str, Any] | None = None, *, token: str | None = None,
                     number: str | None = None) -> str:
        """A new number created by M (or `token`) in `account`; its E.164 form."""
        number = number or self.fresh()
        await self.ok(token or self.tm, "PUT", path(account, number), data or {})
        return number


async def make_world(system: System) -> World:
    tm = await system.token(system.master_key)
    r = await system.create_account(system.master_id, tm, "Reseller R", is_reseller=True, wnm_allow_additions=True)
    tr = await system.token(await system.api_key(r["id"], tm))
    c = await system.create_account(r["id"], tr, "Customer C")
    c2 = await system.create_account(r["id"], tr, "Customer C2")
    u = await system.create_account(system.master_id, tm, "Unrelated U")
    tc = await system.token(await system.api_key(c["id"], tr))
    tc2 = await system.token(await system.api_key(c2["id"], tr))
    tu = await system.token(await system.api_key(u["id"], tm))
    return World(system, system.master_id, r["id"], c["id"], c2["id"], u["id"], tm, tr, tc, tc2, tu)


@pytest_asyncio.fixture(scope="module")
async def world(system: System) -> World:
    return await make_world(system)


@pytest_asyncio.fixture(scope="module")
async def events_bus(system: System) -> AsyncIterator[Bus]:
    """A bus for tests that change documents behind the API and announce it themselves (§2.7)."""
    bus = Bus("test-numbers", system.env["OFFNET_AMQP_URL"], server_id=f"test-numbers@{random.getrandbits(32):08x}")
    await bus.connect()
    yield bus
    await bus.close()


async def number_doc(couch: Couch, number: str) -> dict[str, Any] | None:
    return await couch.get(names.number_db(number), number)


async def copy_doc(couch: Couch, account: str, number: str) -> dict[str, Any] | None:
    return await couch.get(names.account_db(account), number)


async def announce(bus: Bus, db: str, doc: dict[str, Any]) -> None:
    """The README §6.3 event for a doc a test wrote straight into CouchDB."""
    await publish_doc_change(bus, db=db, doc=doc, rev=str(doc["_rev"]), created=False)


async def flush_numbers(bus: Bus) -> dict[str, Any]:
    """`cache.flush.numbers` (bus.md §11), awaited: once answered, the worker reads config afresh."""
    flush = {**envelope.headers(bus.app_name, "configuration", "cache_flush"), "Cache": "numbers"}
    return await bus.request("configuration", "cache.flush.numbers", flush, 5)


async def write_config_default(couch: Couch, bus: Bus, doc_id: str, values: dict[str, Any] | None) -> None:
    """Set (None: remove) the `default` object of a system_config doc, announce it, flush number caches."""

    def change(current: dict[str, Any] | None) -> dict[str, Any] | None:
        doc = {"_id": doc_id, **(current or {})}
        if values is None:
            doc.pop("default", None)
        else:
            doc["default"] = values
        return doc

    saved = await couch.update(names.SYSTEM_CONFIG, doc_id, change)
    assert saved is not None
    await announce(bus, names.SYSTEM_CONFIG, saved)
    await flush_numbers(bus)


@asynccontextmanager
async def number_manager(couch: Couch, bus: Bus, values: dict[str, Any]) -> AsyncIterator[None]:
    """`system_config/number_manager` set to `values` for the block (announced), then put back."""

    before = await couch.get(names.SYSTEM_CONFIG, NUMBER_MANAGER)
    await write_config_default(couch, bus, NUMBER_MANAGER, values)
    try:
        yield
    finally:
        await write_config_default(couch, bus, NUMBER_MANAGER, before.get("default") if before else None)
