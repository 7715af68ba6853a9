"""Broadcasts on the own queue (bus.md §10, §11): document-change events and cache flushes through
Bus.subscribe, over a real RabbitMQ. Binding keys are unique to this run."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from shared.bus import envelope
from shared.bus.connection import Bus
from shared.bus.encoding import encode_segment
from shared.bus.events import publish_doc_change

pytestmark = pytest.mark.integration

RUN = uuid.uuid4().hex[:10]
ACCOUNT_ID = "4e8a" + uuid.uuid4().hex[:28]  # a unique account DB name, so only this run binds it
DB = f"account/{ACCOUNT_ID[:2]}/{ACCOUNT_ID[2:4]}/{ACCOUNT_ID[4:]}"


@pytest_asyncio.fixture(scope="module")
async def writer(amqp_url: str) -> AsyncIterator[Bus]:
    bus = Bus("resources", amqp_url, server_id=f"resources@busevents-{RUN}")
    await bus.connect()
    yield bus
    await bus.close()


@pytest_asyncio.fixture(scope="module")
async def cache(amqp_url: str) -> AsyncIterator[Bus]:
    bus = Bus("selection", amqp_url, server_id=f"selection@busevents-{RUN}")
    await bus.connect()
    yield bus
    await bus.close()


async def test_doc_change_event_reaches_a_subscriber(writer: Bus, cache: Bus) -> None:
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    calls = 0

    async def on_change(event: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        if event["ID"] == "explodes":
            raise RuntimeError("a handler bug must not stop later events")
        await received.put(event)

    db = encode_segment(DB)
    # Two matching bindings, one handler: it runs once per event, as the broker delivers once per queue.
    await cache.subscribe("configuration", f"*.{db}.resource.*", on_change)
    await cache.subscribe("configuration", f"doc_created.{db}.#", on_change)
    await cache.subscribe("configuration", "doc_edited.nothing_here.*.*", on_change)

    doc = {"_id": "explodes", "pvt_type": "resource", "pvt_modified": 63934444800}
    await publish_doc_change(writer, db=DB, doc=doc, rev="1-a", created=True)
    doc = {"_id": "carrier.a b", "pvt_type": "resource", "pvt_created": 63934444800, "pvt_deleted": True}
    await publish_doc_change(writer, db=DB, doc=doc, rev="2-b", created=False, request_id="req-5")
    await publish_doc_change(writer, db=DB, doc={"_id": "_design/x", "pvt_type": "resource"}, rev="1-c", created=True)

    event = await asyncio.wait_for(received.get(), 3)
    assert (event["Event-Category"], event["Event-Name"]) == ("configuration", "doc_deleted")
    assert event["ID"] == "carrier.a b" and event["Database"] == db and event["Rev"] == "2-b"
    assert event["Is-Soft-Deleted"] is True and event["Request-ID"] == "req-5"
    assert event["Account-ID"] == ACCOUNT_ID
    assert event["Date-Created"] == 63934444800 and "Date-Modified" not in event
    await asyncio.sleep(0.2)
    assert received.empty() and calls == 2  # design docs are never announced


async def test_publishing_an_event_nobody_listens_to_is_fine(writer: Bus) -> None:
    await publish_doc_change(writer, db=f"unbound{RUN}", doc={"_id": "x", "pvt_type": "t"}, rev="1-a", created=True)


async def test_cache_flush_is_answered_through_subscribe(writer: Bus, cache: Bus) -> None:
    flushed: list[dict[str, Any]] = []

    async def on_flush(request: dict[str, Any]) -> dict[str, Any]:
        flushed.append(request)
        reply = envelope.reply_headers(cache.app_name, request, "configuration", "cache_flush_resp")
        reply["Entries-Dropped"] = 3
        return reply

    binding = f"cache.flush.bustest{RUN}"
    await cache.subscribe("configuration", binding, on_flush)
    request = {**envelope.headers("cli", "configuration", "cache_flush"), "Cache": "all"}
    reply = await writer.request("configuration", binding, request, 3)
    assert (reply["Event-Name"], reply["Entries-Dropped"]) == ("cache_flush_resp", 3)
    assert reply["Msg-ID"] == request["Msg-ID"] and reply["Node"] == envelope.node_name("selection")
    assert flushed[0]["Server-ID"] == writer.server_id
