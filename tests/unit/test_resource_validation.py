"""Resource documents: schema, custom checks, writes and collections as pure functions.

Covers resources.md §2.2-§3.6, the pure parts of §4-§5, the validation scenarios of §9 (numbers in the
test names) and every example body of the seed documents.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from shared.domain.resources import (
    ID_PATTERN,
    MISSING_RESOURCE,
    Invalid,
    WriteContext,
    collection_ids,
    collection_key,
    collection_successes,
    create_collection,
    deleted_view,
    gateway_peer_ip,
    is_live_resource,
    listing_row,
    merge_patch,
    merge_resource,
    new_resource,
    patched,
    peer_lookup_ips,
    public_view,
    replace_resource,
    soft_delete,
    strip_private,
    update_collection,
)
from shared.domain.validation import describe

ACCOUNT = "4e8ab1c2d3e4f5a6b7c8d9e0f1a2b3c4"
ACCOUNT_DB = "account%2F4e%2F8a%2Fb1c2d3e4f5a6b7c8d9e0f1a2b3c4"
GENERATED_ID = "0f" * 16
NOW = 63575950041
LOCAL = WriteContext(
    db=ACCOUNT_DB, account_id=ACCOUNT, now=NOW, request_id="req-1", auth_account_id=ACCOUNT, msg_id="msg-1"
)
GLOBAL = WriteContext(
    db="offnet", account_id=None, now=NOW, request_id="req-1", auth_account_id="master", msg_id="msg-1"
)
PEERING = replace(LOCAL, allow_peers=True)

REQUIRED = {"message": "Field is required but missing"}
DEFAULT_MEDIA = {"audio": {"codecs": ["PCMU"]}, "video": {"codecs": []}}
GATEWAY_DEFAULTS = {
    "channel_selection": "ascending",
    "enabled": True,
    "endpoint_type": "sip",
    "force_port": False,
    "invite_format": "route",
    "port": 5060,
    "skype_rr": True,
}

# ---------------------------------------------------------------------------------------------------
# Seed example bodies (seed 000 newest; 001 / 002 older renderings of the same examples)

SEED_PUT_BODY = {"name": "Carrier 3", "gateways": []}
# §4.1 / seed 000 "Create a new resource": the reply's data without its id.
SEED_PUT_REPLY = {
    "emergency": False,
    "enabled": True,
    "flags": [],
    "gateways": [],
    "grace_period": 5,
    "media": DEFAULT_MEDIA,
    "name": "Carrier 3",
    "rules": [],
    "weight_cost": 50,
}

# The resource of seed 000's GET / POST / DELETE examples (seed 001 identical; seed 002 lacks the
# gateway's "emergency" and names it "Carrier1").
SEED_CARRIER: dict[str, Any] = {
    "caller_id_options": {"type": "external"},
    "emergency": False,
    "enabled": True,
    "flags": [],
    "gateways": [
        {
            "channel_selection": "ascending",
            "codecs": ["PCMU", "PCMA"],
            "custom_sip_headers": {},
            "emergency": False,
            "enabled": True,
            "endpoint_type": "sip",
            "format_from_uri": False,
            "invite_format": "route",
            "password": "DrWoody",
            "prefix": "+1",
            "progress_timeout": "6",
            "realm": "carrier1.com",
            "server": "carrier1.com",
            "skype_rr": True,
            "suffix": "100",
            "username": "blazemore",
        }
    ],
    "grace_period": 5,
    "media": {"audio": {"codecs": ["PCMU"]}, "video": {"codecs": []}},
    "name": "Carrier 3",
    "peer": False,
    "rules": ["^\\+{0,1}1{0,1}(\\d{10})$"],
    "type": "local",
    "weight_cost": "50",
}
SEED_002_CARRIER = {**copy.deepcopy(SEED_CARRIER), "name": "Carrier1"}
del SEED_002_CARRIER["gateways"][0]["emergency"]

# Seed 002 "POST - Edit details about a resource".
SEED_002_POST_BODY = {"name": "Carrier 3", "gateways": [{"server": "carrier3.com"}]}
# Seed 000 "Patch a resource".
SEED_PATCH_BODY = {"custom_sip_headers": {"X-Reseller-ID": "a1b2c3"}}
# Seed 000 "INVITE Parameters".
SEED_INVITE_PARAMETERS = {
    "dynamic": ["custom_channel_vars.pass-through", {"tag": "id", "key": "custom_channel_vars.account_id"}],
    "static": ["npid"],
}
# Seed 000 / 001 "Change a collection" (a job body; §10: the real body is an array of resources).
SEED_COLLECTION_POST_BODY = {"numbers": ["+12223334444", "+23334445555"], "resource_id": "{RESOURCE_ID}"}


def stored_as(body: Any) -> dict[str, Any]:
    """What a seed example stores: string numbers of its GET examples come back as integers (§10)."""
    stored = copy.deepcopy(body)
    stored["weight_cost"] = int(stored["weight_cost"])
    for gateway in stored["gateways"]:
        if "progress_timeout" in gateway:
            gateway["progress_timeout"] = int(gateway["progress_timeout"])
    return stored


def created(body: Any, ctx: WriteContext = LOCAL) -> dict[str, Any]:
    doc = new_resource(body, generated_id=GENERATED_ID, ctx=ctx)
    assert not isinstance(doc, Invalid), doc
    return doc


def errors(body: Any, ctx: WriteContext = LOCAL) -> dict[str, Any]:
    result = new_resource(body, generated_id=GENERATED_ID, ctx=ctx)
    assert isinstance(result, Invalid), result
    return result.errors


def shown(body: Any, ctx: WriteContext = LOCAL) -> dict[str, Any]:
    view = public_view(created(body, ctx))
    view.pop("id")
    return view


def resource(**fields: Any) -> dict[str, Any]:
    return {"name": "x", "gateways": [], **fields}


def one_gateway(**fields: Any) -> dict[str, Any]:
    return resource(gateways=[{"server": "carrier.example.com", **fields}])


# ---------------------------------------------------------------------------------------------------
# Seed examples


def test_seed_put_reply_is_reproduced_exactly() -> None:
    doc = created(SEED_PUT_BODY)
    assert public_view(doc) == {**SEED_PUT_REPLY, "id": GENERATED_ID}


@pytest.mark.parametrize("body", [SEED_CARRIER, SEED_002_CARRIER], ids=["seed000", "seed002"])
def test_seed_full_resource_is_stored_with_numbers_as_integers(body: dict[str, Any]) -> None:
    assert shown(body) == {
        **stored_as(body),
        "gateways": [{**GATEWAY_DEFAULTS, **stored_as(body)["gateways"][0]}],
    }


def test_seed_full_resource_posts_with_its_placeholder_id_ignored() -> None:
    stored = created(SEED_PUT_BODY)
    doc = replace_resource(stored, {**SEED_CARRIER, "id": "{RESOURCE_ID}"}, ctx=LOCAL)
    assert not isinstance(doc, Invalid)
    assert doc["_id"] == GENERATED_ID
    assert doc["weight_cost"] == 50 and doc["gateways"][0]["progress_timeout"] == 6


def test_seed_002_post_fills_gateway_defaults() -> None:
    stored = created(SEED_PUT_BODY)
    doc = replace_resource(stored, SEED_002_POST_BODY, ctx=LOCAL)
    assert not isinstance(doc, Invalid)
    assert doc["gateways"] == [{"server": "carrier3.com", **GATEWAY_DEFAULTS}]
    assert "custom_sip_headers" not in doc["gateways"][0]  # seed 002's `{}` default is superseded (§10)


def test_seed_patch_adds_top_level_custom_sip_headers() -> None:
    stored = created(SEED_CARRIER)
    doc = merge_resource(stored, SEED_PATCH_BODY, ctx=LOCAL)
    assert not isinstance(doc, Invalid)
    expected = {**stored_as(SEED_CARRIER), "custom_sip_headers": {"X-Reseller-ID": "a1b2c3"}}
    expected["gateways"] = [{**GATEWAY_DEFAULTS, **expected["gateways"][0]}]
    assert {k: v for k, v in public_view(doc).items() if k != "id"} == expected


def test_seed_invite_parameters_are_stored_as_sent() -> None:  # scenario 20
    assert (
        shown(one_gateway(invite_parameters=SEED_INVITE_PARAMETERS))["gateways"][0]["invite_parameters"]
        == SEED_INVITE_PARAMETERS
    )


def test_seed_collection_post_body_is_not_an_array() -> None:
    result = update_collection(SEED_COLLECTION_POST_BODY, stored_by_id={}, ctx=LOCAL)
    assert result == Invalid({"data": {"type": describe("type", SEED_COLLECTION_POST_BODY, "array")}})


# ---------------------------------------------------------------------------------------------------
# §9 validation scenarios of single PUTs


def test_scenario_5_gateway_defaults() -> None:
    assert shown(resource(gateways=[{"server": "carrier3.com"}]))["gateways"] == [
        {"server": "carrier3.com", **GATEWAY_DEFAULTS}
    ]


def test_scenario_6_seed_like_body_with_string_numbers_and_unknown_keys() -> None:
    view = shown(
        one_gateway(progress_timeout="6")
        | {"weight_cost": "50", "type": "local", "peer": False, "caller_id_options": {"type": "external"}}
    )
    assert view["weight_cost"] == 50
    assert view["gateways"][0]["progress_timeout"] == 6
    assert (view["type"], view["peer"], view["caller_id_options"]) == ("local", False, {"type": "external"})


@pytest.mark.parametrize(
    ("body", "key", "code"),
    [
        ({"gateways": []}, "name", "required"),  # 7
        ({"name": "x"}, "gateways", "required"),  # 8
        ({"name": "x", "gateways": [{}]}, "gateways.0.server", "required"),  # 9
        (resource(name=""), "name", "minLength"),  # 10
        (resource(name="n" * 129), "name", "maxLength"),
        (resource(weight_cost=101), "weight_cost", "maximum"),  # 11
        (resource(weight_cost=-1), "weight_cost", "minimum"),
        (resource(grace_period=0), "grace_period", "minimum"),  # 12
        (resource(grace_period=21), "grace_period", "maximum"),
        (resource(weight_cost="abc"), "weight_cost", "type"),  # 13
        (resource(enabled="yes"), "enabled", "type"),  # 15
        (resource(enabled=None), "enabled", "type"),  # 16
        (one_gateway(invite_format="bogus"), "gateways.0.invite_format", "enum"),  # 17
        (one_gateway(codecs=["PCMU", "PCMU"]), "gateways.0.codecs", "uniqueItems"),  # 18
        (one_gateway(codecs=["XYZ"]), "gateways.0.codecs.0", "enum"),
        (one_gateway(port=70000), "gateways.0.port", "maximum"),  # 19
        (resource(gateways=[{"server": "s" * 129}]), "gateways.0.server", "maxLength"),
        (
            one_gateway(invite_parameters={"dynamic": [5]}),
            "gateways.0.invite_parameters.dynamic.0",
            "oneOf",
        ),  # 21
        (
            one_gateway(invite_parameters={"dynamic": [{"tag": "id"}]}),  # 22
            "gateways.0.invite_parameters.dynamic.0",
            "oneOf",
        ),
        (one_gateway(invite_parameters={"foo": []}), "gateways.0.invite_parameters", "additionalProperties"),
        (
            one_gateway(custom_sip_headers={"X Bad": "v"}),
            "gateways.0.custom_sip_headers",  # 23
            "additionalProperties",
        ),
        (resource(media={"bypass_media": "maybe"}), "media.bypass_media", "oneOf"),  # 24
        (resource(rules=["("]), "rules.0", "format"),  # 25
        (resource(id="jobs"), "id", "not"),  # 28
        (resource(id="bad/id"), "id", "pattern"),
    ],
)
def test_scenarios_7_to_28_errors(body: dict[str, Any], key: str, code: str) -> None:
    assert code in errors(body)[key]


def test_scenario_7_to_13_details() -> None:
    assert errors({"gateways": []})["name"] == {"required": REQUIRED}
    assert errors(resource(name=""))["name"]["minLength"]["target"] == 1
    assert errors(resource(name="n" * 129))["name"]["maxLength"]["target"] == 128
    assert errors(resource(weight_cost=101))["weight_cost"]["maximum"]["target"] == 100
    assert errors(resource(weight_cost=-1))["weight_cost"]["minimum"]["target"] == 0
    assert errors(resource(weight_cost="abc"))["weight_cost"] == {
        "type": {"message": "Value did not match type(s): integer", "target": "integer", "value": "abc"}
    }
    assert errors(resource(enabled="yes"))["enabled"]["type"]["target"] == "boolean"
    assert errors(one_gateway(invite_format="bogus"))["gateways.0.invite_format"]["enum"]["value"] == "bogus"
    assert errors(one_gateway(port=70000))["gateways.0.port"]["maximum"]["target"] == 65535


def test_scenario_14_and_15_coercion() -> None:
    assert shown(resource(weight_cost="50.6"))["weight_cost"] == 51
    assert shown(resource(enabled="false"))["enabled"] is False


def test_scenario_23_custom_sip_headers_in_out_and_flat() -> None:
    headers = {"in": {"X-A": "1"}, "out": {}, "X-B": "2"}
    assert shown(one_gateway(custom_sip_headers=headers))["gateways"][0]["custom_sip_headers"] == headers


@pytest.mark.parametrize(
    ("headers", "key", "code"),
    [
        ({"X-B": 5}, "gateways.0.custom_sip_headers.X-B", "type"),
        ({"in": "text"}, "gateways.0.custom_sip_headers.in", "type"),
        ({"in": {"X Bad": "1"}}, "gateways.0.custom_sip_headers.in", "additionalProperties"),
        ({"out": {"X-A": 1}}, "gateways.0.custom_sip_headers.out.X-A", "type"),
        ("text", "gateways.0.custom_sip_headers", "type"),
    ],
)
def test_custom_sip_headers_errors(headers: Any, key: str, code: str) -> None:
    assert list(errors(one_gateway(custom_sip_headers=headers))) == [key]
    assert code in errors(one_gateway(custom_sip_headers=headers))[key]


def test_scenario_24_media_is_stored_exactly_as_sent() -> None:
    assert shown(resource(media={"audio": {"codecs": ["PCMA"]}}))["media"] == {"audio": {"codecs": ["PCMA"]}}
    assert shown(resource(media={}))["media"] == {}


def test_scenario_25_rule_with_capture_group() -> None:
    assert shown(resource(rules=["^\\+?1?(\\d{10})$"]))["rules"] == ["^\\+?1?(\\d{10})$"]


def test_scenario_26_all_errors_together() -> None:
    assert errors({"gateways": [{}], "weight_cost": 500}) == {
        "name": {"required": REQUIRED},
        "gateways.0.server": {"required": REQUIRED},
        "weight_cost": {"maximum": {"message": "Value must be at most 100", "target": 100, "value": 500}},
    }


def test_scenario_27_client_id() -> None:
    doc = created(resource(id="myres"))
    assert doc["_id"] == "myres" and public_view(doc)["id"] == "myres"
    assert "id" not in strip_private(doc)


@pytest.mark.parametrize(
    ("client_id", "code", "details"),
    [
        ("jobs", "not", {"message": "Value is reserved", "value": "jobs"}),
        ("collection", "not", {"message": "Value is reserved", "value": "collection"}),
        ("bad/id", "pattern", describe("pattern", "bad/id", ID_PATTERN)),
        ("", "pattern", describe("pattern", "", ID_PATTERN)),
        ("-lead", "pattern", describe("pattern", "-lead", ID_PATTERN)),
        ("a" * 129, "pattern", describe("pattern", "a" * 129, ID_PATTERN)),
        ("ok\n", "pattern", describe("pattern", "ok\n", ID_PATTERN)),
        (5, "type", describe("type", 5, "string")),
    ],
)
def test_scenario_28_id_checks(client_id: Any, code: str, details: dict[str, Any]) -> None:
    assert errors(resource(id=client_id)) == {"id": {code: details}}


def test_id_check_adds_to_other_errors() -> None:
    assert set(errors({"id": "jobs", "gateways": []})) == {"id", "name"}


@pytest.mark.parametrize("client_id", ["a", "A.b_c~d-e", "a" * 128, "0f" * 16])
def test_acceptable_ids(client_id: str) -> None:
    assert created(resource(id=client_id))["_id"] == client_id


def test_null_id_means_no_id() -> None:
    assert created(resource(id=None))["_id"] == GENERATED_ID


def test_scenario_29_private_input_is_dropped() -> None:
    doc = created(resource(pvt_type="device", _rev="9-x", pvt_account_id="b" * 32, _id="other"))
    assert doc["pvt_type"] == "resource" and doc["pvt_account_id"] == ACCOUNT
    assert doc["_id"] == GENERATED_ID and "_rev" not in doc
    assert not [k for k in public_view(doc) if k.startswith(("_", "pvt_"))]


def test_scenario_30_unknown_keys_are_kept() -> None:
    view = shown(
        resource(
            custom="value",
            ips=["1.2.3.4"],
            template_name="t",
            custom_sip_headers={"A": 1},
            gateways=[{"server": "s", "emergency": False, "extra": {"k": [1]}}],
        )
    )
    assert view["custom"] == "value" and view["ips"] == ["1.2.3.4"] and view["template_name"] == "t"
    assert view["custom_sip_headers"] == {"A": 1}
    assert view["gateways"][0]["extra"] == {"k": [1]}


# ---------------------------------------------------------------------------------------------------
# The other fields of §3.1-§3.3


@pytest.mark.parametrize(
    "fields",
    [
        {"require_flags": True, "ignore_flags": False, "flags": ["a", "b"]},
        {"cid_rules": ["^\\+1"], "rules_test": ["^911$"]},
        {"flat_rate_whitelist": "^\\+1", "flat_rate_blacklist": "^\\+1900"},
        {"format_from_uri": True, "from_uri_realm": "r.example.com", "from_account_realm": False},
        {"gateway_strategy": "random"},
        {"caller_id_options": {"type": "emergency", "other": 1}},
        {"peer": False},
        {
            "classifiers": {
                "tollfree_us": {
                    "weight_cost": 10,
                    "regex": "^\\+1(8\\d{9})$",
                    "prefix": "1",
                    "suffix": "2",
                    "emergency": False,
                    "enabled": False,
                }
            }
        },
        {
            "formatters": {
                "from": {"regex": "^\\+?1?(\\d{10})$", "prefix": "+1", "direction": "outbound"},
                "to": [{"strip": True, "direction": "inbound"}, {"value": "x", "match_invite_format": True}],
                "not-matching key": 5,
            }
        },
        {
            "media": {
                "audio": {"codecs": ["OPUS", "G7221@16000h", "speex"]},
                "video": {"codecs": ["H264", "VP8"]},
                "encryption": {"enforce_security": True, "methods": ["srtp", "zrtp"]},
                "bypass_media": "auto",
                "fax_option": True,
                "ignore_early_media": False,
                "progress_timeout": 5,
                "vendor": "kept",
            }
        },
        {"media": {"bypass_media": True}},
        {
            "gateways": [
                {
                    "server": "s",
                    "realm": "r",
                    "username": "u" * 32,
                    "password": "p" * 32,
                    "prefix": "p" * 64,
                    "suffix": "",
                    "route": "sip:x@y",
                    "port": 1,
                    "enabled": False,
                    "endpoint_type": "freetdm",
                    "invite_format": "strip_plus",
                    "caller_id_type": "internal",
                    "codecs": ["G729", "VP8"],
                    "progress_timeout": 8,
                    "force_port": True,
                    "channel_selection": "descending",
                    "span": "1",
                    "skype_interface": "sk",
                    "skype_rr": False,
                    "bypass_media": True,
                    "media": {"fax_option": True, "rtcp_mux": False, "other": 1},
                    "custom_sip_interface": "if",
                    "format_from_uri": True,
                    "from_uri_realm": "r",
                    "register": True,
                    "inbound_ip": "10.0.0.1",
                    "invite_parameters": {
                        "static": ["a"],
                        "dynamic": [
                            "zone",
                            "custom_sip_headers.x",
                            {"key": "zone", "tag": "z", "separator": ":"},
                        ],
                    },
                }
            ]
        },
    ],
)
def test_every_documented_field_is_accepted_as_sent(fields: dict[str, Any]) -> None:
    view = shown(resource(**fields))
    for key, value in fields.items():
        if key == "gateways":
            assert view["gateways"] == [{**GATEWAY_DEFAULTS, **value[0]}]
        elif key == "classifiers":
            assert view[key] == value  # every classifier default given explicitly
        else:
            assert view[key] == value


@pytest.mark.parametrize(
    ("fields", "key", "code"),
    [
        ({"flags": "a"}, "flags", "type"),
        ({"flags": [1]}, "flags.0", "type"),
        ({"gateways": {}}, "gateways", "type"),
        ({"gateways": ["s"]}, "gateways.0", "type"),
        ({"gateway_strategy": "first"}, "gateway_strategy", "enum"),
        ({"caller_id_options": {"type": "x"}}, "caller_id_options.type", "enum"),
        ({"cid_rules": ["["]}, "cid_rules.0", "format"),
        ({"rules_test": ["ok", "(?P<1>x)"]}, "rules_test.1", "format"),
        ({"flat_rate_whitelist": "("}, "flat_rate_whitelist", "format"),
        ({"flat_rate_blacklist": "*"}, "flat_rate_blacklist", "format"),
        ({"classifiers": {"c": {"regex": "("}}}, "classifiers.c.regex", "format"),
        ({"classifiers": {"c": {"weight_cost": 101}}}, "classifiers.c.weight_cost", "maximum"),
        ({"classifiers": {"c": {"prefix": "p" * 65}}}, "classifiers.c.prefix", "maxLength"),
        ({"classifiers": {"c": "x"}}, "classifiers.c", "type"),
        ({"classifiers": {"": {}}}, "classifiers", "additionalProperties"),
        ({"formatters": {"to": {"regex": "("}}}, "formatters.to.regex", "format"),
        ({"formatters": {"to": [{"regex": "ok"}, {"regex": "("}]}}, "formatters.to.1.regex", "format"),
        ({"formatters": {"to": {"direction": "up"}}}, "formatters.to", "oneOf"),
        ({"formatters": {"to": 5}}, "formatters.to", "oneOf"),
        ({"media": {"audio": {"codecs": ["H264"]}}}, "media.audio.codecs.0", "enum"),
        ({"media": {"audio": {"codecs": ["PCMU", "PCMU"]}}}, "media.audio.codecs", "uniqueItems"),
        ({"media": {"video": {"codecs": ["PCMU"]}}}, "media.video.codecs.0", "enum"),
        ({"media": {"encryption": {"methods": ["tls"]}}}, "media.encryption.methods.0", "enum"),
        ({"media": "x"}, "media", "type"),
        ({"media": {"progress_timeout": "soon"}}, "media.progress_timeout", "type"),
        ({"gateways": [{"server": ""}]}, "gateways.0.server", "minLength"),
        ({"gateways": [{"server": "s", "port": 0}]}, "gateways.0.port", "minimum"),
        ({"gateways": [{"server": "s", "username": "u" * 33}]}, "gateways.0.username", "maxLength"),
        ({"gateways": [{"server": "s", "endpoint_type": "h323"}]}, "gateways.0.endpoint_type", "enum"),
        (
            {"gateways": [{"server": "s", "media": {"fax_option": "maybe"}}]},
            "gateways.0.media.fax_option",
            "type",
        ),
        (
            {"gateways": [{"server": "s", "invite_parameters": {"static": [1]}}]},
            "gateways.0.invite_parameters.static.0",
            "type",
        ),
        (
            {"gateways": [{"server": "s", "invite_parameters": {"dynamic": ["channel.x"]}}]},
            "gateways.0.invite_parameters.dynamic.0",
            "oneOf",
        ),
        (
            {"gateways": [{"server": "s", "invite_parameters": {"dynamic": [{"key": "k", "tag": "t"}]}}]},
            "gateways.0.invite_parameters.dynamic.0",
            "oneOf",
        ),
        (
            {
                "gateways": [
                    {
                        "server": "s",
                        "invite_parameters": {"dynamic": [{"key": "zone", "tag": "t", "extra": 1}]},
                    }
                ]
            },
            "gateways.0.invite_parameters.dynamic.0",
            "oneOf",
        ),
    ],
)
def test_field_errors(fields: dict[str, Any], key: str, code: str) -> None:
    found = errors(resource(**fields))
    assert list(found) == [key], found
    assert code in found[key]


def test_formatter_keys_outside_the_pattern_are_unchecked() -> None:
    assert shown(resource(formatters={"bad key": {"regex": "("}}))["formatters"] == {
        "bad key": {"regex": "("}
    }


def test_classifier_defaults_only_enabled() -> None:
    assert shown(resource(classifiers={"did_us": {}}))["classifiers"] == {"did_us": {"enabled": True}}


def test_coercion_inside_gateways_classifiers_and_media() -> None:
    view = shown(
        resource(
            gateways=[{"server": "s", "port": "5080", "enabled": "false"}],
            classifiers={"c": {"weight_cost": "7.5"}},
            media={"fax_option": "true"},
        )
    )
    assert view["gateways"][0]["port"] == 5080 and view["gateways"][0]["enabled"] is False
    assert view["classifiers"]["c"]["weight_cost"] == 8
    assert view["media"] == {"fax_option": True}


# ---------------------------------------------------------------------------------------------------
# Peers (§3.5, scenarios 72-75)


def test_scenario_72_peers_disabled() -> None:
    assert errors({**one_gateway(), "peer": True}) == {
        "peer": {"forbidden": {"message": "Peers are currently disabled, please contact the system admin"}}
    }
    assert errors({**one_gateway(), "peer": "true"})["peer"]  # coerced first, then checked


def test_scenario_73_every_gateway_needs_an_ip() -> None:
    body = resource(peer=True, gateways=[{"server": "carrier.example.com"}, {"server": "also.example.com"}])
    assert errors(body, PEERING) == {
        f"gateways.{i}.server": {
            "required": {"message": "Gateway server must be an IP when peering with the resource", "cause": i}
        }
        for i in (0, 1)
    }


def test_scenario_74_peer_ip_in_use_by_another_resource() -> None:
    in_use = replace(PEERING, peer_ips_in_use={"10.0.0.5": ["a" * 32]})
    assert errors(resource(peer=True, gateways=[{"server": "10.0.0.5"}]), in_use) == {
        "gateways.0.server": {"unique": {"message": "Gateway server ip is already in use", "cause": 0}}
    }
    assert errors(
        resource(peer=True, gateways=[{"server": "x.example.com", "inbound_ip": "10.0.0.5"}]), in_use
    ) == {
        "gateways.0.inbound_ip": {"unique": {"message": "Gateway inbound ip is already in use", "cause": 0}}
    }
    assert created(resource(peer=True, gateways=[{"server": "10.0.0.6"}]), in_use)["peer"] is True


def test_peer_ip_held_by_the_same_resource_is_fine() -> None:
    body = resource(peer=True, gateways=[{"server": "10.0.0.5"}])
    stored = created(body, PEERING)
    mine = replace(PEERING, peer_ips_in_use={"10.0.0.5": [stored["_id"]]})
    assert not isinstance(replace_resource(stored, body, ctx=mine), Invalid)


def test_peer_checks_cover_every_gateway_and_add_to_schema_errors() -> None:
    in_use = replace(PEERING, peer_ips_in_use={"10.0.0.5": ["other"]})
    body = {
        "peer": True,
        "gateways": [{"server": "10.0.0.5"}, "bad", {"server": "host"}, {"server": "10.0.0.7"}],
    }
    assert set(errors(body, in_use)) == {"name", "gateways.0.server", "gateways.1", "gateways.2.server"}


def test_scenario_75_no_peer_checks_on_global_resources() -> None:
    assert created({**one_gateway(), "peer": True}, GLOBAL)["peer"] is True


def test_gateway_peer_ip_prefers_an_ipv4_inbound_ip() -> None:
    assert gateway_peer_ip({"server": "10.0.0.1", "inbound_ip": "10.0.0.2"}) == ("inbound_ip", "10.0.0.2")
    assert gateway_peer_ip({"server": "10.0.0.1", "inbound_ip": "host"}) == ("server", "10.0.0.1")
    assert gateway_peer_ip({"server": "host", "inbound_ip": "::1"}) is None
    assert gateway_peer_ip({"server": "010.0.0.1"}) is None
    assert gateway_peer_ip("10.0.0.1") is None
    assert peer_lookup_ips(
        {
            "gateways": [
                {"server": "10.0.0.2"},
                {"server": "10.0.0.1"},
                {"server": "10.0.0.2"},
                {"server": "h"},
                5,
            ]
        }
    ) == ["10.0.0.1", "10.0.0.2"]
    assert peer_lookup_ips([1]) == [] and peer_lookup_ips({"gateways": "x"}) == []


# ---------------------------------------------------------------------------------------------------
# Private fields (§2.2) and what is shown (§2.3, §2.4)


def test_local_create_stamps() -> None:
    doc = created(SEED_PUT_BODY)
    assert {k: v for k, v in doc.items() if k.startswith(("_", "pvt_"))} == {
        "_id": GENERATED_ID,
        "pvt_type": "resource",
        "pvt_vsn": "1",
        "pvt_account_id": ACCOUNT,
        "pvt_account_db": ACCOUNT_DB,
        "pvt_created": NOW,
        "pvt_modified": NOW,
        "pvt_request_id": "req-1",
        "pvt_auth_account_id": ACCOUNT,
        "pvt_msg_id": "msg-1",
    }


def test_global_create_has_no_account_id() -> None:
    doc = created(SEED_PUT_BODY, GLOBAL)
    assert "pvt_account_id" not in doc and doc["pvt_account_db"] == "offnet"


LATER = replace(LOCAL, now=NOW + 10, request_id="req-2", auth_account_id="parent", msg_id="msg-2")


def stored_doc() -> dict[str, Any]:
    return {**created(resource(flags=["a"], custom=1)), "_rev": "1-abc"}


def test_scenario_31_post_replaces_every_public_field_and_keeps_private_ones() -> None:
    stored = stored_doc()
    doc = replace_resource(stored, {"name": "y", "gateways": [], "id": "other"}, ctx=LATER)  # 34: id ignored
    assert not isinstance(doc, Invalid)
    assert public_view(doc) == {**SEED_PUT_REPLY, "name": "y", "id": GENERATED_ID}
    assert doc["_rev"] == "1-abc" and doc["pvt_created"] == NOW and doc["pvt_modified"] == NOW + 10
    assert (doc["pvt_request_id"], doc["pvt_auth_account_id"], doc["pvt_msg_id"]) == (
        "req-2",
        "parent",
        "msg-2",
    )


def test_scenario_33_post_errors() -> None:
    stored = stored_doc()
    before = copy.deepcopy(stored)
    result = replace_resource(stored, {"name": ""}, ctx=LATER)
    assert isinstance(result, Invalid) and set(result.errors) == {"name", "gateways"}
    assert stored == before


@pytest.mark.parametrize("body", [[1], "x", None])
def test_post_of_a_non_object(body: Any) -> None:
    assert replace_resource(stored_doc(), body, ctx=LATER) == Invalid(
        {"data": {"type": describe("type", body, "object")}}
    )


def test_post_does_not_check_ids() -> None:
    assert not isinstance(replace_resource(stored_doc(), resource(id="jobs"), ctx=LATER), Invalid)


def test_scenario_35_patch_adds_a_key() -> None:
    doc = merge_resource(stored_doc(), {"custom": "value"}, ctx=LATER)
    assert not isinstance(doc, Invalid)
    assert doc["custom"] == "value" and doc["name"] == "x" and doc["flags"] == ["a"]


def test_scenario_36_patch_replaces_gateways_whole() -> None:
    stored = created(resource(gateways=[{"server": "a"}, {"server": "b", "port": 1}]))
    doc = merge_resource(stored, {"gateways": [{"server": "c"}]}, ctx=LATER)
    assert not isinstance(doc, Invalid)
    assert doc["gateways"] == [{"server": "c", **GATEWAY_DEFAULTS}]


def test_scenario_37_patch_errors() -> None:
    assert merge_resource(stored_doc(), {"name": ""}, ctx=LATER) == Invalid(
        {"name": {"minLength": describe("minLength", "", 1)}}
    )


def test_scenario_38_patch_null_removes_and_defaults_return() -> None:
    doc = merge_resource(stored_doc(), {"flags": None, "custom": None, "media": None}, ctx=LATER)
    assert not isinstance(doc, Invalid)
    assert doc["flags"] == [] and "custom" not in doc and doc["media"] == DEFAULT_MEDIA


def test_patch_ignores_private_keys_and_id_and_empty_patch_keeps_everything() -> None:
    stored = stored_doc()
    doc = merge_resource(stored, {"pvt_type": "x", "_id": "y", "id": "z"}, ctx=LATER)
    assert not isinstance(doc, Invalid)
    assert public_view(doc) == public_view(stored)
    assert doc["pvt_type"] == "resource" and doc["_id"] == GENERATED_ID and doc["pvt_modified"] == NOW + 10
    assert patched(stored, [1]) == [1]


def test_patch_peer_checks_see_the_merged_doc() -> None:
    stored = created(one_gateway(), PEERING)
    assert set(errors_of_merge(stored, {"peer": True})) == {"gateways.0.server"}


def errors_of_merge(stored: dict[str, Any], patch: Any) -> dict[str, Any]:
    result = merge_resource(stored, patch, ctx=PEERING)
    assert isinstance(result, Invalid)
    return result.errors


def test_soft_delete_and_deleted_view() -> None:  # scenario 40
    stored = stored_doc()
    doc = soft_delete(stored, ctx=LATER)
    assert doc["pvt_deleted"] is True and doc["_rev"] == "1-abc" and doc["pvt_modified"] == NOW + 10
    assert not is_live_resource(doc) and is_live_resource(stored)
    view = deleted_view(doc)
    assert view["id"] == GENERATED_ID and view["_read_only"] == {"deleted": True}
    assert "pvt_deleted" not in view


def test_is_live_resource() -> None:
    assert not is_live_resource(None)
    assert not is_live_resource({"_id": "x", "pvt_type": "device"})  # scenario 42


def test_listing_row() -> None:  # scenario 4
    assert listing_row(created(SEED_PUT_BODY)) == {
        "id": GENERATED_ID,
        "name": "Carrier 3",
        "enabled": True,
        "weight_cost": 50,
    }
    row = listing_row(created(resource(classifiers={"c": {}}, template_name="t")))
    assert row["classifiers"] == {"c": {"enabled": True}} and row["template_name"] == "t"


# ---------------------------------------------------------------------------------------------------
# Collections (§5, scenarios 61-68)


def item_id(index: int) -> str:
    return f"{index:032x}"


def put_collection(items: Any, existing: tuple[str, ...] = (), ctx: WriteContext = LOCAL) -> Any:
    return create_collection(items, new_id=item_id, existing_ids=existing, ctx=ctx)


def test_scenario_61_collection_put() -> None:
    docs = put_collection([{"name": "a", "gateways": []}, {"name": "b", "gateways": [], "id": "mine"}])
    assert isinstance(docs, list)
    assert [doc["_id"] for doc in docs] == [item_id(0), "mine"]
    assert collection_successes(docs) == {
        "successes": {item_id(0): public_view(docs[0]), "mine": public_view(docs[1])},
        "errors": {},
    }
    assert public_view(docs[0]) == {**SEED_PUT_REPLY, "name": "a", "id": item_id(0)}


def test_scenarios_62_63_errors_keyed_by_id_or_index() -> None:
    assert put_collection([{"name": "a", "gateways": []}, {"id": "bad1", "gateways": []}]) == Invalid(
        {"errors": {"bad1": {"name": {"required": REQUIRED}}}}
    )
    assert put_collection([{"name": "a", "gateways": []}, {"gateways": []}]) == Invalid(
        {"errors": {"1": {"name": {"required": REQUIRED}}}}
    )


@pytest.mark.parametrize("update", [False, True])
def test_scenario_64_body_must_be_a_non_empty_array(update: bool) -> None:
    def run(items: Any) -> Any:
        return update_collection(items, stored_by_id={}, ctx=LOCAL) if update else put_collection(items)

    assert run({"name": "a"}) == Invalid({"data": {"type": describe("type", {"name": "a"}, "array")}})
    assert run([]) == Invalid({"data": {"minItems": describe("minItems", [], 1)}})


def test_scenario_65_existing_or_repeated_ids() -> None:
    unique = {"unique": {"message": "Resource id already exists", "value": "r1"}}
    assert put_collection([resource(id="r1")], existing=("r1",)) == Invalid(
        {"errors": {"r1": {"id": unique}}}
    )
    assert put_collection([resource(id="r1"), resource(id="r1")]) == Invalid(
        {"errors": {"r1": {"id": unique}}}
    )


def test_collection_put_items_are_checked_like_single_puts() -> None:
    result = put_collection([5, resource(id="jobs"), resource(id="r", name=""), resource(peer=True)])
    assert result == Invalid(
        {
            "errors": {
                "0": {"data": {"type": describe("type", 5, "object")}},
                "jobs": {"id": {"not": {"message": "Value is reserved", "value": "jobs"}}},
                "r": {"name": {"minLength": describe("minLength", "", 1)}},
                "3": {
                    "peer": {
                        "forbidden": {
                            "message": "Peers are currently disabled, please contact the system admin"
                        }
                    }
                },
            }
        }
    )


def test_repeated_invalid_ids_merge_their_errors() -> None:
    result = put_collection([{"id": "r", "gateways": []}, {"id": "r", "name": "x"}])
    assert isinstance(result, Invalid)
    assert set(result.errors["errors"]["r"]) == {"name", "gateways", "id"}


def test_collection_helpers() -> None:
    items = [{"id": "a"}, {"id": ""}, {"id": 5}, "x", {"id": "a"}, {"id": "b"}]
    assert collection_ids(items) == ["a", "b"]
    assert collection_ids({"id": "a"}) == []
    assert [collection_key(item, i) for i, item in enumerate(items)] == ["a", "1", "2", "3", "a", "b"]


def test_scenario_66_unknown_resource() -> None:
    deleted = soft_delete(created(resource(id="gone")), ctx=LATER)
    device = {"_id": "dev", "pvt_type": "device"}
    result = update_collection(
        [{"id": "nope", "weight_cost": 1}, {"id": "gone"}, {"id": "dev"}, {"weight_cost": 1}],
        stored_by_id={"gone": deleted, "dev": device},
        ctx=LOCAL,
    )
    assert result == Invalid(
        {
            "errors": {
                "nope": MISSING_RESOURCE,
                "gone": MISSING_RESOURCE,
                "dev": MISSING_RESOURCE,
                "3": MISSING_RESOURCE,
            }
        }
    )


def test_scenario_67_items_are_merge_patches() -> None:
    stored = created(resource(id="X", media={"audio": {"codecs": ["PCMU"]}}, flags=["f"]))
    docs = update_collection(
        [{"id": "X", "weight_cost": 10, "flags": None, "media": {"video": {"codecs": ["H264"]}}}],
        stored_by_id={"X": stored},
        ctx=LATER,
    )
    assert isinstance(docs, list) and len(docs) == 1
    view = collection_successes(docs)["successes"]["X"]
    assert view["weight_cost"] == 10 and view["flags"] == []
    assert view["media"] == {"audio": {"codecs": ["PCMU"]}, "video": {"codecs": ["H264"]}}
    assert docs[0]["pvt_created"] == NOW and docs[0]["pvt_modified"] == NOW + 10


def test_scenario_68_one_invalid_item_fails_all() -> None:
    first, second = created(resource(id="a")), created(resource(id="b"))
    result = update_collection(
        [{"id": "a", "weight_cost": 1}, {"id": "b", "weight_cost": 500}, [1]],
        stored_by_id={"a": first, "b": second},
        ctx=LATER,
    )
    assert result == Invalid(
        {
            "errors": {
                "b": {"weight_cost": {"maximum": describe("maximum", 500, 100)}},
                "2": {"data": {"type": describe("type", [1], "object")}},
            }
        }
    )


def test_collection_post_items_for_one_resource_apply_in_order() -> None:
    stored = created(resource(id="a"))
    docs = update_collection(
        [{"id": "a", "weight_cost": 1}, {"id": "a", "custom": 2}], stored_by_id={"a": stored}, ctx=LATER
    )
    assert isinstance(docs, list) and len(docs) == 1
    assert (docs[0]["weight_cost"], docs[0]["custom"]) == (1, 2)


def test_merge_patch() -> None:
    assert merge_patch(
        {"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"b": None, "e": {"f": 1}}, "d": [2], "g": None}
    ) == {"a": {"c": 2, "e": {"f": 1}}, "d": [2]}
    assert merge_patch({"a": 1}, [1]) == [1]
    assert merge_patch(5, {"a": {"b": None}}) == {"a": {}}
