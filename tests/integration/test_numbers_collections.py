"""Collections, the account listing and its repair through the gateway (numbers.md §10 scenarios
68-74, 76, 84-90; the seed 003 examples of collections, listing and fix), and idempotency per Msg-ID."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.bus import envelope
from shared.bus.connection import Bus
from shared.couch import names
from shared.couch.client import Couch
from tests.integration.numbers_world import World, copy_doc, events_bus, number_doc, path, world

pytestmark = pytest.mark.integration
__all__ = ["events_bus", "world"]


def collection(account: str, suffix: str = "") -> str:
    return path(account, "collection") + (f"/{suffix}" if suffix else "")


def client_error(reply: Any) -> dict[str, Any]:
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert (body["error"], body["message"]) == ("400", "client error"), body
    return dict(body["data"])


async def test_seed_collection_put(world: World, couch: Couch) -> None:
    numbers = [world.fresh() for _ in range(3)]
    data = await world.ok(world.tm, "PUT", collection(world.r), {"numbers": numbers})
    assert list(data) == ["success"] and list(data["success"]) == numbers
    for number in numbers:
        shown = data["success"][number]
        assert (shown["id"], shown["state"], shown["_read_only"]["state"]) == (number, "reserved", "reserved")
        assert await copy_doc(couch, world.r, number) is not None


async def test_collection_put_is_all_or_nothing(world: World, couch: Couch) -> None:
    new, first, second = world.fresh(), await world.create(world.r), await world.create(world.r)
    data = client_error(await world.call(world.tm, "PUT", collection(world.r), {"numbers": [new, first, second]}))
    assert data == {
        number: {"cause": number, "code": 409, "error": "number_exists", "message": f"number {number} already exists"}
        for number in (first, second)
    }
    assert await number_doc(couch, new) is None
    data = client_error(await world.call(world.tm, "PUT", collection(world.r), {"numbers": ["abc", new]}))
    assert list(data) == ["abc"] and data["abc"]["error"] == "not_reconcilable"
    assert await number_doc(couch, new) is None


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({}, {"numbers": {"required": {"message": "list of numbers missing"}}}),
        ({"numbers": []}, {"numbers": {"minimum": {"message": "minimum 1 number required"}}}),
        ({"numbers": "x"}, {"numbers": {"type": {"message": "numbers must be a list"}}}),
        ({"numbers": [123]}, {"numbers.0": {"type": {"message": "number must be a string"}}}),
        ({"numbers": ["4155550100", "+14155550100"]},
         {"numbers": {"uniqueItems": {"message": "some numbers appear twice"}}}),
        ({"numbers": [f"+1415555{i:04d}" for i in range(1001)]},
         {"numbers": {"maxItems": {"message": "at most 1000 numbers per request; use a resource job for more",
                                   "target": 1000}}}),
    ],
)
async def test_collection_bodies(world: World, body: dict[str, Any], errors: dict[str, Any]) -> None:
    reply = await world.call(world.tm, "PUT", collection(world.r), body)
    assert (reply.status_code, reply.json()["message"], reply.json()["data"]) == (400, "validation error", errors)


async def test_seed_collection_post_and_patch(world: World, couch: Couch) -> None:
    numbers = [await world.create(world.r), await world.create(world.r)]
    data = await world.ok(world.tr, "POST", collection(world.r), {"numbers": numbers, "myfield": 1337})
    for number in numbers:
        assert (data["success"][number]["myfield"], data["success"][number]["state"]) == (1337, "reserved")
        doc = await number_doc(couch, number)
        assert doc is not None and doc["myfield"] == 1337 and "numbers" not in doc
    data = await world.ok(world.tr, "PATCH", collection(world.r), {"numbers": numbers, "x": 1})
    for number in numbers:
        assert (data["success"][number]["myfield"], data["success"][number]["x"]) == (1337, 1)


async def test_seed_collection_delete(world: World, couch: Couch) -> None:
    inventory = {"carrier_name": "inventory", "create_with_state": "reserved"}
    numbers = [await world.create(world.r, inventory) for _ in range(3)]
    data = await world.ok(world.tr, "DELETE", collection(world.r), {"numbers": numbers})
    assert {number: shown["state"] for number, shown in data["success"].items()} == dict.fromkeys(numbers, "available")
    for number in numbers:
        assert await copy_doc(couch, world.r, number) is None
    data = await world.ok(world.tm, "DELETE", collection(world.r), {"numbers": numbers}, hard="true")
    assert {number: shown["_read_only"]["state"] for number, shown in data["success"].items()} == dict.fromkeys(
        numbers, "deleted")
    for number in numbers:
        assert await number_doc(couch, number) is None


async def test_seed_collection_activate(world: World, couch: Couch) -> None:
    pool = [await world.create(world.m), await world.create(world.m)]
    data = await world.ok(world.tc, "PUT", collection(world.c, "activate"), {"numbers": pool})
    assert {number: shown["state"] for number, shown in data["success"].items()} == dict.fromkeys(pool, "in_service")
    # all or nothing: one number C may not take leaves the other untouched
    free, taken = await world.create(world.m), await world.create(world.c2)
    data = client_error(await world.call(world.tc, "PUT", collection(world.c, "activate"), {"numbers": [free, taken]}))
    assert list(data) == [taken] and data[taken]["error"] == "forbidden"
    doc = await number_doc(couch, free)
    assert doc is not None and doc["pvt_state"] == "available"


async def test_a_redelivered_request_is_answered_from_the_stored_doc(world: World, events_bus: Bus) -> None:
    """bus.md §7.5: the same Msg-ID twice writes once (a second create would be a 409 otherwise)."""
    number = world.fresh()
    msg_id = uuid.uuid4().hex
    request = {
        **envelope.headers("gateway", "api", "phone_numbers.put", msg_id=msg_id),
        "Method": "PUT", "Path": path(world.c, number), "Path-Params": {"account_id": world.c, "phone_number": number},
        "Query": {}, "Body": {"data": {"x": 1}}, "Auth-Account-ID": world.m, "Auth-Superduper-Admin": True,
    }
    first = await events_bus.request("api", "api.numbers.phone_numbers.put", dict(request), 5)
    second = await events_bus.request("api", "api.numbers.phone_numbers.put", dict(request), 5)
    assert (first["Status-Code"], second["Status-Code"]) == (201, 201), (first, second)
    assert first["Body"]["data"] == second["Body"]["data"]


# --- listing (scenarios 84-87, seed) -----------------------------------------------------------------


async def test_listing_of_a_fresh_account(world: World) -> None:
    account = await world.system.create_account(world.r, world.tr, "Fresh")
    data = await world.ok(world.tr, "GET", path(account["id"]))
    assert data == {"numbers": {}, "cascade_quantity": 0, "casquade_quantity": 0}


async def test_listing_entries_and_cascade(world: World) -> None:
    parent = await world.system.create_account(world.r, world.tr, "Parent")
    child = await world.system.create_account(parent["id"], world.tr, "Child")
    grandchild = await world.system.create_account(child["id"], world.tr, "Grandchild")
    mine = await world.create(parent["id"])
    await world.create(child["id"])
    await world.create(child["id"], {"create_with_state": "reserved"})
    await world.create(grandchild["id"])
    data = await world.ok(world.tr, "GET", path(parent["id"]))
    assert list(data["numbers"]) == [mine]
    assert (data["cascade_quantity"], data["casquade_quantity"]) == (3, 3)
    entry = data["numbers"][mine]
    assert set(entry) == {"assigned_to", "created", "updated", "state", "features"}
    assert (entry["assigned_to"], entry["state"], entry["features"]) == (parent["id"], "in_service", ["local"])
    assert (await world.ok(world.tr, "GET", path(grandchild["id"])))["cascade_quantity"] == 0


async def test_seed_listing_pages_and_filters(world: World) -> None:
    account = (await world.system.create_account(world.r, world.tr, "Paged"))["id"]
    numbers = sorted([await world.create(account), await world.create(account),
                      await world.create(account, {"create_with_state": "reserved"})])
    reply = await world.call(world.tr, "GET", path(account), page_size="2")
    body = reply.json()
    assert list(body["data"]["numbers"]) == numbers[:2]
    assert (body["page_size"], body["next_start_key"], body["data"]["casquade_quantity"]) == (2, numbers[2], 0)
    reply = await world.call(world.tr, "GET", path(account), page_size="2", start_key=numbers[2])
    body = reply.json()
    assert list(body["data"]["numbers"]) == [numbers[2]]
    assert (body["page_size"], body["start_key"]) == (1, numbers[2]) and "next_start_key" not in body
    data = await world.ok(world.tr, "GET", path(account), filter_state="reserved")
    assert [entry["state"] for entry in data["numbers"].values()] == ["reserved"]
    data = await world.ok(world.tr, "GET", path(account), created_from=str(10**12))
    assert data["numbers"] == {}
    reply = await world.call(world.tr, "GET", path(account), page_size="0")
    assert (reply.status_code, list(reply.json()["data"])) == (400, ["page_size"])
    everything = await world.call(world.tr, "GET", path(account), paginate="false")
    assert list(everything.json()["data"]["numbers"]) == numbers and "page_size" not in everything.json()


async def test_seed_fix(world: World, couch: Couch) -> None:
    account = (await world.system.create_account(world.r, world.tr, "Broken"))["id"]
    kept, lost = await world.create(account), await world.create(account)
    db = names.account_db(account)
    copy = await couch.get(db, lost)
    assert copy is not None
    await couch.delete(db, lost, copy["_rev"])
    stray = await world.create(world.c2)
    stray_copy = await copy_doc(couch, world.c2, stray)
    assert stray_copy is not None
    await couch.save(db, {key: value for key, value in stray_copy.items() if key != "_rev"})
    assert lost not in (await world.ok(world.tr, "GET", path(account)))["numbers"]
    reply = await world.call(world.tr, "POST", path(account, "fix"))
    assert reply.status_code == 200, reply.text
    data = reply.json()["data"]
    assert sorted(data["numbers"]) == sorted([kept, lost]) and data["casquade_quantity"] == 0
    assert await couch.get(db, stray) is None
    authoritative = await number_doc(couch, lost)
    repaired = await couch.get(db, lost)
    assert authoritative is not None and repaired is not None
    assert {k: v for k, v in repaired.items() if k != "_rev"} == {k: v for k, v in authoritative.items() if k != "_rev"}


async def test_a_thousand_numbers_fit_in_one_request(world: World) -> None:
    """§7.5: bulk writes keep the largest collection inside the gateway's timeout (else this is a 504)."""
    account = (await world.system.create_account(world.r, world.tr, "Bulk"))["id"]
    numbers = [world.fresh("332") for _ in range(1000)]
    data = await world.ok(world.tm, "PUT", collection(account), {"numbers": numbers})
    assert len(data["success"]) == 1000
    listing = await world.call(world.tm, "GET", path(account), paginate="false")
    assert sorted(listing.json()["data"]["numbers"]) == sorted(numbers)
    data = await world.ok(world.tm, "DELETE", collection(account), {"numbers": numbers}, hard="true")
    assert {shown["state"] for shown in data["success"].values()} == {"deleted"}
    assert (await world.ok(world.tm, "GET", path(account)))["numbers"] == {}
