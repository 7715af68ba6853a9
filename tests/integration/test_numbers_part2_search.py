"""Search, the `other` carrier and its orders through the gateway, with a phonebook test double
(numbers.md §5.1-§5.3; §10 scenarios 1, 2, 56-58, 75, 77-83; the seed 003 search and activate examples).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from shared.bus.connection import Bus
from shared.couch import names
from shared.couch.client import Couch
from tests.integration.numbers_doubles import FakeParty, Reply, Seen, fake_party, outside_config
from tests.integration.numbers_world import World, announce, events_bus, flush_numbers, number_doc, path, world

pytestmark = pytest.mark.integration
__all__ = ["events_bus", "world"]

PHONEBOOK = "number_manager.other"
NUMBER_MANAGER = "number_manager"
SEARCH = "/numbers/US/search"
ORDER = "/numbers/US/order"


def unique_prefix() -> str:
    """Seven national digits (`555` + four) that no other test uses: `+1<prefix>…` numbers match only here."""
    return f"555{random.randint(0, 9999):04d}"


def seed_entry(number: str) -> dict[str, Any]:
    """A phonebook search entry shaped like the seed's first example."""
    ten = number.removeprefix("+1")
    return {"e164": number, "formatted_number": f"1-{ten[:3]}-{ten[3:6]}-{ten[6:]}", "npa_nxx": ten[:6],
            "number": number, "number_id": str(uuid.uuid4()).upper(),
            "rate_center": {"lata": "722", "name": "SAN RAFAEL", "state": "CA"}, "status": "Available",
            "ten_digit": ten}


def serve_search(party: FakeParty, numbers: list[str]) -> None:
    entries = {number: seed_entry(number) for number in numbers}
    party.on("GET", SEARCH, Reply(body={"status": "success", "data": entries}))


def serve_orders(party: FakeParty) -> None:
    def order(seen: Seen) -> Reply:
        numbers = seen.body["data"]["numbers"]
        return Reply(body={"status": "success", "data": {
            number: {"status": "success", "opaque": {"order_id": f"o-{number}"}, "locality": {"city": "SF"}}
            for number in numbers}})

    party.on("PUT", ORDER, order)


@pytest_asyncio.fixture
async def phonebook(couch: Couch, events_bus: Bus) -> AsyncIterator[FakeParty]:
    """The phonebook double, configured as `number_manager.other.phonebook_url` for the test."""
    async with fake_party() as party, outside_config(couch, events_bus, {PHONEBOOK: {"phonebook_url": party.url}}):
        yield party


async def search(world: World, token: str | None, url: str = "/phone_numbers", **params: str) -> list[dict[str, Any]]:
    reply = await world.call(token, "GET", url, **params)
    assert reply.status_code == 200, reply.text
    return list(reply.json()["data"])


async def pool(world: World, count: int, prefix: str, data: dict[str, Any] | None = None) -> list[str]:
    """`count` available numbers `+1<prefix>…` (ten national digits) created by the master, sorted."""
    free = 10 - len(prefix)
    numbers = sorted({f"+1{prefix}{random.randrange(10 ** free):0{free}d}" for _ in range(count * 3)})[:count]
    assert len(numbers) == count
    for number in numbers:
        await world.create(world.m, data, number=number)
    return numbers


# --- the phonebook as a search source (scenarios 1, 83; seed "Search for numbers") -------------------


async def test_seed_search_without_a_token(world: World, couch: Couch, phonebook: FakeParty) -> None:
    """Scenario 1: the phonebook's three entries, two shown, sorted, as `discovery` with its fields."""
    found = [f"+14150{random.randint(0, 999999):06d}" for _ in range(3)]
    serve_search(phonebook, found)
    data = await search(world, None, prefix="415", quantity="2")
    assert [item["number"] for item in data] == sorted(found)[:2]
    for item in data:
        assert item["state"] == "discovery" and item["e164"] == item["number"]
        assert item["rate_center"] == {"lata": "722", "name": "SAN RAFAEL", "state": "CA"}
    [asked] = phonebook.requests("GET", SEARCH)
    assert asked.query == {"prefix": "+1415", "limit": "2", "offset": "0"}
    doc = await number_doc(couch, sorted(found)[0])
    assert doc is not None
    assert (doc["pvt_state"], doc["pvt_module_name"], doc.get("pvt_assigned_to")) == ("discovery", "knm_other", None)
    assert doc["pvt_carrier_data"]["number_id"] == data[0]["number_id"]


async def test_stored_numbers_keep_their_state(world: World, phonebook: FakeParty) -> None:
    """§5.2: a phonebook result already stored is shown if `available`, dropped if owned."""
    prefix = unique_prefix()
    available, taken = await pool(world, 1, f"{prefix}0"), await world.create(world.c, number=f"+1{prefix}999")
    fresh = f"+1{prefix}998"
    serve_search(phonebook, [*available, taken, fresh])
    data = await search(world, None, prefix=prefix, quantity="10")
    assert [(item["number"], item["state"]) for item in data] == [(available[0], "available"), (fresh, "discovery")]
    assert data[1]["rate_center"]["name"] == "SAN RAFAEL"  # the phonebook's fields come along
    assert "rate_center" not in data[0]  # the local source came first (§5.2 step 3: it wins)


async def test_a_failing_phonebook_is_skipped(world: World, couch: Couch, events_bus: Bus,
                                             phonebook: FakeParty) -> None:
    """Scenario 83, and a phonebook that times out or answers garbage: the local results still come."""
    prefix = unique_prefix()
    local = await pool(world, 1, prefix)
    expected = [{"number": local[0], "state": "available"}]
    for reply in (Reply(500, {"status": "error"}), Reply(raw=b"{not json"), Reply(body=[1, 2]),
                  Reply(body={"status": "success", "data": "nope"}), Reply(body={"status": "success"}, delay_s=1.5)):
        phonebook.on("GET", SEARCH, reply)
        async with outside_config(couch, events_bus, {NUMBER_MANAGER: {"http_timeout_ms": 300}}):
            assert await search(world, None, prefix=prefix, quantity="5") == expected, reply


# --- local, inventory and reserved sources (scenarios 2, 77-82) --------------------------------------


async def test_local_search_without_a_phonebook(world: World) -> None:
    """Scenario 2 (its number made unique): PB unset, one available local number."""
    prefix = unique_prefix()
    number = (await pool(world, 1, prefix))[0]
    assert await search(world, None, prefix=prefix) == [{"number": number, "state": "available"}]


async def test_seed_search_pages_by_rows(world: World) -> None:
    """Scenarios 77, 78 (the seed's `quantity=3&offset=6`): rows 7-9 by number."""
    prefix = unique_prefix()
    numbers = await pool(world, 10, prefix)
    url = path(world.r)
    data = await search(world, world.tr, url, prefix=prefix, quantity="3", offset="6")
    assert data == [{"number": number, "state": "available"} for number in numbers[6:9]]
    assert await search(world, world.tr, url, prefix=prefix, quantity="3", offset="10") == []
    assert await search(world, world.tr, url, prefix=prefix) == [{"number": numbers[0], "state": "available"}]


async def test_reserved_numbers_are_found_by_their_holders(world: World) -> None:
    """Scenario 79: C sees its own and R's reserved numbers; nobody else does."""
    prefix = unique_prefix()
    own = await world.create(world.c, {"create_with_state": "reserved"}, number=f"+1{prefix}100")
    held = await world.create(world.r, number=f"+1{prefix}200")  # R is a reseller: reserved
    free = (await pool(world, 1, f"{prefix}3"))[0]
    expected = [{"number": own, "state": "reserved"}, {"number": held, "state": "reserved"},
                {"number": free, "state": "available"}]
    assert await search(world, world.tc, path(world.c), prefix=prefix, quantity="9") == expected
    assert await search(world, world.tc, prefix=prefix, quantity="9") == expected  # T is the search account
    assert await search(world, None, prefix=prefix, quantity="9") == expected[2:]
    assert await search(world, world.tu, path(world.u), prefix=prefix, quantity="9") == expected[2:]


async def test_prefix_forms(world: World) -> None:
    """Scenarios 80, 81: `%2B1…`, a raw `+` (a space) and national digits agree; true prefix matching."""
    prefix = unique_prefix()
    first, second = f"+1{prefix}111", f"+1{prefix}222"
    for number in (first, second):
        await world.create(world.m, number=number)
    national = await search(world, None, prefix=prefix, quantity="5")
    assert [item["number"] for item in national] == [first, second]
    assert await search(world, None, prefix=f"+1{prefix}", quantity="5") == national  # sent as %2B
    async with world.client(None) as client:
        request = client.build_request("GET", f"/phone_numbers?prefix=+1{prefix}&quantity=5")
        assert request.url.query.startswith(b"prefix=+1")  # a raw `+`, which arrives as a space
        reply = await client.send(request)
    assert reply.json()["data"] == national
    assert [item["number"] for item in await search(world, None, prefix=f"{prefix}2", quantity="5")] == [second]


async def test_short_e164_prefixes_scan_their_number_dbs(world: World) -> None:
    """A prefix shorter than a number DB name (`+882`) reads every `numbers/+882…` DB."""
    numbers = [f"+882{digit}{random.randint(0, 9999999):07d}" for digit in (1, 5)]
    for number in numbers:
        await world.create(world.m, number=number)
    found = [item["number"] for item in await search(world, None, prefix="+882", quantity="500")]
    assert set(numbers) <= set(found) and found == sorted(found)


@pytest.mark.parametrize(
    ("params", "key", "code"),
    [
        ({"prefix": "41"}, "prefix", "pattern"),
        ({}, "prefix", "required"),
        ({"prefix": "abc"}, "prefix", "pattern"),
        ({"prefix": "415", "quantity": "0"}, "quantity", "minimum"),
        ({"prefix": "415", "quantity": "501"}, "quantity", "maximum"),
        ({"prefix": "415", "quantity": "many"}, "quantity", "type"),
        ({"prefix": "415", "offset": "-1"}, "offset", "minimum"),
        ({"prefix": "415", "country": "ZZ"}, "country", "enum"),
    ],
)
async def test_search_parameters(world: World, params: dict[str, str], key: str, code: str) -> None:
    """Scenario 82."""
    reply = await world.call(None, "GET", "/phone_numbers", **params)
    assert (reply.status_code, reply.json()["message"]) == (400, "validation error"), reply.text
    assert list(reply.json()["data"]) == [key] and code in reply.json()["data"][key]


async def test_countries_give_the_calling_code(world: World, phonebook: FakeParty) -> None:
    serve_search(phonebook, [])
    await search(world, None, prefix="2071", country="gb")
    [asked] = phonebook.requests("GET", "/numbers/GB/search")
    assert asked.query["prefix"] == "+442071"


# --- which carriers are searched is configuration (§2.7, §5.2) ---------------------------------------


async def test_carrier_modules_come_from_config(world: World, couch: Couch, events_bus: Bus) -> None:
    prefix = unique_prefix()
    local = (await pool(world, 1, f"{prefix}1"))[0]
    inventory = (await pool(world, 1, f"{prefix}2", {"carrier_name": "inventory"}))[0]
    both = [{"number": local, "state": "available"}, {"number": inventory, "state": "available"}]
    assert await search(world, world.tc, path(world.c), prefix=prefix, quantity="5") == both
    async with outside_config(couch, events_bus, {NUMBER_MANAGER: {"carrier_modules": ["knm_inventory"]}}):
        assert await search(world, None, prefix=prefix, quantity="5") == both[1:]
        # R's own list wins for R's subtree (`other` names are accepted without `knm_`)
        db = names.account_db(world.r)
        saved = await couch.save(db, {"_id": "configs_number_manager", "carrier_modules": ["local"]})
        await announce(events_bus, db, saved)
        await flush_numbers(events_bus)
        try:
            assert await search(world, world.tc, path(world.c), prefix=prefix, quantity="5") == both[:1]
            assert await search(world, world.tu, path(world.u), prefix=prefix, quantity="5") == both[1:]
        finally:
            await couch.delete(db, "configs_number_manager", saved["_rev"])
            await announce(events_bus, db, saved)
            await flush_numbers(events_bus)


# --- buying from the phonebook (scenarios 56-58, 75; seed "Buy a number once searched for") ----------


async def test_seed_activate_a_discovered_number(world: World, couch: Couch, phonebook: FakeParty) -> None:
    """Scenario 58: search, then activate a `discovery` result: the phonebook gets the order."""
    prefix = unique_prefix()
    number = f"+1{prefix}123"
    serve_search(phonebook, [number])
    serve_orders(phonebook)
    assert (await search(world, world.tc, path(world.c), prefix=prefix))[0]["state"] == "discovery"
    data = await world.ok(world.tc, "PUT", path(world.c, number, "activate"))
    assert (data["id"], data["state"], data["_read_only"]["carrier_module"]) == (number, "in_service", "other")
    [order] = phonebook.requests("PUT", ORDER)
    assert order.body == {"data": {"numbers": [number], "gateways": []}}
    doc = await number_doc(couch, number)
    assert doc is not None and doc["pvt_assigned_to"] == world.c
    assert doc["pvt_carrier_data"]["order_id"] == f"o-{number}"  # `opaque` merged into the search entry
    assert doc["pvt_carrier_data"]["number_id"] and doc["pvt_locality"] == {"city": "SF"}
    # a number never searched for (nor created) cannot be activated
    unknown = f"+1{prefix}124"
    assert (await world.call(world.tc, "PUT", path(world.c, unknown, "activate"))).status_code == 404


async def test_activate_without_a_phonebook(world: World, couch: Couch) -> None:
    """Scenario 56 (the seed's `missing_provider_url`): nothing is written."""
    number = await world.create(world.m, {"carrier_name": "other", "create_with_state": "available"})
    reply = await world.call(world.tc, "PUT", path(world.c, number, "activate"))
    assert reply.status_code == 500, reply.text
    assert reply.json()["message"] == "unspecified_fault"
    assert reply.json()["data"] == {"code": 500, "error": "unspecified_fault", "message": "missing_provider_url"}
    doc = await number_doc(couch, number)
    assert doc is not None and doc["pvt_state"] == "available"


@pytest.mark.parametrize("failure", [Reply(500, {"status": "error"}), Reply(raw=b"<html>"),
                                     Reply(body={"status": "success", "data": {}}), Reply(delay_s=1.5)])
async def test_a_failed_order_is_a_carrier_fault(world: World, couch: Couch, events_bus: Bus,
                                                 phonebook: FakeParty, failure: Reply) -> None:
    """Scenario 57 (the seed's "Carrier fault"), also for a timeout, garbage and a reply without the number."""
    number = await world.create(world.m, {"carrier_name": "other", "create_with_state": "available"})
    phonebook.on("PUT", ORDER, failure)
    async with outside_config(couch, events_bus, {NUMBER_MANAGER: {"http_timeout_ms": 300}}):
        reply = await world.call(world.tc, "PUT", path(world.c, number, "activate"))
    assert reply.status_code == 500, reply.text
    assert reply.json()["data"] == {"cause": number, "code": 500, "error": "unspecified_fault",
                                    "message": "fault by carrier"}
    doc = await number_doc(couch, number)
    assert doc is not None and doc["pvt_state"] == "available"


async def test_seed_collection_activate_without_a_phonebook(world: World, couch: Couch) -> None:
    """Scenario 75: the `other` number fails, so the local one is not taken either."""
    local = await world.create(world.m)
    other = await world.create(world.m, {"carrier_name": "other", "create_with_state": "available"})
    reply = await world.call(world.tc, "PUT", path(world.c, "collection") + "/activate", {"numbers": [local, other]})
    assert reply.status_code == 400, reply.text
    assert reply.json()["message"] == "client error"
    assert reply.json()["data"] == {other: {"code": 500, "error": "unspecified_fault",
                                            "message": "missing_provider_url"}}
    for number in (local, other):
        doc = await number_doc(couch, number)
        assert doc is not None and doc["pvt_state"] == "available"


async def test_collection_activate_orders_each_number(world: World, phonebook: FakeParty) -> None:
    serve_orders(phonebook)
    numbers = [await world.create(world.m, {"carrier_name": "other", "create_with_state": "available"})
               for _ in range(2)]
    data = await world.ok(world.tc, "PUT", path(world.c, "collection") + "/activate", {"numbers": numbers})
    assert {number: shown["state"] for number, shown in data["success"].items()} == dict.fromkeys(numbers, "in_service")
    assert [seen.body["data"]["numbers"] for seen in phonebook.requests("PUT", ORDER)] == [[n] for n in numbers]

