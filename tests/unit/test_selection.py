"""selection.md §4: every worked example, compared byte for byte with the spec's canonical lines."""

# The example lines are the spec's, verbatim, so they stay on one line each.
# ruff: noqa: E501

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.domain.selection import (
    AccountInfo,
    RouteResponse,
    compile_pool,
    endpoint_lines,
    parse_route_request,
    select_routes,
)

# selection.md §4 documents, verbatim (one JSON text per resource id).
EXAMPLE_DOCS: dict[str, str] = {
    "carrier-a": (
        r'{"_id":"carrier-a","name":"Carrier A","weight_cost":20,"rules":["^\\+1(\\d{10})$"],"media":{"audio":{"codecs":["PCMU","PCMA"]}},"gateways":[{"server":"a1.example.net"},{"server":"a2.example.net","port":5080,"prefix":"+1"}]}'
    ),
    "carrier-b": (
        r'{"_id":"carrier-b","name":"Carrier B","weight_cost":10,"rules":["^\\+1(\\d{10})$"],"media":{"audio":{"codecs":["PCMU"]},"video":{"codecs":[]}},"gateways":[{"server":"b.example.net","username":"u","password":"p","realm":"b.example.net","progress_timeout":"6"}]}'
    ),
    "seed-carrier": (
        r'{"_id":"seed-carrier","name":"Seed Carrier","weight_cost":50,"rules":["^(\\+1\\d{10})$"],"media":{"audio":{"codecs":["PCMU"]},"video":{"codecs":[]}},"gateways":[{"server":"10.26.0.88","invite_parameters":{"dynamic":["custom_channel_vars.pass-through",{"tag":"id","key":"custom_channel_vars.account_id"}],"static":["npid"]}}]}'
    ),
    "carrier-c": (
        r'{"_id":"carrier-c","name":"CarrierC","weight_cost":30,"classifiers":{"did_us":{"prefix":"+1","weight_cost":30},"tollfree_us":{"weight_cost":5},"international":{"enabled":false}},"media":{"audio":{"codecs":["PCMU"]},"video":{"codecs":[]}},"gateways":[{"server":"c.example.net","custom_sip_headers":{"in":{"X-In":"1"},"out":{"X-Out":"bar","X-Flat":"out"},"X-Flat":"flat","X-Other":"2"}}]}'
    ),
    "carrier-d": (
        r'{"_id":"carrier-d","name":"CarrierD","weight_cost":40,"rules":["^\\+(\\d+)$"],"media":{"audio":{"codecs":["PCMU"]},"video":{"codecs":[]}},"gateways":[{"server":"d.example.net"}]}'
    ),
    "fax-1": (
        r'{"_id":"fax-1","name":"Fax One","weight_cost":10,"flags":["fax"],"rules":["^\\+1(\\d{10})$"],"media":{"audio":{"codecs":["PCMU"]},"video":{"codecs":[]}},"gateways":[{"server":"fax1.example.net","media":{"fax_option":true}}]}'
    ),
    "premium": (
        r'{"_id":"premium","name":"Premium","weight_cost":10,"flags":["fax","premium"],"require_flags":true,"rules":["^\\+1(\\d{10})$"],"media":{"audio":{"codecs":["PCMU"]},"video":{"codecs":[]}},"gateways":[{"server":"premium.example.net"}]}'
    ),
    "any": (
        r'{"_id":"any","name":"Any","weight_cost":90,"ignore_flags":true,"rules":["^\\+1(\\d{10})$"],"media":{"fax_option":true},"gateways":[{"server":"any.example.net"}]}'
    ),
    "plain": (
        r'{"_id":"plain","name":"Plain","weight_cost":5,"rules":["^\\+1(\\d{10})$"],"media":{"audio":{"codecs":["PCMU"]},"video":{"codecs":[]}},"gateways":[{"server":"plain.example.net"}]}'
    ),
    "cid-limited": (
        r'{"_id":"cid-limited","name":"CID Limited","weight_cost":1,"flags":["fax"],"cid_rules":["^\\+1415"],"rules":["^\\+1(\\d{10})$"],"media":{"audio":{"codecs":["PCMU"]},"video":{"codecs":[]}},"gateways":[{"server":"cid.example.net"}]}'
    ),
    "e911": (
        r'{"_id":"e911","name":"E911 Carrier","weight_cost":1,"emergency":true,"rules":["^(911)$"],"format_from_uri":true,"from_uri_realm":"e911.example.net","media":{"audio":{"codecs":["PCMU"]},"video":{"codecs":[]}},"gateways":[{"server":"e911.example.net"}]}'
    ),
    "mixed": (
        r'{"_id":"mixed","name":"Mixed","weight_cost":5,"rules":["^(911)$"],"media":{"audio":{"codecs":["PCMU"]},"video":{"codecs":[]}},"gateways":[{"server":"g1.example.net","emergency":true},{"server":"g2.example.net"}]}'
    ),
    "byoc": (
        r'{"_id":"byoc","name":"Reseller BYOC","weight_cost":10,"rules":["^\\+1(\\d{10})$"],"media":{"audio":{"codecs":["PCMU"]},"video":{"codecs":[]}},"gateways":[{"server":"sbc.reseller.example","format_from_uri":true,"realm":"reseller.example","username":"r1","password":"s3cret"}]}'
    ),
    "formats": (
        r'{"_id":"formats","name":"Formats","weight_cost":50,"rules":["^\\+1(\\d{10})$"],"media":{"audio":{"codecs":["PCMU"]},"video":{"codecs":[]}},"gateways":[{"server":"gw.example.net"},{"server":"gw.example.net","invite_format":"e164"},{"server":"gw.example.net","invite_format":"npan","prefix":"9"},{"server":"gw.example.net","invite_format":"1npan","suffix":"#"},{"server":"gw.example.net","invite_format":"username","username":"trunk01"},{"server":"gw5.example.net","enabled":false},{"server":"tdm.local","endpoint_type":"freetdm","span":"1","channel_selection":"descending"},{"server":"gw.example.net","route":"sip:static@10.1.1.1:5070","invite_format":"e164"}]}'
    ),
}

# selection.md §4 endpoints, verbatim, in reply order.
EXAMPLE_1: list[str] = [
    r'{"Resource-ID":"carrier-b","Classifier":null,"Name":"Carrier B","Global":true,"Gateway-Index":0,"Weight":10,"Emergency":false,"Route":"sip:4158867900@b.example.net","To-DID":"4158867900","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":6,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":"u","Auth-Password":"p","Auth-Realm":"b.example.net"}',
    r'{"Resource-ID":"carrier-a","Classifier":null,"Name":"Carrier A","Global":true,"Gateway-Index":0,"Weight":20,"Emergency":false,"Route":"sip:4158867900@a1.example.net","To-DID":"4158867900","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme","From-URI":null,"Codecs":["PCMU","PCMA"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
    r'{"Resource-ID":"carrier-a","Classifier":null,"Name":"Carrier A","Global":true,"Gateway-Index":1,"Weight":20,"Emergency":false,"Route":"sip:+14158867900@a2.example.net:5080","To-DID":"+14158867900","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme","From-URI":null,"Codecs":["PCMU","PCMA"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
]
EXAMPLE_2: list[str] = [
    r'{"Resource-ID":"seed-carrier","Classifier":null,"Name":"Seed Carrier","Global":true,"Gateway-Index":0,"Weight":50,"Emergency":false,"Route":"sip:+14158867900@10.26.0.88","To-DID":"+14158867900","Invite-Format":"route","Invite-Parameters":["npid","id=XXXX","pass-through=0288"],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
]
EXAMPLE_3_DID_US: list[str] = [
    r'{"Resource-ID":"carrier-c","Classifier":"did_us","Name":"CarrierC - did_us","Global":true,"Gateway-Index":0,"Weight":30,"Emergency":false,"Route":"sip:+14158867900@c.example.net","To-DID":"+14158867900","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{"X-Flat":"out","X-Other":"2","X-Out":"bar"},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
]
EXAMPLE_3_TOLLFREE: list[str] = [
    r'{"Resource-ID":"carrier-c","Classifier":"tollfree_us","Name":"CarrierC - tollfree_us","Global":true,"Gateway-Index":0,"Weight":5,"Emergency":false,"Route":"sip:8005551234@c.example.net","To-DID":"8005551234","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{"X-Flat":"out","X-Other":"2","X-Out":"bar"},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
]
EXAMPLE_3_INTERNATIONAL: list[str] = [
    r'{"Resource-ID":"carrier-d","Classifier":null,"Name":"CarrierD","Global":true,"Gateway-Index":0,"Weight":40,"Emergency":false,"Route":"sip:442071234567@d.example.net","To-DID":"442071234567","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
]
EXAMPLE_4_FAX: list[str] = [
    r'{"Resource-ID":"fax-1","Classifier":null,"Name":"Fax One","Global":true,"Gateway-Index":0,"Weight":10,"Emergency":false,"Route":"sip:2125551234@fax1.example.net","To-DID":"2125551234","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+12125550100","Caller-ID-Name":"Fax Desk","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":{"Enable-T38-Fax":true,"Enable-T38-Fax-Request":true,"Enable-T38-Gateway":"self"},"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
    r'{"Resource-ID":"premium","Classifier":null,"Name":"Premium","Global":true,"Gateway-Index":0,"Weight":10,"Emergency":false,"Route":"sip:2125551234@premium.example.net","To-DID":"2125551234","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+12125550100","Caller-ID-Name":"Fax Desk","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":{"Enable-T38-Fax":true,"Enable-T38-Passthrough":true},"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
    r'{"Resource-ID":"any","Classifier":null,"Name":"Any","Global":true,"Gateway-Index":0,"Weight":90,"Emergency":false,"Route":"sip:2125551234@any.example.net","To-DID":"2125551234","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+12125550100","Caller-ID-Name":"Fax Desk","From-URI":null,"Codecs":[],"Progress-Timeout":8,"Bypass-Media":false,"T38":{"Enable-T38-Fax":true,"Enable-T38-Fax-Request":true,"Enable-T38-Gateway":"self"},"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
]
EXAMPLE_5: list[str] = [
    r'{"Resource-ID":"e911","Classifier":null,"Name":"E911 Carrier","Global":true,"Gateway-Index":0,"Weight":1,"Emergency":true,"Route":"sip:911@e911.example.net","To-DID":"911","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+14155550911","Caller-ID-Name":"HQ","From-URI":"sip:+14155550911@e911.example.net","Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
    r'{"Resource-ID":"mixed","Classifier":null,"Name":"Mixed","Global":true,"Gateway-Index":0,"Weight":5,"Emergency":true,"Route":"sip:911@g1.example.net","To-DID":"911","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+14155550911","Caller-ID-Name":"HQ","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
    r'{"Resource-ID":"mixed","Classifier":null,"Name":"Mixed","Global":true,"Gateway-Index":1,"Weight":5,"Emergency":false,"Route":"sip:911@g2.example.net","To-DID":"911","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Desk 12","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
]
EXAMPLE_6: list[str] = [
    r'{"Resource-ID":"byoc","Classifier":null,"Name":"Reseller BYOC","Global":false,"Gateway-Index":0,"Weight":10,"Emergency":false,"Route":"sip:4158867900@sbc.reseller.example","To-DID":"4158867900","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme","From-URI":"sip:+14155550100@reseller.example","Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":"r1","Auth-Password":"s3cret","Auth-Realm":"reseller.example"}',
]
EXAMPLE_7: list[str] = [
    r'{"Resource-ID":"formats","Classifier":null,"Name":"Formats","Global":true,"Gateway-Index":0,"Weight":50,"Emergency":false,"Route":"sip:4158867900@gw.example.net","To-DID":"4158867900","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
    r'{"Resource-ID":"formats","Classifier":null,"Name":"Formats","Global":true,"Gateway-Index":1,"Weight":50,"Emergency":false,"Route":"sip:+14158867900@gw.example.net","To-DID":"+14158867900","Invite-Format":"e164","Invite-Parameters":[],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
    r'{"Resource-ID":"formats","Classifier":null,"Name":"Formats","Global":true,"Gateway-Index":2,"Weight":50,"Emergency":false,"Route":"sip:94158867900@gw.example.net","To-DID":"94158867900","Invite-Format":"npan","Invite-Parameters":[],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
    r'{"Resource-ID":"formats","Classifier":null,"Name":"Formats","Global":true,"Gateway-Index":3,"Weight":50,"Emergency":false,"Route":"sip:14158867900#@gw.example.net","To-DID":"14158867900#","Invite-Format":"1npan","Invite-Parameters":[],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
    r'{"Resource-ID":"formats","Classifier":null,"Name":"Formats","Global":true,"Gateway-Index":4,"Weight":50,"Emergency":false,"Route":"sip:trunk01@gw.example.net","To-DID":"4158867900","Invite-Format":"username","Invite-Parameters":[],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":"trunk01","Auth-Password":null,"Auth-Realm":null}',
    r'{"Resource-ID":"formats","Classifier":null,"Name":"Formats","Global":true,"Gateway-Index":6,"Weight":50,"Emergency":false,"Route":"freetdm/1/A/4158867900","To-DID":"4158867900","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
    r'{"Resource-ID":"formats","Classifier":null,"Name":"Formats","Global":true,"Gateway-Index":7,"Weight":50,"Emergency":false,"Route":"sip:static@10.1.1.1:5070","To-DID":"+14158867900","Invite-Format":"e164","Invite-Parameters":[],"Caller-ID-Number":"+14155550100","Caller-ID-Name":"Acme","From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":8,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":null,"Auth-Password":null,"Auth-Realm":null}',
]
EXAMPLE_8: list[str] = [
    r'{"Resource-ID":"carrier-b","Classifier":null,"Name":"Carrier B","Global":true,"Gateway-Index":0,"Weight":10,"Emergency":false,"Route":"sip:4158867900@b.example.net","To-DID":"4158867900","Invite-Format":"route","Invite-Parameters":[],"Caller-ID-Number":"+14158867901","Caller-ID-Name":null,"From-URI":null,"Codecs":["PCMU"],"Progress-Timeout":6,"Bypass-Media":false,"T38":null,"Custom-SIP-Headers":{},"SIP-Interface":null,"Auth-User":"u","Auth-Password":"p","Auth-Realm":"b.example.net"}',
]

RESELLER = "1111aaaa2222bbbb3333cccc4444dddd"
ACCOUNT = "5555eeee6666ffff7777000088889999"
ACCOUNT_INFO = AccountInfo(account_id=ACCOUNT, tree=("0000000000000000000000000000beef", RESELLER), realm=None)
ACME = {"Outbound-Caller-ID-Number": "+14155550100", "Outbound-Caller-ID-Name": "Acme"}


def route(ids: list[str], body: dict[str, Any], *, is_global: bool = True, **options: Any) -> RouteResponse:
    pool = compile_pool([json.loads(EXAMPLE_DOCS[doc_id]) for doc_id in ids], is_global=is_global)
    return select_routes(parse_route_request(body), pool, **options)


def summary(response: RouteResponse) -> tuple[str, str, str]:
    return response.response_message, response.to_did, response.classification


def test_example_documents_are_unique_and_complete() -> None:
    assert len(EXAMPLE_DOCS) == 14
    assert all(json.loads(text)["_id"] == doc_id for doc_id, text in EXAMPLE_DOCS.items())


def test_example_1_weights_port_prefix() -> None:
    response = route(["carrier-a", "carrier-b"], {"To-DID": "4158867900", **ACME})
    assert summary(response) == ("SUCCESS", "+14158867900", "did_us")
    assert endpoint_lines(response) == EXAMPLE_1


def test_example_1_document_order_does_not_matter() -> None:
    response = route(["carrier-b", "carrier-a"], {"To-DID": "4158867900", **ACME})
    assert endpoint_lines(response) == EXAMPLE_1


def test_example_2_seed_invite_parameters() -> None:
    body = {
        "To-DID": "+14158867900",
        **ACME,
        "Requestor-Custom-Channel-Vars": {"Pass-Through": "pass-through=0288", "Account-ID": "XXXX"},
    }
    response = route(["seed-carrier"], body)
    assert summary(response) == ("SUCCESS", "+14158867900", "did_us")
    assert endpoint_lines(response) == EXAMPLE_2
    # A dialler appending the parameters to Route sends the seed's INVITE line exactly.
    (endpoint,) = response.endpoints
    request_uri = ";".join([endpoint["Route"], *endpoint["Invite-Parameters"]])
    assert f"INVITE {request_uri}" == "INVITE sip:+14158867900@10.26.0.88;npid;id=XXXX;pass-through=0288"


@pytest.mark.parametrize(
    ("to_did", "expected_summary", "expected_lines"),
    [
        ("4158867900", ("SUCCESS", "+14158867900", "did_us"), EXAMPLE_3_DID_US),
        ("8005551234", ("SUCCESS", "+18005551234", "tollfree_us"), EXAMPLE_3_TOLLFREE),
        ("011442071234567", ("SUCCESS", "+442071234567", "international"), EXAMPLE_3_INTERNATIONAL),
    ],
)
def test_example_3_classifier_variants(
    to_did: str, expected_summary: tuple[str, str, str], expected_lines: list[str]
) -> None:
    response = route(["carrier-c", "carrier-d"], {"To-DID": to_did, **ACME})
    assert summary(response) == expected_summary
    assert endpoint_lines(response) == expected_lines


EXAMPLE_4_POOL = ["fax-1", "premium", "any", "plain", "cid-limited"]
FAX_DESK = {"Outbound-Caller-ID-Number": "+12125550100", "Outbound-Caller-ID-Name": "Fax Desk"}


def test_example_4_flags_cid_rules_t38() -> None:
    response = route(EXAMPLE_4_POOL, {"To-DID": "+12125551234", "Flags": ["fax"], **FAX_DESK})
    assert summary(response) == ("SUCCESS", "+12125551234", "did_us")
    assert endpoint_lines(response) == EXAMPLE_4_FAX


def test_example_4_without_flags() -> None:
    response = route(EXAMPLE_4_POOL, {"To-DID": "+12125551234", **FAX_DESK})
    assert summary(response) == ("SUCCESS", "+12125551234", "did_us")
    assert [(e["Resource-ID"], e["Weight"], e["T38"]) for e in response.endpoints] == [
        ("plain", 5, None),
        ("fax-1", 10, None),
        ("any", 90, None),
    ]


def test_example_5_emergency() -> None:
    body = {
        "To-DID": "911",
        "Outbound-Caller-ID-Number": "+14155550100",
        "Outbound-Caller-ID-Name": "Desk 12",
        "Emergency-Caller-ID-Number": "+14155550911",
        "Emergency-Caller-ID-Name": "HQ",
    }
    response = route(["e911", "mixed"], body)
    assert summary(response) == ("SUCCESS", "911", "emergency")
    assert endpoint_lines(response) == EXAMPLE_5


def test_example_6_hunting_a_resellers_resources() -> None:
    body = {"To-DID": "4158867900", **ACME, "Account-ID": ACCOUNT, "Hunt-Account-ID": RESELLER}
    response = route(["byoc"], body, is_global=False, account=ACCOUNT_INFO)
    assert summary(response) == ("SUCCESS", "+14158867900", "did_us")
    assert endpoint_lines(response) == EXAMPLE_6


def test_example_6_hunting_outside_the_ancestry() -> None:
    body = {
        "To-DID": "4158867900",
        **ACME,
        "Account-ID": ACCOUNT,
        "Hunt-Account-ID": "9999000011112222333344445555abcd",
    }
    response = route(["byoc"], body, is_global=False, account=ACCOUNT_INFO)
    assert response.to_payload() == {
        "Response-Message": "NO_ROUTE_DESTINATION",
        "Response-Code": "sip:404",
        "Error-Message": "hunt account not allowed",
        "To-DID": "+14158867900",
        "Classification": "did_us",
        "Endpoints": [],
    }


def test_example_7_invite_formats_disabled_gateway_freetdm_static_route() -> None:
    response = route(["formats"], {"To-DID": "4158867900", **ACME})
    assert summary(response) == ("SUCCESS", "+14158867900", "did_us")
    assert endpoint_lines(response) == EXAMPLE_7


def test_example_8_short_dial_correction() -> None:
    response = route(["carrier-b"], {"To-DID": "8867900", "Outbound-Caller-ID-Number": "+14158867901"})
    assert summary(response) == ("SUCCESS", "+14158867900", "did_us")
    assert endpoint_lines(response) == EXAMPLE_8


def test_example_8_vetoed_by_denied_call_restrictions() -> None:
    body = {
        "To-DID": "8867900",
        "Outbound-Caller-ID-Number": "+14158867901",
        "Denied-Call-Restrictions": {"did_us": {"action": "deny"}},
    }
    response = route(["carrier-b"], body)
    assert response.to_payload() == {
        "Response-Message": "NO_ROUTE_DESTINATION",
        "Response-Code": "sip:404",
        "Error-Message": "no available resources",
        "To-DID": "8867900",
        "Classification": "unknown",
        "Endpoints": [],
    }


def test_section_2_reply_lines_in_order() -> None:
    """§2's NO_ROUTE example, after the default headers, and the same shape for ON_NET."""
    response = route(["carrier-b"], {"To-DID": "+442071234567", "Call-ID": "c1@pbx1"})
    expected = '"Call-ID":"c1@pbx1","Response-Message":"NO_ROUTE_DESTINATION","Response-Code":"sip:404","Error-Message":"no available resources","To-DID":"+442071234567","Classification":"international","Endpoints":[]}'
    assert json.dumps(response.to_payload(), separators=(",", ":")) == "{" + expected
