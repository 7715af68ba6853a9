"""selection.md §3 step by step, through the §9 scenarios that a pure function can express."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from shared.domain.selection import (
    AccountInfo,
    OnNetInfo,
    PoolChoice,
    RouteResponse,
    choose_pool,
    compile_pool,
    compile_resource,
    matched_number,
    parse_route_request,
    route_steps,
    select_routes,
    select_routes_async,
)
from shared.domain.selection.coerce import clamp_weight, flag, integer, strings, text

RESELLER = "1111aaaa2222bbbb3333cccc4444dddd"
ACCOUNT = "5555eeee6666ffff7777000088889999"
MASTER = "0000ffff0000ffff0000ffff0000ffff"
ACCOUNT_INFO = AccountInfo(account_id=ACCOUNT, tree=(MASTER, RESELLER), realm="a.example.net")
RULE_US = r"^\+1(\d{10})$"

R1: dict[str, Any] = {
    "_id": "r1",
    "name": "R1",
    "weight_cost": 10,
    "rules": [RULE_US],
    "gateways": [{"server": "gw1.example.net"}],
}

# resources.md §3: what the REST API stores for a field the client leaves out.
_RESOURCE_DEFAULTS = {
    "enabled": True,
    "emergency": False,
    "weight_cost": 50,
    "grace_period": 5,
    "flags": [],
    "rules": [],
    "media": {"audio": {"codecs": ["PCMU"]}, "video": {"codecs": []}},
}
_GATEWAY_DEFAULTS = {
    "port": 5060,
    "enabled": True,
    "endpoint_type": "sip",
    "invite_format": "route",
    "force_port": False,
    "channel_selection": "ascending",
    "skype_rr": True,
}


def stored(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The document as PUT through the REST API stores it (§9: resources carry the API's defaults)."""
    result = copy.deepcopy(dict(doc))
    for key, value in _RESOURCE_DEFAULTS.items():
        result.setdefault(key, copy.deepcopy(value))
    for gateway in result["gateways"]:
        for key, value in _GATEWAY_DEFAULTS.items():
            gateway.setdefault(key, value)
    for settings in result.get("classifiers", {}).values():
        settings.setdefault("enabled", True)
    return result


def r1(**changes: Any) -> dict[str, Any]:
    """r1 with top-level fields replaced; `gateway` merges into its only gateway."""
    doc = copy.deepcopy(R1)
    doc["gateways"][0].update(changes.pop("gateway", {}))
    doc.update(changes)
    return doc


def resource(resource_id: str, weight: int, *servers: str, **fields: Any) -> dict[str, Any]:
    return {
        "_id": resource_id,
        "name": resource_id.upper(),
        "weight_cost": weight,
        "rules": [RULE_US],
        "gateways": [{"server": server} for server in servers or (f"{resource_id}.example.net",)],
        **fields,
    }


DEFAULT_BODY: dict[str, Any] = {
    "To-DID": "4158867900",
    "Outbound-Caller-ID-Number": "+14155550100",
    "Outbound-Caller-ID-Name": "Acme",
    "Account-ID": ACCOUNT,
}


def route(
    docs: list[dict[str, Any]],
    body: Mapping[str, Any] | None = None,
    *,
    api: bool = True,
    is_global: bool = True,
    lookup: Callable[[str], OnNetInfo | None] | None = None,
    account: AccountInfo | None = ACCOUNT_INFO,
) -> RouteResponse:
    """Route one request; `body` overrides the §9 default request (a None value removes the key)."""
    merged = {**DEFAULT_BODY, **(body or {})}
    request = parse_route_request({key: value for key, value in merged.items() if value is not None})
    pool = compile_pool([stored(doc) if api else doc for doc in docs], is_global=is_global)
    return select_routes(request, pool, lookup=lookup or (lambda _: None), account=account)


def ep(changes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """§9's default endpoint (r1's), in canonical key order, with `changes` applied."""
    endpoint = {
        "Resource-ID": "r1",
        "Classifier": None,
        "Name": "R1",
        "Global": True,
        "Gateway-Index": 0,
        "Weight": 10,
        "Emergency": False,
        "Route": "sip:4158867900@gw1.example.net",
        "To-DID": "4158867900",
        "Invite-Format": "route",
        "Invite-Parameters": [],
        "Caller-ID-Number": "+14155550100",
        "Caller-ID-Name": "Acme",
        "From-URI": None,
        "Codecs": ["PCMU"],
        "Progress-Timeout": 8,
        "Bypass-Media": False,
        "T38": None,
        "Custom-SIP-Headers": {},
        "SIP-Interface": None,
        "Auth-User": None,
        "Auth-Password": None,
        "Auth-Realm": None,
    }
    unknown = set(changes or {}) - set(endpoint)
    assert not unknown, unknown
    endpoint.update(changes or {})
    return endpoint


def only(response: RouteResponse) -> dict[str, Any]:
    assert response.response_message == "SUCCESS", response
    (endpoint,) = response.endpoints
    return dict(endpoint)


def keys(response: RouteResponse) -> list[tuple[str, int]]:
    return [(endpoint["Resource-ID"], endpoint["Gateway-Index"]) for endpoint in response.endpoints]


def is_no_route(response: RouteResponse, error: str = "no available resources") -> bool:
    return (
        response.response_message == "NO_ROUTE_DESTINATION"
        and response.response_code == "sip:404"
        and response.error_message == error
        and response.endpoints == ()
    )


# §3.1 coercions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [
        (True, False, True),
        ("TRUE", False, True),
        ("False", True, False),
        ("yes", True, True),
        (1, False, False),
    ],
)
def test_flag(value: Any, default: bool, expected: bool) -> None:
    assert flag(value, default) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(15, 15), ("15", 15), ("-5", -5), (True, None), ("1.5", None), (1.0, None), ("abc", None), ("", None)],
)
def test_integer(value: Any, expected: int | None) -> None:
    assert integer(value) == expected


@pytest.mark.parametrize(("value", "expected"), [("x", "x"), ("", None), (7, "7"), (False, None), (None, None)])
def test_text(value: Any, expected: str | None) -> None:
    assert text(value) == expected


def test_strings_keeps_only_string_elements() -> None:
    assert strings(["a", 1, None, "b"]) == ["a", "b"]
    assert strings("a") == []


# Validation-adjacent scenarios (S04, S09, S10) ----------------------------------------------------


def test_s04_video_selects_like_audio() -> None:
    assert route([R1], {"Resource-Type": "video"}).endpoints == route([R1]).endpoints


def test_s09_extra_keys_and_string_booleans_change_nothing() -> None:
    plain = route([R1])
    noisy = route([R1], {"Application-Name": "bridge", "Foo": 1, "Bypass-E164": "false"})
    assert noisy == plain


def test_s10_call_id_echoed_in_success_and_no_route() -> None:
    success = route([R1], {"Call-ID": "c1"}).to_payload()
    no_route = route([R1], {"Call-ID": "c1", "To-DID": "100"}).to_payload()
    assert next(iter(success.items())) == ("Call-ID", "c1")
    assert next(iter(no_route.items())) == ("Call-ID", "c1")


# §3.2 destination, §3.9 rules and the matched number (S11-S20) --------------------------------------


@pytest.mark.parametrize("to_did", ["4158867900", "(415) 886-7900", "1 (415) 886-7900", "+14158867900"])
def test_s11_r1_one_endpoint(to_did: str) -> None:
    response = route([R1], {"To-DID": to_did})
    assert (response.to_did, response.classification) == ("+14158867900", "did_us")
    assert only(response) == ep()


@pytest.mark.parametrize(
    ("gateway", "expected_route", "expected_to_did"),
    [
        ({"port": 5080, "prefix": "+1"}, "sip:+14158867900@gw1.example.net:5080", "+14158867900"),
        ({"port": 5060}, "sip:4158867900@gw1.example.net", "4158867900"),
        ({"port": "5070"}, "sip:4158867900@gw1.example.net:5070", "4158867900"),
        ({"port": 0}, "sip:4158867900@gw1.example.net", "4158867900"),
        ({"port": 70000}, "sip:4158867900@gw1.example.net", "4158867900"),
        ({"suffix": 9, "prefix": ""}, "sip:41588679009@gw1.example.net", "41588679009"),
    ],
)
def test_s12_port_prefix_suffix(gateway: dict[str, Any], expected_route: str, expected_to_did: str) -> None:
    endpoint = only(route([r1(gateway=gateway)], api=False))
    assert (endpoint["Route"], endpoint["To-DID"]) == (expected_route, expected_to_did)


def test_s13_static_route_verbatim() -> None:
    endpoint = only(route([r1(gateway={"route": "sip:carrier@10.1.1.1:5070"})]))
    assert (endpoint["Route"], endpoint["To-DID"]) == ("sip:carrier@10.1.1.1:5070", "4158867900")


@pytest.mark.parametrize(
    ("rule", "matched"),
    [
        (RULE_US, "4158867900"),
        (r"^\+(1)(415)(\d{7})$", "8867900"),
        (r"^\+1(\d{5})(\d{5})$", "67900"),  # equal lengths: the higher group wins
        (r"^\+1415\d{7}$", "+14158867900"),  # no groups: the whole destination (Kazoo: the match)
        ("415", "+14158867900"),
        (r"^\+1(999)?(\d{10})$", "4158867900"),  # a group that took no part is ignored
        (r"^\+1()\d{10}$", "+14158867900"),  # only an empty group took part
        (r"^\+1(\d{3})(?:(x)|\d{7})$", "415"),
    ],
)
def test_s14_s15_matched_number(rule: str, matched: str) -> None:
    (resource,) = compile_pool([r1(rules=[rule])], is_global=True)
    (compiled_rule,) = resource.candidates[0].rules
    match = compiled_rule.search("+14158867900")
    assert match is not None and matched_number(match) == matched
    assert only(route([r1(rules=[rule])]))["To-DID"] == matched


@pytest.mark.parametrize(
    ("rules", "to_did"),
    [
        ([RULE_US, r"^(\+1\d{10})$"], "4158867900"),
        ([r"^(\+1\d{10})$", RULE_US], "+14158867900"),
        ([r"^\+44(\d+)$", RULE_US], "4158867900"),  # a rule that does not match passes to the next
    ],
)
def test_s16_rules_in_document_order(rules: list[str], to_did: str) -> None:
    assert only(route([r1(rules=rules)]))["To-DID"] == to_did


def test_s17_uncompilable_rule_dropped_with_a_warning() -> None:
    doc = r1(rules=[r"^\+1(\d{10}$", RULE_US], cid_rules=["("])
    compiled = compile_resource(stored(doc), is_global=True)
    assert len(compiled.warnings) == 2
    assert "rules" in compiled.warnings[1] and r"^\+1(\d{10}$" in compiled.warnings[1]
    # The dropped cid_rule leaves the list empty, so the candidate passes without a CID check.
    assert only(route([doc], {"Outbound-Caller-ID-Number": "+12125550100"})) == ep({"Caller-ID-Number": "+12125550100"})


@pytest.mark.parametrize("doc", [r1(rules=[]), {k: v for k, v in R1.items() if k != "rules"}])
@pytest.mark.parametrize("api", [True, False])
def test_s18_no_rules_never_match(doc: dict[str, Any], api: bool) -> None:
    response = route([doc], api=api)
    assert is_no_route(response)
    assert (response.to_did, response.classification) == ("+14158867900", "did_us")


def test_s19_bypass_e164() -> None:
    assert is_no_route(route([R1], {"Bypass-E164": True}))
    r2 = resource("r2", 10, rules=[r"^(\d{10})$"])
    response = route([R1, r2], {"Bypass-E164": "TRUE"})
    assert (response.to_did, response.classification) == ("4158867900", "did_us")
    assert keys(response) == [("r2", 0)]
    assert response.endpoints[0]["To-DID"] == "4158867900"


def test_s20_international_with_prefix() -> None:
    r3 = resource("r3", 10, "intl.example.net", rules=[r"^\+([2-9]\d{7,})$"])
    r3["gateways"][0]["prefix"] = "011"
    response = route([r3], {"To-DID": "011442071234567"})
    assert (response.to_did, response.classification) == ("+442071234567", "international")
    assert response.endpoints[0]["Route"] == "sip:011442071234567@intl.example.net"


# §3.11 gateways and §3.12 invite formats (S21, S22, S28, S29) ------------------------------------------


@pytest.mark.parametrize(
    "unusable",
    [
        {"server": "x.example.net", "endpoint_type": "amqp"},
        {"server": "x.example.net", "endpoint_type": "skype"},
        {"port": 5060},
        {"server": "", "route": ""},
        {"endpoint_type": "freetdm", "server": "tdm"},
        "not a gateway",
        {"server": "x.example.net", "enabled": "false"},
    ],
)
def test_s21_unusable_gateways_keep_indexes(unusable: Any) -> None:
    doc = r1(gateways=[unusable, {"server": "gw1.example.net"}])
    assert keys(route([doc], api=False)) == [("r1", 1)]


def test_s21_gateways_not_an_array() -> None:
    assert is_no_route(route([r1(gateways={"server": "gw1.example.net"})], api=False))


@pytest.mark.parametrize(
    ("gateway", "route_", "to_did", "invite_format"),
    [
        ({"invite_format": "username"}, "sip:4158867900@gw1.example.net", "4158867900", "username"),
        ({"invite_format": "username", "username": "u1"}, "sip:u1@gw1.example.net", "4158867900", "username"),
        ({"invite_format": "strip_plus"}, "sip:14158867900@gw1.example.net", "14158867900", "strip_plus"),
        ({"invite_format": "e164"}, "sip:+14158867900@gw1.example.net", "+14158867900", "e164"),
        ({"invite_format": "npan"}, "sip:4158867900@gw1.example.net", "4158867900", "npan"),
        ({"invite_format": "1npan"}, "sip:14158867900@gw1.example.net", "14158867900", "1npan"),
        ({"invite_format": "loopback"}, "sip:4158867900@gw1.example.net", "4158867900", "route"),
        ({"invite_format": None}, "sip:4158867900@gw1.example.net", "4158867900", "route"),
    ],
)
def test_s22_invite_formats(gateway: dict[str, Any], route_: str, to_did: str, invite_format: str) -> None:
    endpoint = only(route([r1(gateway=gateway)]))
    assert (endpoint["Route"], endpoint["To-DID"], endpoint["Invite-Format"]) == (
        route_,
        to_did,
        invite_format,
    )


@pytest.mark.parametrize(
    ("rule", "invite_format", "to_did"),
    [
        (r"^(\+44\d+)$", "npan", "+442071234567"),  # not NANP: M unchanged
        (r"^(\+44\d+)$", "1npan", "+442071234567"),
        (r"^\+(\d+)$", "e164", "+442071234567"),
        (r"^\+(\d+)$", "strip_plus", "442071234567"),
    ],
)
def test_invite_formats_on_non_nanp_numbers(rule: str, invite_format: str, to_did: str) -> None:
    doc = r1(rules=[rule], gateway={"invite_format": invite_format})
    assert only(route([doc], {"To-DID": "+442071234567"}))["To-DID"] == to_did


def test_freetdm_ascending_and_integer_span() -> None:
    doc = r1(gateway={"endpoint_type": "freetdm", "span": 2})
    assert only(route([doc]))["Route"] == "freetdm/2/a/4158867900"


def test_s28_disabled_gateways() -> None:
    doc = r1(gateways=[{"server": "g0"}, {"server": "g1", "enabled": False}, {"server": "g2"}])
    assert keys(route([doc])) == [("r1", 0), ("r1", 2)]
    all_disabled = r1(gateways=[{"server": "g0", "enabled": False}])
    assert keys(route([all_disabled, resource("other", 60)])) == [("other", 0)]


def test_s29_random_gateway_strategy_is_ignored() -> None:
    doc = r1(gateway_strategy="random", gateways=[{"server": "g0"}, {"server": "g1"}, {"server": "g2"}])
    for _ in range(20):
        assert keys(route([doc])) == [("r1", 0), ("r1", 1), ("r1", 2)]


# §3.6 candidates and §3.16 order (S23-S27) ------------------------------------------------------------


def test_s23_weight_then_gateway_index() -> None:
    a = resource("a", 20, "a1", "a2")
    b = resource("b", 10, "b1")
    assert keys(route([a, b])) == [("b", 0), ("a", 0), ("a", 1)]


@pytest.mark.parametrize("body", [{}, {"Flags": ["f"]}])
def test_s24_ties_by_resource_id(body: dict[str, Any]) -> None:
    x2 = resource("x2", 10, flags=["f"])
    x1 = resource("x1", 10, flags=["f"])
    assert keys(route([x2, x1], body)) == [("x1", 0), ("x2", 0)]


def test_order_is_by_code_point_not_locale() -> None:
    docs = [resource(resource_id, 10) for resource_id in ("b", "a", "B", "_", "é")]
    assert [key for key, _ in keys(route(docs))] == ["B", "_", "a", "b", "é"]


@pytest.mark.parametrize(
    ("weight_cost", "expected"),
    [(None, 50), (0, 1), (-5, 1), (250, 100), ("15", 15), ("abc", 50), (True, 50), (100, 100), (1, 1)],
)
def test_s25_weights(weight_cost: Any, expected: int) -> None:
    doc = r1()
    if weight_cost is None:
        del doc["weight_cost"]
    else:
        doc["weight_cost"] = weight_cost
    assert only(route([doc], api=False))["Weight"] == expected
    assert clamp_weight(expected) == expected


def test_s25_missing_weight_through_the_api_is_50() -> None:
    doc = r1()
    del doc["weight_cost"]
    assert only(route([doc]))["Weight"] == 50


def test_s26_variant_weight_is_its_classifiers() -> None:
    c1 = resource("c1", 20, classifiers={"did_us": {"weight_cost": 30}})
    c2 = resource("c2", 10, classifiers={"did_us": {"weight_cost": 40}})
    response = route([c1, c2])
    assert [(e["Resource-ID"], e["Weight"], e["Classifier"]) for e in response.endpoints] == [
        ("c1", 30, "did_us"),
        ("c2", 40, "did_us"),
    ]


def test_variant_weight_falls_back_and_clamps() -> None:
    fallback = resource("f", 20, classifiers={"did_us": {}})
    clamped = resource("g", 20, classifiers={"did_us": {"weight_cost": 0}})
    assert [e["Weight"] for e in route([fallback, clamped]).endpoints] == [1, 20]


@pytest.mark.parametrize("change", [{"enabled": False}, {"enabled": "false"}, {"pvt_deleted": True}])
def test_s27_disabled_or_deleted_resources(change: dict[str, Any]) -> None:
    other = resource("other", 60)
    assert keys(route([r1(**change), other], api=False)) == [("other", 0)]
    assert compile_resource(r1(**change), is_global=True).candidates == ()


# §3.7 flags and §3.10 cid_rules (S30-S35) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["fax"], ["R1"]),
        ([], ["R1", "R2"]),
        (["fax", "t38"], []),
        (["", "fax"], ["R1"]),
        ([""], ["R1", "R2"]),
    ],
)
def test_s30_s33_flags(flags: list[str], expected: list[str]) -> None:
    docs = [resource("R1", 10, flags=["fax", "intl"]), resource("R2", 20, flags=[])]
    response = route(docs, {"Flags": flags})
    assert [key for key, _ in keys(response)] == expected


@pytest.mark.parametrize(("flags", "included"), [([], False), (["premium"], True), ([""], False)])
def test_s31_require_flags(flags: list[str], included: bool) -> None:
    doc = resource("R1", 10, require_flags=True, flags=["premium"])
    assert keys(route([doc], {"Flags": flags})) == ([("R1", 0)] if included else [])


def test_s32_ignore_flags() -> None:
    doc = resource("R1", 10, ignore_flags=True, flags=[])
    assert keys(route([doc], {"Flags": ["anything"]})) == [("R1", 0)]


@pytest.mark.parametrize(
    ("cid", "included"),
    [("+14155550100", True), ("+12125550100", False), ("4155550100", False), (None, False)],
)
def test_s34_cid_rules(cid: str | None, included: bool) -> None:
    response = route([r1(cid_rules=[r"^\+1415"])], {"Outbound-Caller-ID-Number": cid})
    assert response.response_message == ("SUCCESS" if included else "NO_ROUTE_DESTINATION")


def test_s34_cid_rules_ignore_the_emergency_number() -> None:
    body = {"Outbound-Caller-ID-Number": None, "Emergency-Caller-ID-Number": "+14155550911"}
    assert is_no_route(route([r1(cid_rules=[r"^\+1415"])], body))


@pytest.mark.parametrize("cid", ["+12125550100", None])
def test_s35_empty_cid_rules(cid: str | None) -> None:
    assert route([r1(cid_rules=[])], {"Outbound-Caller-ID-Number": cid}).response_message == "SUCCESS"


# §3.6 / §3.8 classifier variants (S37-S41) ------------------------------------------------------------


def test_s37_variants_pre_empt_plain_resources() -> None:
    variant = resource("R1", 50, classifiers={"did_us": {}})
    plain = resource("R2", 1)
    assert only(route([variant, plain])) == ep(
        {
            "Resource-ID": "R1",
            "Name": "R1 - did_us",
            "Classifier": "did_us",
            "Weight": 50,
            "Route": "sip:4158867900@R1.example.net",
        }
    )
    tollfree = only(route([variant, plain], {"To-DID": "8005551234"}))
    assert (tollfree["Resource-ID"], tollfree["To-DID"]) == ("R2", "8005551234")


def test_s38_unknown_classifier_keys_and_empty_classifiers() -> None:
    custom = r1(classifiers={"my_custom": {"regex": r"^\+1"}})
    assert compile_resource(stored(custom), is_global=True).candidates == ()
    assert is_no_route(route([custom]))
    assert only(route([r1(classifiers={})])) == ep()
    assert only(route([r1(classifiers="did_us")], api=False)) == ep({"Codecs": []})


def test_s39_variant_regex() -> None:
    doc = r1(classifiers={"did_us": {"regex": r"^\+1(415\d{7})$"}})
    assert only(route([doc]))["To-DID"] == "4158867900"
    plain = resource("plain", 60)
    assert is_no_route(route([doc, plain], {"To-DID": "2125551234"}))


def test_variant_prefix_and_suffix_replace_each_gateways_own() -> None:
    gateways = [{"server": "g0", "prefix": "9", "suffix": "#"}, {"server": "g1", "prefix": "8"}]
    prefix_only = r1(gateways=gateways, classifiers={"did_us": {"prefix": "+1"}})
    assert [e["To-DID"] for e in route([prefix_only]).endpoints] == ["+14158867900#", "+14158867900"]
    suffix_null = r1(gateways=gateways, classifiers={"did_us": {"suffix": None}})
    assert [e["To-DID"] for e in route([suffix_null], api=False).endpoints] == ["94158867900", "84158867900"]


def test_variant_keeps_the_documents_other_fields() -> None:
    doc = r1(classifiers={"did_us": {}}, cid_rules=[r"^\+1212"], flags=["fax"])
    assert is_no_route(route([doc], {"Flags": ["fax"]}))
    assert route([doc], {"Flags": ["fax"], "Outbound-Caller-ID-Number": "+12125550100"}).endpoints


def test_disabled_variant_removes_only_its_own_carrier() -> None:
    disabled = resource("a", 10, classifiers={"did_us": {"enabled": False}})
    enabled = resource("b", 20, classifiers={"did_us": {}})
    plain = resource("c", 5)
    assert keys(route([disabled, enabled, plain])) == [("b", 0)]
    assert keys(route([disabled, plain])) == [("c", 0)]


def test_s40_flags_filter_before_the_classifier_split() -> None:
    variant = resource("R1", 10, classifiers={"did_us": {}}, require_flags=True)
    plain = resource("R2", 20)
    assert keys(route([variant, plain])) == [("R2", 0)]


@pytest.mark.parametrize(
    ("settings", "emergency"),
    [({"emergency": True}, True), ({}, True), ({"emergency": False}, False), ({"emergency": "false"}, False)],
)
def test_s41_emergency_variants(settings: dict[str, Any], emergency: bool) -> None:
    doc = r1(classifiers={"emergency": settings})
    endpoint = only(route([doc], {"To-DID": "911"}))
    assert (endpoint["Classifier"], endpoint["Emergency"], endpoint["To-DID"]) == (
        "emergency",
        emergency,
        "911",
    )


def test_variant_emergency_otherwise_follows_the_resource() -> None:
    doc = r1(emergency=True, classifiers={"did_us": {}})
    assert only(route([doc]))["Emergency"] is True
    assert only(route([r1(classifiers={"did_us": {}})]))["Emergency"] is False


def test_configured_classifiers_drive_variants_and_classification() -> None:
    classifiers = {"local": {"regex": r"^\+1415(\d{7})$", "emergency": "true"}, "unknown": r"^(.*)$"}
    doc = r1(classifiers={"local": {}, "did_us": {}})
    (compiled,) = compile_pool([doc], is_global=True, classifiers=classifiers)
    request = parse_route_request(DEFAULT_BODY)
    response = select_routes(request, [compiled], classifiers=classifiers)
    assert response.classification == "local"
    assert [(e["Classifier"], e["To-DID"], e["Emergency"]) for e in response.endpoints] == [("local", "8867900", True)]
    other = parse_route_request({"To-DID": "2125551234"})
    assert select_routes(other, [compiled], classifiers={"local": classifiers["local"]}).classification == "unknown"


def test_emergency_from_caller_id_options() -> None:
    doc = r1(caller_id_options={"type": "emergency"})
    assert only(route([doc]))["Emergency"] is True


# §3.14 caller id and emergency (S43, S44) ---------------------------------------------------------------


def test_s43_emergency_without_emergency_caller_id() -> None:
    e911 = {
        "_id": "e911",
        "name": "E911 Carrier",
        "weight_cost": 1,
        "emergency": True,
        "rules": ["^(911)$"],
        "format_from_uri": True,
        "from_uri_realm": "e911.example.net",
        "gateways": [{"server": "e911.example.net"}],
    }
    body = {"To-DID": "911", "Outbound-Caller-ID-Name": "Desk 12"}
    endpoint = only(route([e911], body))
    assert (endpoint["Caller-ID-Number"], endpoint["Caller-ID-Name"], endpoint["From-URI"]) == (
        "+14155550100",
        "Desk 12",
        "sip:+14155550100@e911.example.net",
    )


def test_emergency_caller_id_parts_fall_back_separately() -> None:
    doc = r1(emergency=True, rules=["^(911)$"])
    endpoint = only(route([doc], {"To-DID": "911", "Emergency-Caller-ID-Number": "+14155550911"}))
    assert (endpoint["Caller-ID-Number"], endpoint["Caller-ID-Name"]) == ("+14155550911", "Acme")


def test_no_caller_id_gives_nulls() -> None:
    body = {"Outbound-Caller-ID-Number": None, "Outbound-Caller-ID-Name": ""}
    endpoint = only(route([R1], body))
    assert (endpoint["Caller-ID-Number"], endpoint["Caller-ID-Name"]) == (None, None)


def test_s44_emergency_order_is_not_reversed() -> None:
    docs = [resource(name, weight, emergency=True, rules=["^(911)$"]) for name, weight in (("e2", 2), ("e1", 1))]
    assert keys(route(docs, {"To-DID": "911"})) == [("e1", 0), ("e2", 0)]


# §3.5 pools (S45-S49) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account_id", "hunt", "account", "expected"),
    [
        (ACCOUNT, None, ACCOUNT_INFO, PoolChoice()),
        (None, None, None, PoolChoice()),
        (ACCOUNT, RESELLER, ACCOUNT_INFO, PoolChoice(account_id=RESELLER)),
        (ACCOUNT, MASTER, ACCOUNT_INFO, PoolChoice(account_id=MASTER)),
        (ACCOUNT, ACCOUNT, ACCOUNT_INFO, PoolChoice(account_id=ACCOUNT)),
        (ACCOUNT, "9999000011112222333344445555abcd", ACCOUNT_INFO, PoolChoice(refused=True)),
        (ACCOUNT, RESELLER, None, PoolChoice(refused=True)),  # A's document does not exist
        (None, RESELLER, ACCOUNT_INFO, PoolChoice(refused=True)),  # hunt without Account-ID
        (RESELLER, RESELLER, ACCOUNT_INFO, PoolChoice(refused=True)),  # the account info is not A's
    ],
)
def test_choose_pool(
    account_id: str | None, hunt: str | None, account: AccountInfo | None, expected: PoolChoice
) -> None:
    body = {"To-DID": "1", "Account-ID": account_id, "Hunt-Account-ID": hunt}
    request = parse_route_request({key: value for key, value in body.items() if value is not None})
    assert choose_pool(request, account) == expected
    assert expected.is_global == (hunt is None)


def test_s45_s49_hunt_uses_only_the_given_pool() -> None:
    byoc = resource("byoc", 10)
    response = route([byoc], {"Hunt-Account-ID": RESELLER}, is_global=False)
    assert [(e["Resource-ID"], e["Global"]) for e in response.endpoints] == [("byoc", False)]


def test_s46_hunting_ones_own_account() -> None:
    reseller = AccountInfo(account_id=RESELLER, tree=(MASTER,), realm=None)
    body = {"Account-ID": RESELLER, "Hunt-Account-ID": RESELLER}
    assert keys(route([resource("own", 10)], body, is_global=False, account=reseller)) == [("own", 0)]


@pytest.mark.parametrize(
    ("body", "account"),
    [
        ({"Hunt-Account-ID": "9999000011112222333344445555abcd"}, ACCOUNT_INFO),
        ({"Hunt-Account-ID": RESELLER}, None),
        ({"Hunt-Account-ID": RESELLER, "Account-ID": None}, ACCOUNT_INFO),
    ],
)
def test_s47_hunt_refused_without_fallback(body: dict[str, Any], account: AccountInfo | None) -> None:
    response = route([R1], body, account=account)
    assert is_no_route(response, "hunt account not allowed")
    assert (response.to_did, response.classification) == ("+14158867900", "did_us")


def test_s47_refusal_skips_short_dial_correction() -> None:
    body = {"To-DID": "8867900", "Hunt-Account-ID": RESELLER, "Outbound-Caller-ID-Number": "+14158867901"}
    response = route([R1], body, account=None)
    assert is_no_route(response, "hunt account not allowed")
    assert response.to_did == "8867900"


def test_s48_empty_hunted_pool() -> None:
    assert is_no_route(route([], {"Hunt-Account-ID": RESELLER}, is_global=False))


# §3.4 on-net (S50-S52) -------------------------------------------------------------------------------


def lookup_of(number: str, *, force_outbound: bool = False) -> Callable[[str], OnNetInfo | None]:
    answers = {"+14158867900": OnNetInfo(number=number, account_id=RESELLER, force_outbound=force_outbound)}
    return answers.get


def test_s50_on_net() -> None:
    response = route([R1], lookup=lookup_of("+14158867900"))
    assert response.to_payload() == {
        "Response-Message": "ON_NET",
        "Response-Code": "sip:200",
        "To-DID": "+14158867900",
        "Classification": "did_us",
        "Number-Account-ID": RESELLER,
        "Endpoints": [],
    }


@pytest.mark.parametrize(
    ("body", "force_outbound"),
    [({"Force-Outbound": True}, False), ({"Force-Outbound": "true"}, False), ({}, True)],
)
def test_s51_forced_outbound(body: dict[str, Any], force_outbound: bool) -> None:
    response = route([R1], body, lookup=lookup_of("+14158867900", force_outbound=force_outbound))
    assert only(response) == ep()


def test_s51_hunt_is_never_on_net_and_uses_the_lookups_number() -> None:
    """With Bypass-E164 the lookup (which normalises) finds the number; D becomes its E.164 form."""
    answers = {"4158867900": OnNetInfo(number="+14158867900", account_id=RESELLER, force_outbound=False)}
    body = {"Hunt-Account-ID": RESELLER, "Bypass-E164": True}
    response = route([resource("byoc", 10)], body, is_global=False, lookup=answers.get)
    assert (response.response_message, response.to_did) == ("SUCCESS", "+14158867900")


def test_s52_lookup_errors_mean_off_net() -> None:
    assert OnNetInfo.from_lookup_reply({"Number": "+14158867900", "Error": "unassigned"}) is None
    assert only(route([R1])) == ep()


def test_on_net_info_from_a_lookup_reply() -> None:
    reply = {
        "Number": "+14158867900",
        "Account-ID": RESELLER,
        "State": "in_service",
        "Force-Outbound": "true",
    }
    assert OnNetInfo.from_lookup_reply(reply) == OnNetInfo("+14158867900", RESELLER, True)


def test_account_info_from_a_document() -> None:
    doc = {"_id": ACCOUNT, "pvt_tree": [MASTER, RESELLER], "realm": "a.example.net", "name": "A"}
    assert AccountInfo.from_doc(doc) == ACCOUNT_INFO


# §3.13 INVITE parameters (S53, S55) ------------------------------------------------------------------

KAZOO_DYNAMIC = [
    "custom_channel_vars.tns_cic",
    {"key": "custom_channel_vars.account_id", "tag": "account_id"},
    {"key": "custom_sip_headers.x_auth_ip", "tag": "source_ip"},
    {"key": "zone", "tag": "zone"},
]


@pytest.mark.parametrize(
    ("static", "dynamic", "body", "expected"),
    [
        (
            ["npid"],
            KAZOO_DYNAMIC,
            {"Requestor-Custom-Channel-Vars": {"TNS-CIC": "cic=2002"}},
            ["npid", "zone=local", "cic=2002"],
        ),
        (
            ["npid"],
            KAZOO_DYNAMIC,
            {"Requestor-Custom-Channel-Vars": {"Account-ID": "12345"}},
            ["npid", "zone=local", "account_id=12345"],
        ),
        (
            ["test"],
            KAZOO_DYNAMIC,
            {"Requestor-Custom-SIP-Headers": {"X-Auth-IP": "127.0.0.1"}},
            ["test", "zone=local", "source_ip=127.0.0.1"],
        ),
        (
            ["npid"],
            [{"key": "custom_sip_headers.x_auth_ip", "tag": "somethingelse"}],
            {"Requestor-Custom-SIP-Headers": {"X-Auth-IP": "127.0.0.1"}},
            ["npid", "somethingelse=127.0.0.1"],
        ),
        (
            ["npid"],
            [{"key": "custom_sip_headers.x_auth_ip", "tag": "somethingelse", "separator": "&"}],
            {"Requestor-Custom-SIP-Headers": {"X-Auth-IP": "127.0.0.1"}},
            ["npid", "somethingelse&127.0.0.1"],
        ),
        (
            ["s"],
            [{"key": "custom_channel_vars.x"}, 7, "custom_channel_vars.n"],
            {"Requestor-Custom-Channel-Vars": {"N": 42}},
            ["s", "42"],
        ),
        (
            [],
            [{"key": "Custom-Channel-Vars.Flag", "tag": "f", "seperator": ":"}, "zone"],
            {"Requestor-Custom-Channel-Vars": {"flag": True}},
            ["local", "f:true"],
        ),
        (
            ["", "a", 3],
            [
                "custom_channel_vars.empty",
                "custom_channel_vars.float",
                "other.key",
                {"key": "zone", "tag": ""},
            ],
            {"Requestor-Custom-Channel-Vars": {"Empty": "", "Float": 1.5}},
            ["a"],
        ),
    ],
)
def test_s53_s55_invite_parameters(
    static: list[Any], dynamic: list[Any], body: dict[str, Any], expected: list[str]
) -> None:
    doc = r1(gateway={"invite_parameters": {"static": static, "dynamic": dynamic}})
    assert only(route([doc], body))["Invite-Parameters"] == expected


# §3.15 T.38 (S56) -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("carrier", "caller", "t38"),
    [
        (True, True, {"Enable-T38-Fax": True, "Enable-T38-Passthrough": True}),
        (True, False, {"Enable-T38-Fax": True, "Enable-T38-Fax-Request": True, "Enable-T38-Gateway": "self"}),
        (False, True, {"Enable-T38-Fax": True, "Enable-T38-Fax-Request": True, "Enable-T38-Gateway": "peer"}),
        (False, False, {"Enable-T38-Fax": True, "Enable-T38-Passthrough": True}),
    ],
)
def test_s56_t38(carrier: bool, caller: bool, t38: dict[str, Any]) -> None:
    doc = r1(flags=["fax"], gateway={"media": {"fax_option": carrier}})
    endpoint = only(route([doc], {"Flags": ["fax"], "Fax-T38-Enabled": caller}))
    assert json.dumps(endpoint["T38"]) == json.dumps(t38)
    assert only(route([doc], {"Fax-T38-Enabled": caller}))["T38"] is None


def test_t38_carrier_setting_falls_back_to_the_resource() -> None:
    doc = r1(flags=["fax"], media={"fax_option": "true"})
    endpoint = only(route([doc], {"Flags": ["fax"]}))
    assert endpoint["T38"] == {
        "Enable-T38-Fax": True,
        "Enable-T38-Fax-Request": True,
        "Enable-T38-Gateway": "self",
    }


# §3.14 From-URI (S57) -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource_fields", "gateway", "body", "from_uri"),
    [
        (
            {},
            {"format_from_uri": True, "from_uri_realm": "f.example.net", "realm": "carrier.net"},
            {},
            "sip:+14155550100@f.example.net",
        ),
        (
            {"from_uri_realm": "r.example.net"},
            {"format_from_uri": True, "realm": "carrier.net"},
            {},
            "sip:+14155550100@r.example.net",
        ),
        (
            {},
            {"format_from_uri": True, "from_account_realm": True, "realm": "carrier.net"},
            {},
            "sip:+14155550100@a.example.net",
        ),
        ({"from_account_realm": True}, {"format_from_uri": True}, {}, "sip:+14155550100@a.example.net"),
        (
            {"from_account_realm": True},
            {"format_from_uri": True, "realm": "carrier.net"},
            {"Account-ID": None},
            "sip:+14155550100@carrier.net",
        ),
        ({}, {"format_from_uri": True, "realm": "carrier.net"}, {}, "sip:+14155550100@carrier.net"),
        ({"format_from_uri": True}, {"realm": "carrier.net"}, {}, "sip:+14155550100@carrier.net"),
        ({"format_from_uri": True}, {"format_from_uri": False, "realm": "carrier.net"}, {}, None),
        ({}, {"format_from_uri": True}, {}, None),
        ({}, {"format_from_uri": True, "realm": "carrier.net"}, {"Outbound-Caller-ID-Number": None}, None),
        ({}, {"realm": "carrier.net", "from_uri_realm": "f.example.net"}, {}, None),
    ],
)
def test_s57_from_uri(
    resource_fields: dict[str, Any], gateway: dict[str, Any], body: dict[str, Any], from_uri: str | None
) -> None:
    doc = r1(gateway=gateway, **resource_fields)
    assert only(route([doc], body))["From-URI"] == from_uri


# §3.11 headers, codecs, timeouts, media, auth (S58-S60) -----------------------------------------------


def test_s58_custom_sip_headers() -> None:
    doc = r1(
        custom_sip_headers={"X-R": "r", "X-A": "res"},
        gateway={"custom_sip_headers": {"out": {"X-A": "1"}, "X-A": "0", "X-B": "2", "in": {"X-I": "i"}}},
    )
    body = {"Custom-SIP-Headers": {"X-B": "req", "Diversions": ["<sip:1@x>"]}}
    headers = only(route([doc], body))["Custom-SIP-Headers"]
    assert json.dumps(headers) == json.dumps({"X-A": "1", "X-B": "req", "X-R": "r"})


def test_headers_sorted_by_code_point_and_not_shared_between_endpoints() -> None:
    doc = r1(gateways=[{"server": "g0", "custom_sip_headers": {"b": "1", "B": "2", "a": "3"}}, {"server": "g1"}])
    first, second = route([doc]).endpoints
    assert list(first["Custom-SIP-Headers"]) == ["B", "a", "b"]
    first["Custom-SIP-Headers"]["X"] = "mutated"
    assert "X" not in route([doc]).endpoints[0]["Custom-SIP-Headers"]
    assert second["Custom-SIP-Headers"] == {}


@pytest.mark.parametrize(
    ("media", "gateway", "codecs"),
    [
        (None, {"codecs": ["G729"]}, ["G729"]),
        ({"audio": {"codecs": ["PCMU"]}, "video": {"codecs": ["H264"]}}, {}, ["PCMU", "H264"]),
        ({"audio": {"codecs": ["PCMU"]}, "video": {"codecs": ["H264"]}}, {"codecs": []}, ["PCMU", "H264"]),
        ({}, {}, []),
        ({"audio": "PCMU"}, {}, []),
    ],
)
def test_s59_codecs(media: dict[str, Any] | None, gateway: dict[str, Any], codecs: list[str]) -> None:
    doc = r1(gateway=gateway)
    if media is not None:
        doc["media"] = media
    assert only(route([doc]))["Codecs"] == codecs


@pytest.mark.parametrize(
    ("gateway", "media", "seconds"),
    [
        ({"progress_timeout": "6"}, {}, 6),
        ({"progress_timeout": 0}, {"progress_timeout": 12}, 12),
        ({}, {}, 8),
        ({"progress_timeout": "x"}, {"progress_timeout": "0"}, 8),
    ],
)
def test_s60_progress_timeout(gateway: dict[str, Any], media: dict[str, Any], seconds: int) -> None:
    assert only(route([r1(gateway=gateway, media=media)]))["Progress-Timeout"] == seconds


@pytest.mark.parametrize(
    ("media", "gateway", "bypass"),
    [
        ({}, {}, False),
        ({"bypass_media": True}, {}, True),
        ({"bypass_media": "auto"}, {}, False),
        ({"bypass_media": True}, {"bypass_media": "false"}, False),
        ({}, {"bypass_media": True}, True),
    ],
)
def test_bypass_media(media: dict[str, Any], gateway: dict[str, Any], bypass: bool) -> None:
    assert only(route([r1(gateway=gateway, media=media)]))["Bypass-Media"] is bypass


def test_auth_and_interface_fields() -> None:
    gateway = {"username": "u", "password": "", "realm": "b.example.net", "custom_sip_interface": "external"}
    endpoint = only(route([r1(gateway=gateway)]))
    assert [endpoint[key] for key in ("SIP-Interface", "Auth-User", "Auth-Password", "Auth-Realm")] == [
        "external",
        "u",
        None,
        "b.example.net",
    ]


# §3.17 short-dial correction and §3.18 (S62-S65) --------------------------------------------------------

CARRIER_B = resource("carrier-b", 10, "b.example.net")


def test_s62_no_route() -> None:
    response = route([R1], {"To-DID": "+442071234567"})
    assert is_no_route(response)
    assert (response.to_did, response.classification) == ("+442071234567", "international")


def test_s64_short_dial_length_out_of_range() -> None:
    response = route([R1], {"To-DID": "100", "Outbound-Caller-ID-Number": "+14158867901"})
    assert is_no_route(response)
    assert (response.to_did, response.classification) == ("100", "unknown")


@pytest.mark.parametrize(
    "body",
    [
        {"Resource-Type": "originate"},
        {"Outbound-Caller-ID-Number": None, "Outbound-Caller-ID-Name": None},
        {"Outbound-Caller-ID-Number": ""},
    ],
)
def test_s65_no_correction(body: dict[str, Any]) -> None:
    merged = {"To-DID": "8867900", "Outbound-Caller-ID-Number": "+14158867901", **body}
    response = route([CARRIER_B], merged)
    assert is_no_route(response)
    assert response.to_did == "8867900"


def test_short_dial_uses_the_emergency_number_without_an_outbound_one() -> None:
    body = {
        "To-DID": "8867900",
        "Outbound-Caller-ID-Number": None,
        "Emergency-Caller-ID-Number": "14158867901",
    }
    response = route([CARRIER_B], body)
    assert (response.response_message, response.to_did) == ("SUCCESS", "+14158867900")


def test_short_dial_correction_happens_once_and_reports_the_original() -> None:
    # D' = +14158867900 matches nothing either; no second correction, the reply is for D.
    response = route(
        [resource("uk", 10, rules=[r"^\+44"])],
        {"To-DID": "8867900", "Outbound-Caller-ID-Number": "+14158867901"},
    )
    assert is_no_route(response)
    assert (response.to_did, response.classification) == ("8867900", "unknown")


def test_short_dial_correction_may_end_on_net() -> None:
    seen: list[str] = []

    def lookup(number: str) -> OnNetInfo | None:
        seen.append(number)
        return OnNetInfo(number, RESELLER, False) if number == "+14158867900" else None

    response = route([CARRIER_B], {"To-DID": "8867900", "Outbound-Caller-ID-Number": "+14158867901"}, lookup=lookup)
    assert seen == ["8867900", "+14158867900"]
    assert (response.response_message, response.to_did, response.number_account_id) == (
        "ON_NET",
        "+14158867900",
        RESELLER,
    )


def test_correction_equal_to_d_is_skipped() -> None:
    # N = 442071234567, C = 00442071234567: L = 2 and normalise("00" + N) is D itself.
    body = {"To-DID": "+442071234567", "Outbound-Caller-ID-Number": "00442071234567"}
    steps = route_steps(parse_route_request(body), compile_pool([R1], is_global=True))
    assert next(steps) == "+442071234567"
    with pytest.raises(StopIteration) as finished:
        steps.send(None)
    assert is_no_route(finished.value.value)


def test_route_steps_yields_each_lookup_then_returns() -> None:
    request = parse_route_request({"To-DID": "8867900", "Outbound-Caller-ID-Number": "+14158867901"})
    steps = route_steps(request, compile_pool([CARRIER_B], is_global=True))
    assert next(steps) == "8867900"
    assert steps.send(None) == "+14158867900"
    with pytest.raises(StopIteration) as finished:
        steps.send(None)
    assert finished.value.value.response_message == "SUCCESS"


def test_async_driver_gives_the_same_reply() -> None:
    request = parse_route_request({**DEFAULT_BODY, "To-DID": "8867900", "Outbound-Caller-ID-Number": "+14158867901"})
    pool = compile_pool([CARRIER_B], is_global=True)
    asked: list[str] = []

    async def lookup(number: str) -> OnNetInfo | None:
        asked.append(number)
        return None

    response = asyncio.run(select_routes_async(request, pool, lookup=lookup, account=ACCOUNT_INFO))
    assert response == select_routes(request, pool, account=ACCOUNT_INFO)
    assert asked == ["8867900", "+14158867900"]


def test_select_routes_is_deterministic() -> None:
    docs = [resource(f"r{index}", index % 3 + 1, "a", "b") for index in range(12)]
    first = route(docs)
    assert all(route(list(reversed(docs))) == first for _ in range(3))
    assert len({(e["Resource-ID"], e["Gateway-Index"]) for e in first.endpoints}) == 24
