"""The route_req / route_resp schemas (selection.md §1-§2), request parsing, and the CLI renderings (§6)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from shared.bus.envelope import validate_message
from shared.domain.selection import (
    AccountInfo,
    OnNetInfo,
    RouteRequest,
    RouteResponse,
    canonical_json,
    compile_pool,
    endpoint_lines,
    format_endpoints_table,
    parse_route_request,
    select_routes,
    summary_line,
)

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas" / "amqp"
ROUTE_REQ = json.loads((SCHEMAS / "route_req.json").read_text())
ROUTE_RESP = json.loads((SCHEMAS / "route_resp.json").read_text())
ACCOUNT = "5555eeee6666ffff7777000088889999"

# §1's example request.
SPEC_REQUEST = {
    "App-Name": "callctl",
    "App-Version": "1.2.0",
    "Event-Category": "resource",
    "Event-Name": "route_req",
    "Msg-ID": "3f1d2c4b5a69788776655443322110aa",
    "Server-ID": "callctl@pbx1-311-0a1b2c3d",
    "Call-ID": "c1@pbx1",
    "To-DID": "4158867900",
    "Resource-Type": "audio",
    "Account-ID": ACCOUNT,
    "Outbound-Caller-ID-Number": "+14155550100",
    "Outbound-Caller-ID-Name": "Acme",
}


def errors_of(body: dict[str, Any]) -> dict[str, str]:
    """bus.md §6's `Errors` map, from the bus's own validator (which coerces "true"/"false" first)."""
    return validate_message(body, "route_req")


def test_schemas_are_valid() -> None:
    jsonschema.Draft7Validator.check_schema(ROUTE_REQ)
    jsonschema.Draft7Validator.check_schema(ROUTE_RESP)


def test_spec_request_is_valid() -> None:
    assert errors_of(SPEC_REQUEST) == {}


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"To-DID": None}, {"To-DID": "required"}),  # S01
        ({"To-DID": ""}, {"To-DID": "must be 1 to 64 characters"}),  # S02
        ({"To-DID": "1" * 65}, {"To-DID": "must be 1 to 64 characters"}),
        ({"To-DID": 4158867900}, {"To-DID": "must be a string"}),
        ({"Flags": "fax"}, {"Flags": "must be an array of strings"}),  # S03
        ({"Flags": ["fax", 1]}, {"Flags": "must be an array of strings"}),
        ({"Resource-Type": "sms"}, {"Resource-Type": "must be one of: audio, video, originate"}),  # S04
        ({"Account-ID": "ACME"}, {"Account-ID": "must be 32 lowercase hex characters"}),  # S05
        ({"Hunt-Account-ID": ACCOUNT.upper()}, {"Hunt-Account-ID": "must be 32 lowercase hex characters"}),
        ({"Bypass-E164": "yes"}, {"Bypass-E164": "must be a boolean"}),
        ({"Force-Outbound": 1}, {"Force-Outbound": "must be a boolean"}),
        ({"Custom-SIP-Headers": []}, {"Custom-SIP-Headers": "must be an object"}),
        ({"Outbound-Caller-ID-Number": 14155550100}, {"Outbound-Caller-ID-Number": "must be a string"}),
        (
            {"Call-ID": None, "To-DID": None, "Flags": [None]},
            {"To-DID": "required", "Flags": "must be an array of strings"},
        ),
    ],
)
def test_invalid_requests(changes: dict[str, Any], errors: dict[str, str]) -> None:
    body = {**SPEC_REQUEST, **changes}
    body = {key: value for key, value in body.items() if value is not None}
    assert errors_of(body) == errors


@pytest.mark.parametrize(
    "changes",
    [
        {"Resource-Type": "video"},
        {"Resource-Type": "originate"},
        {"Application-Name": "bridge", "Foo": 1, "Bypass-E164": "false"},  # S09
        {"Bypass-E164": "TRUE", "Fax-T38-Enabled": True, "Force-Outbound": "False"},
        {"Flags": [], "Custom-SIP-Headers": {"X-A": "1", "Diversions": ["<sip:1@x>"]}},
        {"Denied-Call-Restrictions": {"did_us": {"action": "deny"}}},
        {"To-DID": "1" * 64},
    ],
)
def test_valid_requests(changes: dict[str, Any]) -> None:
    assert errors_of({**SPEC_REQUEST, **changes}) == {}


def test_parse_defaults() -> None:
    assert parse_route_request({"To-DID": "911"}) == RouteRequest(to_did="911")


def test_parse_every_field() -> None:
    body = {
        **SPEC_REQUEST,
        "Resource-Type": "originate",
        "Hunt-Account-ID": "1111aaaa2222bbbb3333cccc4444dddd",
        "Flags": ["", "fax", "intl"],
        "Bypass-E164": "TRUE",
        "Emergency-Caller-ID-Number": "+14155550911",
        "Emergency-Caller-ID-Name": "",
        "Custom-SIP-Headers": {"X-A": "1", "Diversions": ["<sip:1@x>"], "X-N": 2},
        "Requestor-Custom-Channel-Vars": {"Pass-Through": "p", "Account-ID": "XXXX"},
        "Requestor-Custom-SIP-Headers": {"X-Auth-IP": "127.0.0.1"},
        "Fax-T38-Enabled": "true",
        "Force-Outbound": True,
        "Denied-Call-Restrictions": {"did_us": {"action": "deny"}, "toll_us": {"action": "inherit"}, "x": "deny"},
    }
    request = parse_route_request(body)
    assert request == RouteRequest(
        to_did="4158867900",
        resource_type="originate",
        account_id=ACCOUNT,
        hunt_account_id="1111aaaa2222bbbb3333cccc4444dddd",
        flags=("fax", "intl"),
        bypass_e164=True,
        outbound_cid_number="+14155550100",
        outbound_cid_name="Acme",
        emergency_cid_number="+14155550911",
        emergency_cid_name=None,
        custom_sip_headers={"X-A": "1"},
        channel_vars={"pass_through": "p", "account_id": "XXXX"},
        sip_headers={"x_auth_ip": "127.0.0.1"},
        fax_t38_enabled=True,
        force_outbound=True,
        denied_classes=frozenset({"did_us"}),
        call_id="c1@pbx1",
    )


def test_parse_is_lenient_about_wrong_types_but_needs_to_did() -> None:
    request = parse_route_request({"To-DID": "1", "Resource-Type": "sms", "Flags": "fax", "Bypass-E164": "yes"})
    assert (request.resource_type, request.flags, request.bypass_e164) == ("audio", (), False)
    for body in ({}, {"To-DID": ""}, {"To-DID": 1}):
        with pytest.raises(ValueError, match="To-DID"):
            parse_route_request(body)


# The reply schema against real replies ----------------------------------------------------------------

CARRIER = {
    "_id": "carrier-b",
    "name": "Carrier B",
    "weight_cost": 10,
    "rules": [r"^\+1(\d{10})$"],
    "gateways": [{"server": "b.example.net", "media": {"fax_option": True}}],
}


def reply(body: dict[str, Any], **options: Any) -> RouteResponse:
    pool = compile_pool([CARRIER], is_global=True)
    return select_routes(parse_route_request({**SPEC_REQUEST, **body}), pool, **options)


@pytest.mark.parametrize(
    ("body", "options"),
    [
        ({}, {}),
        ({"Flags": ["fax"]}, {}),
        ({"To-DID": "100"}, {}),
        ({"Hunt-Account-ID": "1111aaaa2222bbbb3333cccc4444dddd"}, {"account": None}),
        ({}, {"lookup": lambda number: OnNetInfo(number, ACCOUNT, False)}),
    ],
)
def test_replies_match_the_reply_schema(body: dict[str, Any], options: dict[str, Any]) -> None:
    jsonschema.Draft7Validator(ROUTE_RESP).validate(reply(body, **options).to_payload())


@pytest.mark.parametrize(
    "broken",
    [
        {
            "Response-Message": "SUCCESS",
            "Response-Code": "sip:200",
            "To-DID": "1",
            "Classification": "u",
            "Endpoints": [],
        },
        {
            "Response-Message": "ON_NET",
            "Response-Code": "sip:200",
            "To-DID": "1",
            "Classification": "u",
            "Endpoints": [],
        },
        {
            "Response-Message": "NO_ROUTE_DESTINATION",
            "Response-Code": "sip:200",
            "Error-Message": "no available resources",
            "To-DID": "1",
            "Classification": "u",
            "Endpoints": [],
        },
    ],
)
def test_reply_schema_rejects_inconsistent_replies(broken: dict[str, Any]) -> None:
    assert not jsonschema.Draft7Validator(ROUTE_RESP).is_valid(broken)


def test_reply_schema_requires_every_endpoint_key() -> None:
    payload = reply({}).to_payload()
    del payload["Endpoints"][0]["SIP-Interface"]
    assert not jsonschema.Draft7Validator(ROUTE_RESP).is_valid(payload)


# §6 renderings ------------------------------------------------------------------------------------------


def test_summary_lines() -> None:
    no_route = reply({"To-DID": "100", "Outbound-Caller-ID-Number": None})
    assert summary_line(no_route) == "NO_ROUTE_DESTINATION 100 unknown no available resources"  # S76
    on_net = reply({}, lookup=lambda number: OnNetInfo(number, ACCOUNT, False))
    assert summary_line(on_net.to_payload()) == f"ON_NET +14158867900 did_us {ACCOUNT}"
    assert summary_line(reply({})) == "SUCCESS +14158867900 did_us"


def test_endpoint_lines_are_canonical_and_equal_for_objects_and_payloads() -> None:
    response = reply({})
    (line,) = endpoint_lines(response)
    assert line == canonical_json(response.endpoints[0])
    assert line.startswith('{"Resource-ID":"carrier-b","Classifier":null,"Name":"Carrier B","Global":true,')
    assert endpoint_lines(json.loads(json.dumps(response.to_payload()))) == [line]
    assert endpoint_lines(reply({"To-DID": "100"})) == []
    assert canonical_json({"Name": "Café"}) == '{"Name":"Café"}'


def test_endpoints_table() -> None:
    account = AccountInfo(ACCOUNT, (), None)
    table = format_endpoints_table(reply({}, account=account))
    lines = table.splitlines()
    assert lines[0] == "SUCCESS +14158867900 did_us"
    assert lines[1].split() == [
        "Weight",
        "Resource",
        "Gw",
        "Class",
        "Route",
        "To-DID",
        "Format",
        "Caller-ID",
        "Emergency",
    ]
    assert lines[2].split() == [
        "10",
        "carrier-b",
        "0",
        "-",
        "sip:4158867900@b.example.net",
        "4158867900",
        "route",
        "+14155550100",
        "no",
    ]
    assert lines[1].index("Route") == lines[2].index("sip:")
    assert format_endpoints_table(reply({"To-DID": "100"})) == "NO_ROUTE_DESTINATION 100 unknown no available resources"
