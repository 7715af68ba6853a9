"""Single-number routes through the gateway: create, read, update, reserve, activate, port, release
(numbers.md §10 scenarios 3-38, 42-55, 59-65, 101-104, and the seed 003 examples of these routes).

Part 2 scenarios (search, phonebook carrier, E911 provider, check, locality, prefix) are not here.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from shared.bus.connection import Bus
from shared.couch import names
from shared.couch.client import Couch
from shared.domain.numbering import DEFAULT_CLASSIFIERS
from tests.integration.numbers_world import (
    World,
    announce,
    copy_doc,
    events_bus,
    flush_numbers,
    number_doc,
    path,
    world,
)

pytestmark = pytest.mark.integration
__all__ = ["events_bus", "world"]  # fixtures used by this module

BAD_IDENTIFIER = {"message": "bad identifier", "not_found": "The number could not be found"}


def knm(reply: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """A §8 knm error: HTTP status = code, envelope message = the error name, data = the knm object."""
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert (body["status"], body["error"], body["message"]) == ("error", str(status), error), body
    assert (body["data"]["code"], body["data"]["error"]) == (status, error), body
    return dict(body["data"])


def bad_identifier(reply: httpx.Response, cause: str) -> None:
    assert reply.status_code == 404, reply.text
    body = reply.json()
    assert body["message"] == "bad_identifier"
    assert body["data"] == {"cause": cause, **BAD_IDENTIFIER}


def validation(reply: httpx.Response) -> dict[str, Any]:
    assert reply.status_code == 400, reply.text
    assert reply.json()["message"] == "validation error", reply.text
    return dict(reply.json()["data"])


# --- gateway, routing, authentication (scenarios 3-6) ----------------------------------------------


async def test_the_gate_and_the_route_table(world: World) -> None:
    listing = path(world.r)
    assert (await world.call(None, "GET", listing)).status_code == 401
    for token in (world.tu, world.tc):
        reply = await world.call(token, "GET", listing)
        assert (reply.status_code, reply.json()["message"]) == (403, "forbidden")
    assert (await world.call(world.tr, "GET", path(world.r, "collection"))).status_code == 405
    number = world.fresh()
    assert (await world.call(world.tr, "POST", path(world.r, number, "activate"))).status_code == 405
    assert (await world.call(world.tm, "DELETE", "/phone_numbers")).status_code == 405
    assert (await world.call(world.tr, "GET", path(world.r, number, "foo"))).status_code == 404
    assert (await world.call(world.tm, "GET", "/phone_numbers/%2B14155550100")).status_code == 404


async def test_bad_json_touches_nothing(world: World) -> None:
    number = world.fresh()
    async with world.client(world.tm) as client:
        reply = await client.put(path(world.c, number), content=b'{"data":')
    assert validation(reply)["json"]["invalid"]["message"]
    bad_identifier(await world.call(world.tm, "GET", path(world.c, number)), number)


# --- create (scenarios 7-26, seed "Add a number to the database") ----------------------------------


async def test_seed_create_in_a_reseller(world: World, couch: Couch) -> None:
    number = world.fresh("555")
    data = await world.ok(world.tm, "PUT", path(world.r, number), {"my_own_field": {}})
    assert (data["id"], data["state"], data["my_own_field"], data["features"]) == (number, "reserved", {}, ["local"])
    read_only = data["_read_only"]
    assert (read_only["state"], read_only["carrier_module"], read_only["features"]) == ("reserved", "local", ["local"])
    assert isinstance(read_only["created"], int) and read_only["created"] == read_only["modified"]
    assert abs(read_only["created"] - (int(time.time()) + names.GREGORIAN_OFFSET_S)) < 60
    doc = await number_doc(couch, number)
    assert doc is not None and doc["pvt_db_name"] == "numbers%2F%2B1555"
    assert (doc["pvt_assigned_to"], doc["pvt_reserve_history"], doc["pvt_type"]) == (world.r, [world.r], "number")
    copy = await copy_doc(couch, world.r, number)
    assert copy is not None and {k: v for k, v in copy.items() if k != "_rev"} == {
        k: v for k, v in doc.items() if k != "_rev"
    }
    # scenario 8: the same again is 409 `number_exists` (seed shape)
    data = knm(await world.call(world.tm, "PUT", path(world.r, number), {"my_own_field": {}}), 409, "number_exists")
    assert data == {"cause": number, "code": 409, "error": "number_exists",
                    "message": f"number {number} already exists"}
    # scenario 27: R reads it back as the seed's GET shows
    shown = await world.ok(world.tr, "GET", path(world.r, number))
    assert (shown["state"], shown["features"], shown["_read_only"]["features"]) == ("reserved", ["local"], ["local"])
    assert shown["my_own_field"] == {}


async def test_unreconcilable_and_unauthorised_creates(world: World) -> None:
    data = knm(await world.call(world.tm, "PUT", path(world.c, "+141510010+15")), 404, "not_reconcilable")
    assert (data["cause"], data["message"]) == ("+141510010+15", "number +141510010+15 is not reconcilable")
    data = knm(await world.call(world.tm, "PUT", path(world.c, "415555ABCD")), 404, "not_reconcilable")
    assert data["cause"] == "415555ABCD"
    bad_identifier(await world.call(world.tm, "GET", path(world.c, "1000")), "1000")
    # scenario 10: C may not add numbers (decision 1: 403, not the seed's 500)
    data = knm(await world.call(world.tc, "PUT", path(world.c, world.fresh())), 403, "forbidden")
    assert data["message"] == "requestor is unauthorized to perform operation"


@pytest.mark.parametrize(
    ("sent", "expected", "db"),
    [
        ("4155550102", "+14155550102", "numbers/+1415"),
        ("14155550103", "+14155550103", "numbers/+1415"),
        ("415 555 0104", "+14155550104", "numbers/+1415"),
        ("(415)555-0105", "+14155550105", "numbers/+1415"),
        ("41234567", "+41234567", "numbers/+4123"),
        ("+4155550106", "+4155550106", "numbers/+4155"),
        ("011442071234567", "+442071234567", "numbers/+4420"),
    ],
)
async def test_numbers_are_normalised(world: World, couch: Couch, sent: str, expected: str, db: str) -> None:
    """Scenarios 11-15, 17, 18 (fixed numbers: hard-deleted first, in case a server is reused)."""
    await world.call(world.tm, "DELETE", path(world.m, expected), hard="true")
    data = await world.ok(world.tm, "PUT", path(world.c, sent))
    assert (data["id"], data["state"]) == (expected, "in_service")
    doc = await couch.get(db, expected)
    assert doc is not None and doc["pvt_assigned_to"] == world.c
    knm(await world.call(world.tm, "PUT", path(world.c, expected)), 409, "number_exists")
    shown = await world.ok(world.tc, "GET", path(world.c, expected, raw=True))
    assert shown["id"] == expected
    await world.ok(world.tm, "DELETE", path(world.c, expected), hard="true")


async def test_master_creates_pool_numbers(world: World, couch: Couch) -> None:
    number = world.fresh()
    data = await world.ok(world.tm, "PUT", path(world.m, number))
    assert data["state"] == "available"
    doc = await number_doc(couch, number)
    assert doc is not None and "pvt_assigned_to" not in doc
    listing = await world.ok(world.tm, "GET", path(world.m))
    assert number not in listing["numbers"]
    # scenario 23: any account passing the gate takes a pool number through create
    data = await world.ok(world.tc, "PUT", path(world.c, number))
    assert data["state"] == "in_service"
    doc = await number_doc(couch, number)
    assert doc is not None and doc["pvt_assigned_to"] == world.c


async def test_create_with_state(world: World) -> None:
    data = await world.ok(world.tr, "PUT", path(world.c, world.fresh()))
    assert data["state"] == "in_service"
    data = knm(await world.call(world.tr, "PUT", path(world.c, world.fresh()), {"create_with_state": "available"}),
               403, "forbidden")
    assert data["cause"] == "creating number in state 'available' is not allowed"
    data = await world.ok(world.tr, "PUT", path(world.c, world.fresh()), {"create_with_state": "reserved"})
    assert data["state"] == "reserved"
    errors = validation(await world.call(world.tm, "PUT", path(world.c, world.fresh()), {"create_with_state": "bogus"}))
    assert list(errors) == ["create_with_state"]


async def test_carrier_name(world: World) -> None:
    data = await world.ok(world.tm, "PUT", path(world.m, world.fresh()),
                          {"carrier_name": "inventory", "create_with_state": "available"})
    assert data["_read_only"]["carrier_module"] == "inventory"
    assert "carrier_name" not in data and "features" not in data
    reply = await world.call(world.tr, "PUT", path(world.c, world.fresh()), {"carrier_name": "inventory"})
    knm(reply, 403, "forbidden")
    data = knm(await world.call(world.tm, "PUT", path(world.c, world.fresh()), {"carrier_name": "foo"}), 400, "invalid")
    assert data["cause"] == "'foo' is not known by the system"


async def test_existing_numbers_block_creation(world: World) -> None:
    theirs = await world.create(world.u)
    knm(await world.call(world.tr, "PUT", path(world.c, theirs)), 409, "number_exists")
    porting = world.fresh()
    await world.ok(world.tc, "PUT", path(world.c, porting, "port"), {"porting": {"comments": ["soon"]}})
    data = knm(await world.call(world.tm, "PUT", path(world.c, porting)), 400, "number_is_porting")
    assert data["cause"] == porting
    errors = validation(await world.call(world.tm, "PUT", path(world.c, world.fresh()),
                                         {"cnam": {"display_name": "0123456789abcdef"}}))
    assert errors == {"cnam.display_name": {"maxLength": {"message": "String must not be more than 15 characters",
                                                          "target": 15, "value": "0123456789abcdef"}}}


# --- read and update (scenarios 28-38, 42, seed GET and POST) ---------------------------------------


async def test_visibility(world: World) -> None:
    unknown = world.fresh()
    reply = await world.call(world.tr, "GET", path(world.r, unknown))
    bad_identifier(reply, unknown)
    assert reply.json()["error"] == "404"
    theirs = await world.create(world.u)
    bad_identifier(await world.call(world.tr, "GET", path(world.r, theirs)), theirs)
    assert (await world.ok(world.tm, "GET", path(world.r, theirs)))["id"] == theirs
    pool = await world.create(world.m)
    assert (await world.ok(world.tc, "GET", path(world.c, pool)))["state"] == "available"
    held = await world.create(world.r, {"create_with_state": "reserved"})
    assert (await world.ok(world.tc, "GET", path(world.c, held)))["state"] == "reserved"
    bad_identifier(await world.call(world.tu, "GET", path(world.u, held)), held)


async def test_seed_post_with_cnam_on_a_used_number(world: World, couch: Couch) -> None:
    number = await world.create(world.c)
    for db in (names.number_db(number), names.account_db(world.c)):
        await couch.update(db, number, lambda doc: {**(doc or {}), "pvt_used_by": "callflow"})
    data = await world.ok(world.tc, "POST", path(world.c, number),
                          {"my_own_field": "x", "cnam": {"display_name": "My caller ID", "inbound_lookup": True}})
    assert data["cnam"] == {"display_name": "My caller ID", "inbound_lookup": True}
    assert data["features"] == ["local", "outbound_cnam", "inbound_cnam"]
    assert (data["used_by"], data["_read_only"]["used_by"], data["_read_only"]["state"]) == (
        "callflow", "callflow", "in_service")


async def test_post_replaces_and_patch_merges(world: World, couch: Couch) -> None:
    number = await world.create(world.c)
    url = path(world.c, number)
    await world.ok(world.tc, "POST", url, {"a": 1})
    data = await world.ok(world.tc, "POST", url, {"b": 2})
    assert "a" not in data and data["b"] == 2
    data = await world.ok(world.tc, "PATCH", url, {"c": 3})
    assert (data["b"], data["c"]) == (2, 3)
    data = await world.ok(world.tc, "PATCH", url, {"c": None})
    assert "c" not in data and data["b"] == 2
    data = await world.ok(world.tc, "POST", url, {"id": "x", "state": "available", "used_by": "me", "pvt_x": 1,
                                                  "_y": 2, "kept": True})
    assert (data["id"], data["state"], data["kept"]) == (number, "in_service", True)
    doc = await number_doc(couch, number)
    assert doc is not None and doc["pvt_state"] == "in_service"
    assert not {"id", "state", "used_by", "pvt_x", "_y", "pvt_used_by"} & set(doc)
    copy = await copy_doc(couch, world.c, number)
    assert copy is not None and copy["kept"] is True and copy["pvt_modified"] == doc["pvt_modified"]


async def test_who_may_update(world: World) -> None:
    unknown = world.fresh()
    bad_identifier(await world.call(world.tc, "POST", path(world.c, unknown), {"x": 1}), unknown)
    theirs = await world.create(world.u)
    bad_identifier(await world.call(world.tr, "POST", path(world.r, theirs), {"x": 1}), theirs)
    pool = await world.create(world.m)
    knm(await world.call(world.tc, "POST", path(world.c, pool), {"x": 1}), 403, "forbidden")
    assert (await world.ok(world.tm, "POST", path(world.c, pool), {"x": 1}))["x"] == 1


async def test_features_follow_state(world: World) -> None:
    in_service = await world.create(world.c)
    data = await world.ok(world.tc, "PATCH", path(world.c, in_service), {"prepend": {"enabled": True, "name": "VIP"}})
    assert "prepend" in data["features"]
    reserved = await world.create(world.c, {"create_with_state": "reserved"})
    data = await world.ok(world.tc, "PATCH", path(world.c, reserved), {"prepend": {"enabled": True, "name": "VIP"}})
    assert data["prepend"] == {"enabled": True, "name": "VIP"} and "prepend" not in data["features"]
    data = await world.ok(world.tc, "PATCH", path(world.c, in_service), {"failover": {"e164": "+14155550199"}})
    assert "failover" in data["features"]
    errors = validation(await world.call(world.tc, "PATCH", path(world.c, in_service), {"failover": {}}))
    assert list(errors) == ["failover"]
    address = {"street_address": "116 Natoma St", "locality": "San Francisco", "region": "CA", "postal_code": "94105"}
    data = await world.ok(world.tc, "PATCH", path(world.c, in_service), {"e911": address})
    assert "e911" in data["features"] and data["e911"] == address
    incomplete = {key: value for key, value in address.items() if key != "street_address"}
    errors = validation(await world.call(world.tc, "PATCH", path(world.c, in_service), {"e911": incomplete}))
    assert errors == {"e911.street_address": {"required": {"message": "Field is required but missing"}}}
    data = await world.ok(world.tc, "PATCH", path(world.c, in_service), {"e911": None})
    assert "e911" not in data["features"]


async def test_reseller_denies_a_feature(world: World, couch: Couch, events_bus: Bus) -> None:
    """Scenario 35: R's `configs_number_manager` denies e911 on its customers' numbers."""
    number = await world.create(world.c)
    db = names.account_db(world.r)
    saved = await couch.save(db, {"_id": "configs_number_manager", "features": {"deny": ["e911"]}})
    await announce(events_bus, db, saved)
    await flush_numbers(events_bus)
    try:
        address = {"street_address": "1 Main St", "locality": "Springfield", "region": "CA", "postal_code": "90000"}
        data = knm(await world.call(world.tc, "POST", path(world.c, number), {"e911": address}), 403, "forbidden")
        assert data["cause"] == "feature 'e911' is not available for this number"
        data = await world.ok(world.tc, "POST", path(world.c, number), {"cnam": {"display_name": "ACME"}})
        assert "outbound_cnam" in data["features"]
    finally:
        current = await couch.get(db, "configs_number_manager")
        assert current is not None
        await couch.delete(db, "configs_number_manager", current["_rev"])
        await announce(events_bus, db, current)
        await flush_numbers(events_bus)


# --- reserve and activate (scenarios 43-55, 59, seed) ------------------------------------------------


async def test_seed_reserve(world: World, couch: Couch) -> None:
    pool = await world.create(world.m)
    data = await world.ok(world.tr, "PUT", path(world.c, pool, "reserve"))
    assert (data["state"], data["_read_only"]["state"]) == ("reserved", "reserved")
    doc = await number_doc(couch, pool)
    assert doc is not None and (doc["pvt_assigned_to"], doc["pvt_reserve_history"]) == (world.c, [world.c])
    assert await copy_doc(couch, world.c, pool) is not None
    reply = await world.call(world.tr, "PUT", path(world.c, pool, "reserve"))
    assert knm(reply, 400, "no_change_required") == {"code": 400, "error": "no_change_required",
                                                      "message": "no change required"}
    unknown = world.fresh()
    bad_identifier(await world.call(world.tr, "PUT", path(world.c, unknown, "reserve")), unknown)


async def test_reserve_moves_between_accounts(world: World, couch: Couch) -> None:
    held = await world.create(world.r, {"create_with_state": "reserved"})
    await world.ok(world.tc, "PUT", path(world.c, held, "reserve"))
    doc = await number_doc(couch, held)
    assert doc is not None and (doc["pvt_assigned_to"], doc["pvt_reserve_history"]) == (world.c, [world.c, world.r])
    assert await copy_doc(couch, world.r, held) is None and await copy_doc(couch, world.c, held) is not None
    other = await world.create(world.r, {"create_with_state": "reserved"})
    knm(await world.call(world.tu, "PUT", path(world.u, other, "reserve")), 403, "forbidden")
    in_service = await world.create(world.c)
    data = await world.ok(world.tr, "PUT", path(world.r, in_service, "reserve"))
    assert data["state"] == "reserved"
    doc = await number_doc(couch, in_service)
    assert doc is not None and doc["pvt_assigned_to"] == world.r
    porting = world.fresh()
    await world.ok(world.tc, "PUT", path(world.c, porting, "port"))
    data = knm(await world.call(world.tc, "PUT", path(world.c, porting, "reserve")), 400, "invalid_state_transition")
    assert data["cause"] == "from port_in to reserved"
    aging = await world.create(world.m, {"create_with_state": "aging"})
    knm(await world.call(world.tr, "PUT", path(world.r, aging, "reserve")), 403, "forbidden")
    assert (await world.ok(world.tm, "PUT", path(world.r, aging, "reserve")))["state"] == "reserved"


async def test_seed_activate(world: World, couch: Couch) -> None:
    pool = await world.create(world.m)
    data = await world.ok(world.tc, "PUT", path(world.c, pool, "activate"))
    assert (data["state"], data["_read_only"]["state"]) == ("in_service", "in_service")
    again = await world.ok(world.tc, "PUT", path(world.c, pool, "activate"))
    assert (again["state"], again["_read_only"]["created"]) == ("in_service", data["_read_only"]["created"])
    held = await world.create(world.r, {"create_with_state": "reserved"})
    knm(await world.call(world.tu, "PUT", path(world.u, held, "activate")), 403, "forbidden")
    await world.ok(world.tc, "PUT", path(world.c, held, "activate"))
    doc = await number_doc(couch, held)
    assert doc is not None and (doc["pvt_assigned_to"], doc["pvt_reserve_history"]) == (world.c, [world.r])
    unknown = world.fresh()
    bad_identifier(await world.call(world.tc, "PUT", path(world.c, unknown, "activate")), unknown)


async def test_activate_transfers_and_completes_ports(world: World, couch: Couch) -> None:
    elsewhere = await world.create(world.c2)
    for db in (names.number_db(elsewhere), names.account_db(world.c2)):
        await couch.update(db, elsewhere, lambda doc: {**(doc or {}), "pvt_used_by": "callflow"})
    knm(await world.call(world.tc, "PUT", path(world.c, elsewhere, "activate")), 403, "forbidden")
    data = await world.ok(world.tr, "PUT", path(world.c, elsewhere, "activate"))
    assert "used_by" not in data
    doc = await number_doc(couch, elsewhere)
    assert doc is not None and (doc["pvt_assigned_to"], doc["pvt_previously_assigned_to"]) == (world.c, world.c2)
    assert "pvt_used_by" not in doc
    assert await copy_doc(couch, world.c2, elsewhere) is None
    porting = world.fresh()
    await world.ok(world.tc, "PUT", path(world.c, porting, "port"))
    assert (await world.ok(world.tc, "PUT", path(world.c, porting, "activate")))["state"] == "in_service"
    theirs = world.fresh()
    await world.ok(world.tu, "PUT", path(world.u, theirs, "port"))
    knm(await world.call(world.tr, "PUT", path(world.r, theirs, "activate")), 403, "forbidden")


async def test_concurrent_activations(world: World, couch: Couch) -> None:
    """Scenario 101: one wins; the other's retry finds the number in service elsewhere."""
    pool = await world.create(world.m)
    first, second = await asyncio.gather(
        world.call(world.tc, "PUT", path(world.c, pool, "activate")),
        world.call(world.tc2, "PUT", path(world.c2, pool, "activate")),
    )
    assert sorted([first.status_code, second.status_code]) == [201, 403], (first.text, second.text)
    winner = world.c if first.status_code == 201 else world.c2
    doc = await number_doc(couch, pool)
    assert doc is not None and (doc["pvt_state"], doc["pvt_assigned_to"]) == ("in_service", winner)
    loser = world.c2 if winner == world.c else world.c
    assert await copy_doc(couch, loser, pool) is None and await copy_doc(couch, winner, pool) is not None


# --- release and delete (scenarios 60-65, seed DELETE) -----------------------------------------------


async def test_release_of_a_local_number_deletes_it(world: World, couch: Couch) -> None:
    number = await world.create(world.c, {"cnam": {"display_name": "ACME"}})
    data = await world.ok(world.tc, "DELETE", path(world.c, number))
    assert (data["state"], data["_read_only"]["state"]) == ("deleted", "deleted")
    assert "features" not in data and "cnam" not in data
    bad_identifier(await world.call(world.tc, "GET", path(world.c, number)), number)
    assert await number_doc(couch, number) is None and await copy_doc(couch, world.c, number) is None
    assert number not in (await world.ok(world.tc, "GET", path(world.c)))["numbers"]
    await world.create(world.c, number=number)


async def test_seed_release_of_an_inventory_number(world: World, couch: Couch) -> None:
    number = await world.create(world.r, {"carrier_name": "inventory", "create_with_state": "reserved",
                                          "my_own_field": 1, "cnam": {"display_name": "ACME"}})
    data = await world.ok(world.tr, "DELETE", path(world.r, number))
    assert (data["state"], data["_read_only"]["state"], data["id"]) == ("available", "available", number)
    assert not {"my_own_field", "cnam", "features", "used_by"} & set(data)
    assert set(data["_read_only"]) == {"created", "modified", "state", "carrier_module"}
    doc = await number_doc(couch, number)
    assert doc is not None and doc["pvt_state"] == "available" and "pvt_assigned_to" not in doc
    assert await copy_doc(couch, world.r, number) is None
    # scenario 63: a number in no account cannot be released
    bad_identifier(await world.call(world.tr, "DELETE", path(world.r, number)), number)
    unknown = world.fresh()
    bad_identifier(await world.call(world.tr, "DELETE", path(world.r, unknown)), unknown)


async def test_release_goes_back_to_the_earlier_reserver(world: World, couch: Couch) -> None:
    held = await world.create(world.r, {"create_with_state": "reserved"})
    await world.ok(world.tc, "PUT", path(world.c, held, "reserve"))
    data = await world.ok(world.tc, "DELETE", path(world.c, held))
    assert data["state"] == "reserved"
    doc = await number_doc(couch, held)
    assert doc is not None and (doc["pvt_assigned_to"], doc["pvt_reserve_history"]) == (world.r, [world.r])
    assert held in (await world.ok(world.tr, "GET", path(world.r)))["numbers"]
    assert held not in (await world.ok(world.tc, "GET", path(world.c)))["numbers"]
    # scenario 65: C sees R's reserved number (held for it) but may not release it
    knm(await world.call(world.tc, "DELETE", path(world.c, held)), 403, "forbidden")


async def test_seed_hard_delete(world: World, couch: Couch) -> None:
    number = await world.create(world.c)
    knm(await world.call(world.tr, "DELETE", path(world.c, number), hard="true"), 403, "forbidden")
    theirs = await world.create(world.u)
    bad_identifier(await world.call(world.tr, "DELETE", path(world.r, theirs)), theirs)
    data = await world.ok(world.tm, "DELETE", path(world.c, number), hard="TRUE")
    assert (data["state"], data["_read_only"]["state"]) == ("deleted", "deleted")
    bad_identifier(await world.call(world.tm, "GET", path(world.c, number)), number)
    assert await copy_doc(couch, world.c, number) is None
    pool = await world.create(world.m)
    assert (await world.ok(world.tm, "DELETE", path(world.m, pool), hard="true"))["state"] == "deleted"


# --- identify (scenarios 88, 89) --------------------------------------------------------------------


async def test_identify(world: World) -> None:
    number = await world.create(world.c)
    data = await world.ok(world.tr, "GET", path(world.r, number, "identify"))
    assert data == {"account_id": world.c, "number": number}
    unknown = world.fresh()
    bad_identifier(await world.call(world.tr, "GET", path(world.r, unknown, "identify")), unknown)
    theirs = await world.create(world.u)
    bad_identifier(await world.call(world.tc, "GET", path(world.c, theirs, "identify")), theirs)
    pool = await world.create(world.m)
    reply = await world.call(world.tc, "GET", path(world.c, pool, "identify"))
    assert (reply.status_code, reply.json()["message"], reply.json()["data"]) == (400, "client error", "unassigned")


async def test_identify_a_disabled_owner(world: World) -> None:
    account = await world.system.create_account(world.r, world.tr, "Soon disabled")
    number = await world.create(account["id"])
    await world.ok(world.tm, "PATCH", f"/accounts/{account['id']}", {"enabled": False})
    try:
        reply = await world.call(world.tr, "GET", path(account["id"], number, "identify"))
        assert (reply.status_code, reply.json()["data"]) == (400, "account_disabled")
    finally:
        await world.ok(world.tm, "PATCH", f"/accounts/{account['id']}", {"enabled": True})


# --- classifiers (scenarios 102-104, seed) ------------------------------------------------------------


async def test_seed_classifiers(world: World) -> None:
    data = await world.ok(world.tc, "GET", path(world.c, "classifiers"))
    assert list(data) == list(DEFAULT_CLASSIFIERS)
    assert data["did_us"] == {"friendly_name": "US DID", "pretty_print": "SS(###) ### - ####",
                              "regex": "^\\+?1?([2-9][0-9]{2}[2-9][0-9]{6})$"}
    assert data["international"]["regex"] == "^\\+([2-9]\\d{7,})$|^(011\\d*)$|^(00\\d*)$"
    data = await world.ok(world.tc, "GET", path(world.c, "classifiers") + "/4158867900")
    assert data == {"e164": "+14158867900", "friendly_name": "US DID", "name": "did_us", "number": "4158867900",
                    "pretty_print": "SS(###) ### - ####", "regex": "^\\+?1?([2-9][0-9]{2}[2-9][0-9]{6})$"}


@pytest.mark.parametrize(
    ("number", "name", "e164"),
    [
        ("8005551234", "tollfree_us", "+18005551234"),
        ("9005551234", "toll_us", "+19005551234"),
        ("911", "emergency", "911"),
        ("8765551234", "caribbean", "+18765551234"),
        ("011442071234567", "international", "+442071234567"),
        ("abc", "unknown", "abc"),
    ],
)
async def test_classify(world: World, number: str, name: str, e164: str) -> None:
    data = await world.ok(world.tc, "GET", path(world.c, "classifiers") + f"/{number}")
    assert (data["name"], data["e164"], data["number"]) == (name, e164, number)

