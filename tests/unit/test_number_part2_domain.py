"""The pure side of numbers part 2: search (numbers.md §5.2), the phonebook contract (§5.3-§5.5),
E911 replies (§6.3), the outside settings (§2.7) and the calling-code table."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain import number_phonebook as phonebook
from shared.domain.number_carriers import CarrierOrder
from shared.domain.number_config import (
    CITY_CATEGORY,
    E911_CATEGORY,
    LOCALITY_CATEGORY,
    PHONEBOOK_CATEGORY,
    NumberManagerConfig,
    OutsideSettings,
    ResellerSettings,
)
from shared.domain.number_countries import CALLING_CODES, calling_code
from shared.domain.number_e911 import (
    E911Change,
    e911_change,
    provision_body,
    provision_outcome,
    validation_outcome,
    with_provisioned,
)
from shared.domain.number_errors import ErrorAnswer, NumberError, ProviderRejection, ValidationFailure
from shared.domain.number_outside import HttpOutcome
from shared.domain.number_search import SearchHit, SearchQuery, merge_hits, parse_search_query, phonebook_hits
from shared.domain.number_states import AccountView, Action, State
from shared.domain.numbers import NumberContext, NumberPlan, create_number, update_number

CONFIG = NumberManagerConfig()


def query(**params: str) -> SearchQuery:
    parsed = parse_search_query(params, CONFIG)
    assert isinstance(parsed, SearchQuery), parsed
    return parsed


def ok(data: Any, status: int = 200) -> HttpOutcome:
    return HttpOutcome(status, data)


# --- search ---------------------------------------------------------------------------------------------


def test_search_query_defaults_and_forms() -> None:
    assert query(prefix="415") == SearchQuery("+1415", 1, 0, "US")
    assert query(prefix=" 1555", quantity="3", offset="6") == SearchQuery("+1555", 3, 6, "US")  # raw `+`
    assert query(prefix="%2B1555".replace("%2B", "+")).prefix == "+1555"
    assert query(prefix="2071 ", country="gb").prefix == "+442071"
    assert query(prefix="+4420", country="ZW").prefix == "+4420"  # E.164 prefixes ignore the country
    assert query(prefix="415", quantity="400", offset="400").rows == 500
    assert query(prefix="415", quantity=["2", "7"]).quantity == 7  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        ({}, {"prefix": "required"}),
        ({"prefix": "41"}, {"prefix": "pattern"}),
        ({"prefix": "+12"}, {"prefix": "pattern"}),
        ({"prefix": "12345678901"}, {"prefix": "pattern"}),
        ({"prefix": "415", "quantity": "0", "offset": "x"}, {"quantity": "minimum", "offset": "type"}),
        ({"prefix": "415", "quantity": "501", "country": "ZZ"}, {"quantity": "maximum", "country": "enum"}),
    ],
)
def test_search_query_errors(params: dict[str, str], errors: dict[str, str]) -> None:
    parsed = parse_search_query(params, CONFIG)
    assert isinstance(parsed, ValidationFailure)
    assert {key: list(codes) for key, codes in parsed.errors.items()} == {key: [code] for key, code in errors.items()}


def test_maximum_quantity_is_configured() -> None:
    parsed = parse_search_query({"prefix": "415", "quantity": "11"}, NumberManagerConfig(maximum_search_quantity=10))
    assert isinstance(parsed, ValidationFailure) and "maximum" in parsed.errors["quantity"]


def test_number_dbs() -> None:
    dbs = ["numbers/+1415", "numbers/+4420", "numbers/+4421", "numbers/+4930", "accounts"]
    assert query(prefix="415").number_dbs([]) == ["numbers/+1415"]
    assert query(prefix="4155551").number_dbs([]) == ["numbers/+1415"]
    assert query(prefix="+442").number_dbs(dbs) == ["numbers/+4420", "numbers/+4421"]


def test_merge_keeps_the_first_source_sorts_and_pages() -> None:
    reserved = [SearchHit("+15550000003", State.RESERVED)]
    pool = [SearchHit("+15550000003", State.AVAILABLE), SearchHit("+15550000001", State.AVAILABLE)]
    other = [SearchHit("+15550000002", State.DISCOVERY, {"rate_center": {"name": "X"}, "state": "junk"}),
             SearchHit("+15560000000", State.DISCOVERY)]  # not a true prefix match
    merged = merge_hits([reserved, pool, other], query(prefix="555", quantity="5"))
    assert merged == [{"number": "+15550000001", "state": "available"},
                      {"number": "+15550000002", "state": "discovery", "rate_center": {"name": "X"}},
                      {"number": "+15550000003", "state": "reserved"}]
    assert merge_hits([pool, other], query(prefix="555", quantity="1", offset="1")) == [merged[1]]
    assert merge_hits([pool], query(prefix="555", offset="9")) == []


@given(st.lists(st.lists(st.integers(0, 60), max_size=12), max_size=4), st.integers(1, 8), st.integers(0, 12))
def test_merge_is_a_sorted_window_of_the_union(sources: list[list[int]], quantity: int, offset: int) -> None:
    hits = [[SearchHit(f"+1555000{n:04d}", State.AVAILABLE) for n in source] for source in sources]
    merged = merge_hits(hits, query(prefix="555", quantity=str(quantity), offset=str(offset)))
    union = sorted({hit.number for source in hits for hit in source})
    assert [item["number"] for item in merged] == union[offset : offset + quantity]


def test_phonebook_results_against_stored_docs() -> None:
    entries = {number: {"e164": number} for number in ("+15550000001", "+15550000002", "+15550000003",
                                                       "+15550000004")}
    stored: dict[str, dict[str, Any] | None] = {
        "+15550000001": {"_id": "+15550000001", "_rev": "1-a", "pvt_state": "available"},
        "+15550000002": {"_id": "+15550000002", "_rev": "1-b", "pvt_state": "in_service"},
        "+15550000003": {"_id": "+15550000003", "_rev": "1-c", "pvt_state": "discovery"},
        "+15550000004": None,
    }
    hits, plans = phonebook_hits(entries, stored, 63900000000, "msg-1")
    assert [(hit.number, hit.state) for hit in hits] == [
        ("+15550000001", State.AVAILABLE), ("+15550000003", State.DISCOVERY), ("+15550000004", State.DISCOVERY)]
    assert [plan.number for plan in plans] == ["+15550000003", "+15550000004"]
    renewed, new = (plan.doc for plan in plans)
    assert renewed is not None and new is not None
    assert renewed["_rev"] == "1-c" and "_rev" not in new
    assert (new["pvt_state"], new["pvt_module_name"], new["pvt_carrier_data"]) == (
        "discovery", "knm_other", {"e164": "+15550000004"})
    assert new["pvt_db_name"] == "numbers%2F%2B1555" and "pvt_assigned_to" not in new


# --- the phonebook contract -----------------------------------------------------------------------------


def test_search_entries() -> None:
    data = {"+14152338397": {"x": 1}, "+14162338397": {}, "4152338398": {}, "+14152338399": "not an object"}
    assert phonebook.search_entries(ok({"status": "success", "data": data}), "+1415") == {
        "+14152338397": {"x": 1}, "+14152338399": {}}
    for failed in (ok({"status": "error", "data": data}), ok({"status": "success", "data": data}, 500),
                   HttpOutcome.failed("timeout"), HttpOutcome(200, None, "not JSON"), ok([1])):
        assert phonebook.search_entries(failed, "+1415") == {}


def test_order_outcomes() -> None:
    number = "+14152338397"
    reply = {"status": "success", "data": {number: {"status": "success", "opaque": {"id": 7}, "locality": {"c": 1}}}}
    assert phonebook.order_outcome(number, ok(reply)) == CarrierOrder({"id": 7}, {"c": 1})
    bare = {"status": "success", "data": {number: {"status": "success"}}}
    assert phonebook.order_outcome(number, ok(bare)) == CarrierOrder({}, None)
    refused = {"status": "success", "data": {number: {"status": "error"}}}
    for failed in (ok(refused), ok({"status": "success", "data": {}}), ok(reply, 500), HttpOutcome.failed("x")):
        outcome = phonebook.order_outcome(number, failed)
        assert isinstance(outcome, NumberError)
        assert (outcome.code, outcome.message, outcome.cause) == (500, "fault by carrier", number)
    assert phonebook.order_body(number, ["gw"]) == {"data": {"numbers": [number], "gateways": ["gw"]}}


def test_status_forms_and_outcome() -> None:
    numbers = ["+14152338397", "+442071234567"]
    assert phonebook.status_body(numbers) == {"data": ["4152338397", "442071234567"]}
    reply = {"status": "success", "data": [{"number": "4152338397", "status": "success"},
                                           {"number": "+442071234567", "status": "error"},
                                           {"number": "5550000000", "status": "success"}, "junk"]}
    assert phonebook.status_outcome(numbers, ok(reply)) == {"+14152338397": "success", "+442071234567": "error"}
    assert phonebook.status_outcome(numbers, ok({"status": "success", "data": {}})) == {}


def test_locality_and_city_answers() -> None:
    assert phonebook.locality_answer(ok({"status": "success", "data": {"n": {}}})) == {"n": {}}
    for failed in (ok({"status": "error"}), ok({"status": "success", "data": {}}, 502), HttpOutcome.failed("x")):
        assert phonebook.locality_answer(failed) == phonebook.LOCALITY_FAILED
    assert phonebook.city_answer(ok({"data": ["415"]})) == ["415"]
    not_found = {"data": {}, "error": 404, "message": "Not Found", "status": "error"}
    assert phonebook.city_answer(ok(not_found, 404)) == ErrorAnswer(500, "init failed", not_found)
    assert phonebook.city_answer(ok({"status": "success"})) == ErrorAnswer(500, "init failed", {"status": "success"})
    assert phonebook.city_answer(HttpOutcome.failed("refused")) == ErrorAnswer(
        500, "init failed", {"unknown error": "refused"})


# --- E911 -----------------------------------------------------------------------------------------------

SENT = {"street_address": "1 main st", "locality": "springfield", "region": "ca", "postal_code": "90000"}
FOUND = {**SENT, "street_address": "1 MAIN ST"}
N = "+14155550100"


def e911_plan(key: str = "dash_e911", before: dict[str, Any] | None = None) -> NumberPlan:
    master = AccountView("m" * 32, (), superduper_admin=True)
    ctx = NumberContext(actor=master, target=AccountView("c" * 32, ("m" * 32,)))
    loaded = create_number(N, None, {"create_with_state": "in_service", **(before or {})}, ctx)
    assert isinstance(loaded, NumberPlan) and loaded.doc is not None
    plan = update_number(N, {**loaded.doc, "_rev": "1-x"}, {key: SENT}, ctx, merge=True)
    assert isinstance(plan, NumberPlan)
    return plan


def test_e911_change() -> None:
    assert e911_change(e911_plan()) == E911Change("dash_e911", SENT)
    assert e911_change(e911_plan("e911")) == E911Change("e911", SENT)
    assert e911_change(e911_plan(before={"e911": SENT})) is None  # the feature already holds that address
    assert e911_change(e911_plan("e911", before={"e911": {**SENT, "caller_name": "Bob"}})) == E911Change("e911", SENT)


def test_validation_outcomes() -> None:
    change = E911Change("dash_e911", SENT)
    assert validation_outcome(N, change, ok({"status": "GEOCODED", "locations": [FOUND]}), "p") == FOUND
    assert validation_outcome(N, change, ok({"status": "PROVISIONED"}), "p") == SENT
    invalid = validation_outcome(N, change, ok({"status": "INVALID"}), "p")
    assert invalid == ProviderRejection(400, "invalid data", {"address": {"invalid": {
        "cause": SENT, "message": "Location is not geocoded", "provider": "p"}}})
    many = validation_outcome(N, change, ok({"status": "GEOCODED", "locations": [FOUND, SENT]}), "p")
    assert isinstance(many, ProviderRejection) and many.message == "multiple_choice"
    assert many.data["multiple_choice"]["p"]["details"] == [FOUND, SENT]
    for failed, message in ((ok({"status": "ERROR", "message": "m"}), "m"), (ok({"message": "busy"}, 503), "busy"),
                            (HttpOutcome.failed("x"), "e911 provider unavailable"),
                            (ok({"status": "WHAT"}), "e911 provider unavailable")):
        outcome = validation_outcome(N, change, failed, "p")
        assert isinstance(outcome, NumberError) and (outcome.message, outcome.cause) == (message, N)


def test_provisioning() -> None:
    change = E911Change("dash_e911", SENT)
    assert provision_body(N, change, FOUND, "Valued Customer") == {
        "number": N, "caller_name": "Valued Customer", "address": FOUND}
    named = E911Change("e911", {**SENT, "caller_name": "Bob"})
    assert provision_body(N, named, FOUND, "Valued Customer")["caller_name"] == "Bob"
    address = provision_outcome(N, ok({"status": "PROVISIONED", "address": {**FOUND, "location_id": "7"}}), "V")
    assert address == {**FOUND, "location_id": "7", "caller_name": "V", "status": "PROVISIONED"}
    for failed in (ok({"status": "INVALID", "address": FOUND}), ok({"status": "PROVISIONED"}),
                   ok({"status": "PROVISIONED", "address": {"latitude": 1.5}})):
        assert isinstance(provision_outcome(N, failed, "V"), NumberError)
    plan = with_provisioned(e911_plan(), "dash_e911", address)
    assert plan.doc is not None and plan.doc["dash_e911"] == address == plan.doc["pvt_features"]["e911"]
    assert plan.answer["dash_e911"] == address and "e911" in plan.answer["features"]
    assert plan.action is Action.UPDATE


# --- settings and tables ----------------------------------------------------------------------------------


def test_outside_settings_fallbacks() -> None:
    assert OutsideSettings.from_values({}, CONFIG) == OutsideSettings()
    settings = OutsideSettings.from_values({PHONEBOOK_CATEGORY: {"phonebook_url": "http://pb/", "endpoints": ["g"]},
                                            E911_CATEGORY: {"url": "http://e", "provider_name": 7}},
                                           NumberManagerConfig(http_timeout_ms=250))
    assert (settings.phonebook_url, settings.locality_url, settings.city_url) == ("http://pb",) * 3
    assert (settings.endpoints, settings.e911_url, settings.e911_provider) == (("g",), "http://e", "dash_e911")
    assert settings.timeout_s == 0.25
    own = OutsideSettings.from_values({PHONEBOOK_CATEGORY: {"phonebook_url": "http://pb"},
                                       LOCALITY_CATEGORY: {"url": "http://loc"},
                                       CITY_CATEGORY: {"phonebook_url": "http://city", "default_country": "CA"}},
                                      CONFIG)
    assert (own.locality_url, own.city_url, own.city_country) == ("http://loc", "http://city", "CA")


def test_carrier_module_lists() -> None:
    assert NumberManagerConfig.from_values({"carrier_modules": ["other", "knm_local"]}).carrier_modules == (
        "knm_other", "knm_local")
    assert ResellerSettings.from_values({"carrier_modules": ["inventory"]}).carrier_modules == ("knm_inventory",)
    assert ResellerSettings.from_values({"features": {"deny": ["e911"]}}).carrier_modules is None


def test_calling_codes() -> None:
    assert len(CALLING_CODES) == 249
    assert (calling_code("us"), calling_code("GB"), calling_code("CH"), calling_code("ZZ")) == ("1", "44", "41", None)
