"""The AMQP number lookup (README §6.2, numbers.md §9; §10 scenarios 94-100) and its cache: a change
made through the API is seen by the next lookup, a change behind its back only once announced."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aio_pika
import pytest

from shared.bus import envelope
from shared.bus.connection import Bus
from shared.couch import names
from shared.couch.client import Couch
from tests.integration.numbers_world import (
    World,
    announce,
    events_bus,
    flush_numbers,
    number_manager,
    path,
    world,
)

pytestmark = pytest.mark.integration
__all__ = ["events_bus", "world"]


async def lookup(bus: Bus, number: str | None) -> dict[str, Any]:
    body = envelope.headers("test", "number", "lookup_req")
    if number is not None:
        body["Number"] = number
    reply = await bus.request("numbers", "number.lookup.req", body, 5)
    assert reply["Msg-ID"] == body["Msg-ID"]
    return reply


async def test_local_numbers(world: World, events_bus: Bus) -> None:
    number = await world.create(world.c)
    reply = await lookup(events_bus, number)
    assert (reply["Event-Category"], reply["Event-Name"]) == ("number", "lookup_resp")
    assert {key: reply[key] for key in ("Number", "Account-ID", "State", "Local", "Force-Outbound", "Pending-Port",
                                        "Inbound-CNAM")} == {
        "Number": number, "Account-ID": world.c, "State": "in_service", "Local": True, "Force-Outbound": True,
        "Pending-Port": False, "Inbound-CNAM": False}
    assert not {"Error", "Prepend", "Ringback-Media", "Transfer-Media"} & set(reply)
    ten_digits = number.removeprefix("+1")
    assert (await lookup(events_bus, ten_digits))["Number"] == number
    await world.ok(world.tc, "DELETE", path(world.c, number))  # a local number is removed
    assert (await lookup(events_bus, number))["Error"] == "not_found"


async def test_ports_are_pending(world: World, events_bus: Bus) -> None:
    number = world.fresh()
    assert (await world.ok(world.tc, "PUT", path(world.c, number, "port")))["state"] == "port_in"
    reply = await lookup(events_bus, number)
    assert (reply["State"], reply["Pending-Port"], reply["Force-Outbound"]) == ("port_in", True, True)


async def test_a_change_is_seen_by_the_next_lookup(world: World, events_bus: Bus) -> None:
    number = await world.create(world.c, {"carrier_name": "inventory"})
    reply = await lookup(events_bus, number)
    assert (reply["Local"], reply["Force-Outbound"]) == (False, False)
    await world.ok(world.tc, "PATCH", path(world.c, number), {"force_outbound": True})
    assert (await lookup(events_bus, number))["Force-Outbound"] is True
    await world.ok(world.tc, "PATCH", path(world.c, number), {
        "prepend": {"enabled": True, "name": "VIP"}, "cnam": {"inbound_lookup": True},
        "ringback": {"early": "m1", "transfer": "m2"}})
    reply = await lookup(events_bus, number)
    assert (reply["Prepend"], reply["Inbound-CNAM"], reply["Ringback-Media"], reply["Transfer-Media"]) == (
        "VIP", True, "m1", "m2")
    await world.ok(world.tc, "DELETE", path(world.c, number))  # an inventory number goes back to the pool
    assert (await lookup(events_bus, number))["Error"] == "unassigned"


async def test_negative_entries_are_dropped(world: World, events_bus: Bus) -> None:
    number = world.fresh()
    assert (await lookup(events_bus, number))["Error"] == "not_found"
    await world.create(world.c, number=number)
    assert (await lookup(events_bus, number))["Account-ID"] == world.c


async def test_errors(world: World, events_bus: Bus) -> None:
    pool = await world.create(world.m)
    reply = await lookup(events_bus, pool)
    assert (reply["Error"], reply["Number"]) == ("unassigned", pool) and "Account-ID" not in reply
    reply = await lookup(events_bus, "abc")
    assert (reply["Error"], reply["Number"]) == ("not_reconcilable", "abc")
    reply = await lookup(events_bus, None)
    assert (reply["Event-Category"], reply["Error-Code"], reply["Errors"]) == (
        "error", "invalid_message", {"Number": "required"})
    assert reply["Error-Message"]


async def test_disabled_owner(world: World, events_bus: Bus) -> None:
    account = (await world.system.create_account(world.r, world.tr, "To disable"))["id"]
    number = await world.create(account)
    assert "Error" not in await lookup(events_bus, number)
    await world.ok(world.tm, "PATCH", f"/accounts/{account}", {"enabled": False})
    reply = await lookup(events_bus, number)
    assert (reply["Error"], reply["Account-ID"]) == ("account_disabled", account)
    await world.ok(world.tm, "PATCH", f"/accounts/{account}", {"enabled": True})
    assert "Error" not in await lookup(events_bus, number)


async def test_changes_behind_the_api_wait_for_their_event(world: World, events_bus: Bus, couch: Couch) -> None:
    """The answer is cached: a doc edited straight in CouchDB shows once its event is published."""
    number = await world.create(world.c)
    assert (await lookup(events_bus, number))["State"] == "in_service"
    edited = await couch.update(names.number_db(number), number, lambda doc: {**(doc or {}), "pvt_state": "reserved"})
    assert edited is not None
    assert (await lookup(events_bus, number))["State"] == "in_service"  # still the cached answer
    await announce(events_bus, names.number_db(number), edited)
    for _ in range(50):  # the event travels through the worker's own queue
        if (await lookup(events_bus, number))["State"] == "reserved":
            break
        await asyncio.sleep(0.02)
    assert (await lookup(events_bus, number))["State"] == "reserved"


async def test_config_changes_and_flushes(world: World, events_bus: Bus, couch: Couch) -> None:
    number = await world.create(world.c)
    assert (await lookup(events_bus, number))["Force-Outbound"] is True
    async with number_manager(couch, events_bus, {"force_local_outbound": False}):
        assert (await lookup(events_bus, number))["Force-Outbound"] is False
    assert (await lookup(events_bus, number))["Force-Outbound"] is True
    # cache.flush.numbers is answered by the numbers worker with what it dropped
    reply = await flush_numbers(events_bus)
    assert (reply["Event-Name"], reply["App-Name"]) == ("cache_flush_resp", "numbers")
    assert reply["Entries-Dropped"] >= 1


async def test_plain_amqp_requesters_get_their_reply(world: World) -> None:
    """README §6: a request with `reply_to` and no `Server-ID` is answered there, `correlation_id` echoed."""
    number = await world.create(world.c)
    connection = await aio_pika.connect(world.system.env["OFFNET_AMQP_URL"])
    try:
        channel = await connection.channel()
        replies = await channel.declare_queue(exclusive=True, auto_delete=True)
        exchange = await channel.get_exchange("numbers")
        correlation = uuid.uuid4().hex
        body = {**envelope.headers("test", "number", "lookup_req"), "Number": number}
        await exchange.publish(aio_pika.Message(json.dumps(body).encode(), content_type="application/json",
                                                reply_to=replies.name, correlation_id=correlation),
                               "number.lookup.req")
        async with replies.iterator(timeout=5) as messages:
            async for message in messages:
                await message.ack()
                assert message.correlation_id == correlation
                reply = json.loads(message.body)
                assert (reply["Account-ID"], reply["Msg-ID"]) == (world.c, body["Msg-ID"])
                break
    finally:
        await connection.close()
