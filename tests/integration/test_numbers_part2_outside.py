"""Check, locality, city prefixes and E911 through the gateway, with phonebook and E911 test doubles
(numbers.md §5.4, §5.5, §6; §10 scenarios 35-42, 91-93; the seed 003 check, locality, prefix and E911
examples), including the doubles' failures: HTTP errors, garbage JSON and timeouts. Also allow/deny
(§6.2) and the port state (§7.6).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from shared.bus.connection import Bus
from shared.couch import names
from shared.couch.client import Couch
from tests.integration.numbers_doubles import FakeParty, Reply, fake_party, outside_config
from tests.integration.numbers_world import World, events_bus, number_doc, path, world

pytestmark = pytest.mark.integration
__all__ = ["events_bus", "world"]

PHONEBOOK, LOCALITY, CITY, E911 = "number_manager.other", "number_manager.locality", "crossbar.phone_numbers", \
    "number_manager.e911"
NUMBER_MANAGER = "number_manager"
STATUS, METADATA = "/numbers/US/status", "/locality/metadata"
SHORT_TIMEOUT = {"http_timeout_ms": 300}
# Failures every outside call must survive: an HTTP error, garbage, a non-success body, a timeout.
FAILURES = [Reply(500, {"status": "error", "message": "down"}), Reply(raw=b"{garbage"),
            Reply(body={"status": "error", "data": {}}), Reply(body={"status": "success"}, delay_s=1.5)]


def error(reply: httpx.Response, status: int, message: str) -> Any:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert (body["status"], body["error"], body["message"]) == ("error", str(status), message), body
    return body["data"]


@pytest_asyncio.fixture
async def party() -> AsyncIterator[FakeParty]:
    async with fake_party() as started:
        yield started


@pytest_asyncio.fixture
async def phonebook(party: FakeParty, couch: Couch, events_bus: Bus) -> AsyncIterator[FakeParty]:
    """The double set as `number_manager.other.phonebook_url` (so also locality's and city's URL)."""
    async with outside_config(couch, events_bus, {PHONEBOOK: {"phonebook_url": party.url}}):
        yield party


# --- check (scenario 91; seed "Check availability of phone numbers") ----------------------------------


async def test_check_without_a_phonebook(world: World) -> None:
    assert await world.ok(world.tc, "POST", path(world.c, "check"), {"numbers": ["4152338397"]}) == {}
    data = error(await world.call(world.tc, "POST", path(world.c, "check"), {"numbers": []}), 400, "validation error")
    assert list(data) == ["numbers"]


async def test_seed_check(world: World, phonebook: FakeParty) -> None:
    phonebook.on("POST", STATUS, Reply(body={"status": "success", "data": [
        {"number": "4152338397", "status": "success"}, {"number": "4152338421", "status": "error"},
        {"number": "442071234567", "status": "success"}, {"number": "9999999999", "status": "success"}]}))
    data = await world.ok(world.tc, "POST", path(world.c, "check"),
                          {"numbers": ["4152338397", "+14152338421", "011442071234567", "+14155550000"]})
    assert data == {"+14152338397": "success", "+14152338421": "error", "+442071234567": "success"}
    [asked] = phonebook.requests("POST", STATUS)
    assert asked.body == {"data": ["4152338397", "4152338421", "442071234567", "4155550000"]}


@pytest.mark.parametrize("failure", FAILURES)
async def test_check_when_the_phonebook_fails(world: World, couch: Couch, events_bus: Bus, phonebook: FakeParty,
                                              failure: Reply) -> None:
    """The seed's failure example: `data: {}`."""
    phonebook.on("POST", STATUS, failure)
    async with outside_config(couch, events_bus, {NUMBER_MANAGER: SHORT_TIMEOUT}):
        assert await world.ok(world.tc, "POST", path(world.c, "check"), {"numbers": ["4152338397"]}) == {}


# --- locality (scenario 92; seed "Get locality information") ------------------------------------------

SEED_LOCALITY = {
    "+14152338397": {
        "carrier": {"company": "T-Mobile USA Inc", "dba": "T-Mobile USA Inc", "id": "6529", "type": "WIRELESS"},
        "country": "US", "e164_number": "+14152338397", "geocode": {"locality": "California"},
        "locality": {"alt_postal_codes": ["94965", "94941"], "extended_postal_code": None,
                     "latitude": "37.8725359094361", "locality": "Belvedere", "longitude": "-122.465900466078",
                     "postal_code": "94920", "province": "CA", "switch": "OKLECAZVGT0", "type": "WIRELESS"},
        "number": "+14152338397", "status": "success"},
}


async def test_locality_without_a_url(world: World) -> None:
    data = error(await world.call(world.tc, "POST", path(world.c, "locality"), {"numbers": ["+14152338397"]}),
                 500, "init failed")
    assert data == "Unable to acquire numbers missing carrier url"


async def test_seed_locality(world: World, phonebook: FakeParty) -> None:
    phonebook.on("POST", METADATA, Reply(body={"status": "success", "data": SEED_LOCALITY}))
    data = await world.ok(world.tc, "POST", path(world.c, "locality"), {"numbers": ["+14152338397", "4152338421"]})
    assert data == SEED_LOCALITY
    [asked] = phonebook.requests("POST", METADATA)
    assert asked.body == {"data": ["+14152338397", "4152338421"]}  # as sent


@pytest.mark.parametrize("failure", FAILURES)
async def test_locality_when_the_service_fails(world: World, couch: Couch, events_bus: Bus, phonebook: FakeParty,
                                               failure: Reply) -> None:
    phonebook.on("POST", METADATA, failure)
    async with outside_config(couch, events_bus, {NUMBER_MANAGER: SHORT_TIMEOUT}):
        reply = await world.call(world.tc, "POST", path(world.c, "locality"), {"numbers": ["+14152338397"]})
    assert error(reply, 500, "number locality lookup failed") == {}


async def test_locality_has_its_own_url(world: World, couch: Couch, events_bus: Bus, phonebook: FakeParty) -> None:
    async with fake_party() as service, outside_config(couch, events_bus, {LOCALITY: {"url": service.url}}):
        service.on("POST", METADATA, Reply(body={"status": "success", "data": SEED_LOCALITY}))
        assert await world.ok(world.tc, "POST", path(world.c, "locality"), {"numbers": ["4152338397"]}) == SEED_LOCALITY
    assert phonebook.requests("POST", METADATA) == []


# --- city → prefixes (scenario 93; seed "List available numbers of a given US city") -------------------

NOT_FOUND = {"data": {}, "error": 404, "message": "Not Found", "status": "error"}


async def test_prefix_without_a_url(world: World) -> None:
    for token, url in ((None, "/phone_numbers/prefix"), (world.tc, path(world.c, "prefix"))):
        data = error(await world.call(token, "GET", url, city="Foo"), 500, "init failed")
        assert data == "Unable to acquire numbers missing carrier url"
    data = error(await world.call(None, "GET", "/phone_numbers/prefix"), 400, "validation error")
    assert list(data) == ["city"]


async def test_seed_prefix(world: World, couch: Couch, events_bus: Bus, phonebook: FakeParty) -> None:
    phonebook.on("GET", "/US/city", Reply(body={"status": "success", "data": {"San Francisco": ["415", "628"]}}))
    data = await world.ok(world.tc, "GET", path(world.c, "prefix"), city="San Francisco")
    assert data == {"San Francisco": ["415", "628"]}
    assert phonebook.requests("GET", "/US/city")[0].query == {"pattern": "San Francisco"}
    # the seed's "Country or city not found": the phonebook's 404 body is the data
    phonebook.on("GET", "/US/city", Reply(404, NOT_FOUND))
    reply = await world.call(None, "GET", "/phone_numbers/prefix", city="Nowhere")
    assert error(reply, 500, "init failed") == NOT_FOUND
    # a URL and country of its own
    async with fake_party() as city, outside_config(couch, events_bus, {
            CITY: {"phonebook_url": city.url, "default_country": "CA"}}):
        city.on("GET", "/CA/city", Reply(body={"data": ["416"]}))
        assert await world.ok(world.tc, "GET", path(world.c, "prefix"), city="Toronto") == ["416"]


@pytest.mark.parametrize("failure", [Reply(raw=b"<html>oops</html>"), Reply(body={}, delay_s=1.5)])
async def test_prefix_when_the_phonebook_fails(world: World, couch: Couch, events_bus: Bus, phonebook: FakeParty,
                                               failure: Reply) -> None:
    phonebook.on("GET", "/US/city", failure)
    async with outside_config(couch, events_bus, {NUMBER_MANAGER: SHORT_TIMEOUT}):
        data = error(await world.call(None, "GET", "/phone_numbers/prefix", city="Foo"), 500, "init failed")
    assert list(data) == ["unknown error"] and data["unknown error"]


# --- E911 (scenarios 38-42; seed "E911") ---------------------------------------------------------------

SENT = {"postal_code": "94105", "street_address": "116 natoma st", "extended_address": "apt 116",
        "locality": "san francisco", "region": "ca"}
LOCATION = {"postal_code": "94105", "street_address": "116 NATOMA ST", "extended_address": "APT 116",
            "locality": "SAN FRANCISCO", "region": "CA"}
PROVISIONED = {**LOCATION, "caller_name": "Valued Customer", "latitude": "37.786861", "longitude": "-122.399484",
               "location_id": "27578725", "plus_four": "3745", "status": "PROVISIONED",
               "legacy_data": {"house_number": "116", "streetname": "NATOMA ST", "suite": "APT 116"}}


def serve_e911(party: FakeParty, validation: Reply | None = None) -> None:
    party.on("POST", "/validate", validation or Reply(body={"status": "GEOCODED", "locations": [LOCATION]}))
    party.on("POST", "/provision", Reply(body={"status": "PROVISIONED", "address": PROVISIONED}))
    party.on("POST", "/remove", Reply(body={"status": "success"}))


@pytest_asyncio.fixture
async def e911(party: FakeParty, couch: Couch, events_bus: Bus) -> AsyncIterator[FakeParty]:
    """The E911 double as `number_manager.e911.url`, answering the seed's success by default."""
    serve_e911(party)
    async with outside_config(couch, events_bus, {E911: {"url": party.url}}):
        yield party


async def used_number(world: World, couch: Couch) -> str:
    """C's in-service number, used by a callflow (set behind the API, as other services do)."""
    number = await world.create(world.c)
    for db in (names.number_db(number), names.account_db(world.c)):
        await couch.update(db, number, lambda doc: {**(doc or {}), "pvt_used_by": "callflow"})
    return number


def seed_request(number: str) -> dict[str, Any]:
    return {"used_by": "callflow", "id": number, "dash_e911": dict(SENT)}


async def test_seed_e911_success(world: World, couch: Couch, e911: FakeParty) -> None:
    """Scenario 41: validated, provisioned, the provider's address written back under `dash_e911`."""
    number = await used_number(world, couch)
    data = await world.ok(world.tc, "POST", path(world.c, number), seed_request(number))
    assert data["dash_e911"] == PROVISIONED
    assert (data["id"], data["used_by"], data["state"]) == (number, "callflow", "in_service")
    assert data["features"] == ["local", "e911"]
    assert [seen.body for seen in e911.requests("POST", "/validate")] == [{"number": number, "address": SENT}]
    assert [seen.body for seen in e911.requests("POST", "/provision")] == [
        {"number": number, "caller_name": "Valued Customer", "address": LOCATION}]
    doc = await number_doc(couch, number)
    assert doc is not None and doc["pvt_features"]["e911"] == PROVISIONED and "e911" not in doc
    # saving what was returned (or anything else) asks the provider nothing more
    await world.ok(world.tc, "POST", path(world.c, number), {"dash_e911": data["dash_e911"]})
    await world.ok(world.tc, "PATCH", path(world.c, number), {"my_field": 1})
    assert len(e911.requests("POST", "/validate")) == 1
    # scenario 42: an incomplete address is refused before any call; removing the key calls /remove
    reply = await world.call(world.tc, "PATCH", path(world.c, number), {"dash_e911": {"locality": "x"}})
    assert "dash_e911.street_address" in error(reply, 400, "validation error")
    assert len(e911.requests("POST", "/validate")) == 1
    data = await world.ok(world.tc, "POST", path(world.c, number), {})
    assert "e911" not in data.get("features", [])
    assert [seen.body for seen in e911.requests("POST", "/remove")] == [{"number": number}]


async def test_seed_e911_invalid_address(world: World, couch: Couch, e911: FakeParty) -> None:
    """Scenario 39."""
    serve_e911(e911, Reply(body={"status": "INVALID", "locations": []}))
    number = await used_number(world, couch)
    before = await number_doc(couch, number)
    data = error(await world.call(world.tc, "POST", path(world.c, number), seed_request(number)), 400, "invalid data")
    assert data == {"address": {"invalid": {"cause": SENT, "message": "Location is not geocoded",
                                            "provider": "dash_e911"}}}
    assert await number_doc(couch, number) == before
    assert e911.requests("POST", "/provision") == []


async def test_seed_e911_multiple_choice(world: World, couch: Couch, events_bus: Bus, e911: FakeParty) -> None:
    """Scenario 40, and the configured provider name."""
    other = {**LOCATION, "street_address": "116 NATOMA AVE"}
    serve_e911(e911, Reply(body={"status": "GEOCODED", "locations": [LOCATION, other]}))
    number = await used_number(world, couch)
    reply = await world.call(world.tc, "POST", path(world.c, number), seed_request(number))
    assert error(reply, 400, "multiple_choice") == {"multiple_choice": {"dash_e911": {
        "cause": SENT, "details": [LOCATION, other], "message": "more than one address found"}}}
    async with outside_config(couch, events_bus, {E911: {"url": e911.url, "provider_name": "acme911"}}):
        reply = await world.call(world.tc, "POST", path(world.c, number), {"e911": SENT})
    assert list(error(reply, 400, "multiple_choice")["multiple_choice"]) == ["acme911"]


@pytest.mark.parametrize(
    ("validation", "message"),
    [
        (Reply(500, {"message": "db down"}), "db down"),
        (Reply(body={"status": "ERROR", "message": "bad zip"}), "bad zip"),
        (Reply(raw=b"nope"), "e911 provider unavailable"),
        (Reply(body={}, delay_s=1.5), "e911 provider unavailable"),
    ],
)
async def test_e911_provider_failures(world: World, couch: Couch, events_bus: Bus, e911: FakeParty,
                                      validation: Reply, message: str) -> None:
    serve_e911(e911, validation)
    number = await used_number(world, couch)
    async with outside_config(couch, events_bus, {NUMBER_MANAGER: SHORT_TIMEOUT}):
        reply = await world.call(world.tc, "POST", path(world.c, number), {"e911": SENT})
    assert error(reply, 500, "unspecified_fault") == {"cause": number, "code": 500, "error": "unspecified_fault",
                                                      "message": message}
    doc = await number_doc(couch, number)
    assert doc is not None and "e911" not in doc and "e911" not in doc["pvt_features"]


async def test_e911_provisioning_failure(world: World, couch: Couch, e911: FakeParty) -> None:
    e911.on("POST", "/provision", Reply(body={"status": "PROVISIONED", "address": {"street_address": 116}}))
    number = await used_number(world, couch)
    data = error(await world.call(world.tc, "POST", path(world.c, number), {"e911": SENT}), 500, "unspecified_fault")
    assert data["message"] == "e911 provider returned an invalid address"


async def test_e911_removed_on_release(world: World, couch: Couch, e911: FakeParty) -> None:
    number = await world.create(world.c, {"carrier_name": "inventory"})
    data = await world.ok(world.tc, "POST", path(world.c, number), {"e911": SENT})
    assert data["e911"] == PROVISIONED
    assert (await world.ok(world.tc, "DELETE", path(world.c, number)))["state"] == "available"
    assert [seen.body for seen in e911.requests("POST", "/remove")] == [{"number": number}]


async def test_e911_in_collections(world: World, couch: Couch, e911: FakeParty) -> None:
    """§6.3: the provider's refusal is the number's entry in the error map; nothing is written."""
    numbers = [await world.create(world.c) for _ in range(2)]
    serve_e911(e911, Reply(body={"status": "INVALID", "message": "no such street"}))
    reply = await world.call(world.tc, "POST", path(world.c, "collection"), {"numbers": numbers, "e911": SENT})
    data = error(reply, 400, "client error")
    assert data == {numbers[0]: {"address": {"invalid": {"cause": SENT, "message": "no such street",
                                                         "provider": "dash_e911"}}}}
    for number in numbers:
        doc = await number_doc(couch, number)
        assert doc is not None and "e911" not in doc
    serve_e911(e911)
    data = await world.ok(world.tc, "POST", path(world.c, "collection"), {"numbers": numbers, "e911": SENT})
    assert [shown["e911"] for shown in data["success"].values()] == [PROVISIONED, PROVISIONED]


async def test_e911_without_a_provider_stores_the_address(world: World) -> None:
    """Scenario 38."""
    number = await world.create(world.c)
    data = await world.ok(world.tc, "POST", path(world.c, number), {"dash_e911": SENT})
    assert data["dash_e911"] == SENT and "e911" in data["features"]


# --- allow / deny (§6.2) and the port state (§7.6) ------------------------------------------------------


async def test_system_allow_list(world: World, couch: Couch, events_bus: Bus) -> None:
    number = await world.create(world.c)
    async with outside_config(couch, events_bus, {NUMBER_MANAGER: {"features": {"allow": ["cnam", "failover"],
                                                                                "deny": ["failover"]}}}):
        data = error(await world.call(world.tc, "POST", path(world.c, number), {"failover": {"sip": "sip:x@y"}}),
                     403, "forbidden")
        assert data["cause"] == "feature 'failover' is not available for this number"
        shown = await world.ok(world.tc, "POST", path(world.c, number), {"cnam": {"display_name": "ACME"}})
        assert shown["features"] == ["local", "outbound_cnam"]
        data = error(await world.call(world.tc, "PATCH", path(world.c, number), {"ringback": {"transfer": "m2"}}),
                     403, "forbidden")
        assert data["cause"] == "feature 'ringback' is not available for this number"
    assert (await world.ok(world.tc, "GET", path(world.c, number)))["features"] == ["local", "outbound_cnam"]


async def test_port_in(world: World, couch: Couch) -> None:
    number = world.fresh()
    porting = {"carrier": "Old Co", "comments": ["please hurry"]}
    data = await world.ok(world.tc, "PUT", path(world.c, number, "port"), {"porting": porting})
    assert (data["state"], data["porting"], data["features"]) == ("port_in", porting, ["local"])
    doc = await number_doc(couch, number)
    assert doc is not None and doc["pvt_ported_in"] is True and doc["pvt_assigned_to"] == world.c
    assert error(await world.call(world.tc, "PUT", path(world.c, number, "port")), 400, "number_is_porting")
    assert error(await world.call(world.tm, "PUT", path(world.c, number)), 400, "number_is_porting")
    bad = await world.call(world.tc, "PUT", path(world.c, world.fresh(), "port"), {"porting": {"comments": "x"}})
    assert list(error(bad, 400, "validation error")) == ["porting.comments"]
    taken = await world.create(world.c2)
    assert error(await world.call(world.tc, "PUT", path(world.c, taken, "port")), 409, "number_exists")
    assert (await world.ok(world.tc, "DELETE", path(world.c, number)))["state"] == "deleted"  # cancelled


async def test_features_of_a_port_follow_the_state(world: World) -> None:
    """CNAM and E911 are active while porting; failover only once in service (§6.1)."""
    number = world.fresh()
    data = await world.ok(world.tc, "PUT", path(world.c, number, "port"),
                          {"cnam": {"display_name": "ACME"}, "failover": {"e164": "+14155550199"}})
    assert data["features"] == ["local", "outbound_cnam"]
    data = await world.ok(world.tc, "PUT", path(world.c, number, "activate"))
    assert (data["state"], data["features"]) == ("in_service", ["local", "outbound_cnam", "failover"])

