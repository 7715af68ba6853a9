"""Validation through the gateway (resources.md §3, §9 scenarios 7-26), and the property that any JSON
body is either stored or refused with a 400 naming its fields -- never a 500."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.system import System, Tree
from tests.integration.test_resources_api import create, errors_of, local
from tests.unit.test_resource_validation_props import assert_names_fields, bodies

pytestmark = pytest.mark.integration

INVITE_PARAMETERS = {"dynamic": ["custom_channel_vars.pass-through",
                                 {"tag": "id", "key": "custom_channel_vars.account_id"}],
                     "static": ["npid"]}


def with_gateway(**fields: Any) -> dict[str, Any]:
    return {"name": "x", "gateways": [{"server": "carrier.example.com", **fields}]}


# (scenario, body, dotted path, code, expected details subset)
REFUSED: list[tuple[int, dict[str, Any], str, str, dict[str, Any]]] = [
    (7, {"gateways": []}, "name", "required", {"message": "Field is required but missing"}),
    (8, {"name": "x"}, "gateways", "required", {"message": "Field is required but missing"}),
    (9, {"name": "x", "gateways": [{}]}, "gateways.0.server", "required", {}),
    (10, {"name": "", "gateways": []}, "name", "minLength",
     {"target": 1, "message": "String must be at least 1 characters", "value": ""}),
    (10, {"name": "n" * 129, "gateways": []}, "name", "maxLength",
     {"target": 128, "message": "String must not be more than 128 characters"}),
    (11, {"name": "x", "gateways": [], "weight_cost": 101}, "weight_cost", "maximum",
     {"target": 100, "message": "Value must be at most 100", "value": 101}),
    (11, {"name": "x", "gateways": [], "weight_cost": -1}, "weight_cost", "minimum",
     {"target": 0, "message": "Value must be at least 0", "value": -1}),
    (12, {"name": "x", "gateways": [], "grace_period": 0}, "grace_period", "minimum", {"target": 1}),
    (12, {"name": "x", "gateways": [], "grace_period": 21}, "grace_period", "maximum", {"target": 20}),
    (13, {"name": "x", "gateways": [], "weight_cost": "abc"}, "weight_cost", "type",
     {"target": "integer", "value": "abc", "message": "Value did not match type(s): integer"}),
    (15, {"name": "x", "gateways": [], "enabled": "yes"}, "enabled", "type", {"target": "boolean"}),
    (16, {"name": "x", "gateways": [], "enabled": None}, "enabled", "type", {"target": "boolean"}),
    (17, with_gateway(invite_format="bogus"), "gateways.0.invite_format", "enum",
     {"value": "bogus", "message": "Value not found in enumerated list of values"}),
    (18, with_gateway(codecs=["PCMU", "PCMU"]), "gateways.0.codecs", "uniqueItems",
     {"message": "List of items is not unique"}),
    (18, with_gateway(codecs=["XYZ"]), "gateways.0.codecs.0", "enum", {"value": "XYZ"}),
    (19, with_gateway(port=70000), "gateways.0.port", "maximum", {"target": 65535}),
    (19, {"name": "x", "gateways": [{"server": "s" * 129}]}, "gateways.0.server", "maxLength", {"target": 128}),
    (21, with_gateway(invite_parameters={"dynamic": [5]}), "gateways.0.invite_parameters.dynamic.0", "oneOf",
     {"message": "Value must match exactly one of the allowed forms", "value": 5}),
    (22, with_gateway(invite_parameters={"dynamic": [{"tag": "id"}]}), "gateways.0.invite_parameters.dynamic.0",
     "oneOf", {}),
    (22, with_gateway(invite_parameters={"foo": []}), "gateways.0.invite_parameters", "additionalProperties",
     {"message": "Strict checking of data is enabled; only include schema-defined properties"}),
    (23, with_gateway(custom_sip_headers={"X Bad": "v"}), "gateways.0.custom_sip_headers", "additionalProperties",
     {"value": {"X Bad": "v"}}),
    (24, {"name": "x", "gateways": [], "media": {"bypass_media": "maybe"}}, "media.bypass_media", "oneOf", {}),
    (25, {"name": "x", "gateways": [], "rules": ["("]}, "rules.0", "format",
     {"message": "Field is not in the correct format", "value": "("}),
]


@pytest.mark.parametrize(("scenario", "body", "path", "code", "details"), REFUSED,
                         ids=[f"{s}-{p}-{c}" for s, _, p, c, _ in REFUSED])
async def test_refused_bodies(system: System, tree: Tree, scenario: int, body: dict[str, Any], path: str,
                              code: str, details: dict[str, Any]) -> None:
    async with system.client(tree.a_token) as client:
        errors = errors_of(await client.put(local(tree.a), json={"data": body}))
    assert code in errors.get(path, {}), (scenario, errors)
    assert details.items() <= errors[path][code].items(), (scenario, errors[path][code])


async def test_every_error_is_reported_at_once(system: System, tree: Tree) -> None:  # 26
    async with system.client(tree.a_token) as client:
        errors = errors_of(await client.put(local(tree.a), json={"data": {"gateways": [{}], "weight_cost": 500}}))
    assert errors == {
        "name": {"required": {"message": "Field is required but missing"}},
        "gateways.0.server": {"required": {"message": "Field is required but missing"}},
        "weight_cost": {"maximum": {"message": "Value must be at most 100", "target": 100, "value": 500}},
    }


async def test_accepted_bodies(system: System, tree: Tree) -> None:
    path = local(tree.a)
    async with system.client(tree.a_token) as client:
        rounded = await create(client, path, {"name": "x", "gateways": [], "weight_cost": "50.6"})  # 14
        assert rounded["weight_cost"] == 51
        disabled = await create(client, path, {"name": "x", "gateways": [], "enabled": "false"})  # 15
        assert disabled["enabled"] is False
        invite = await create(client, path, with_gateway(invite_parameters=INVITE_PARAMETERS))  # 20
        assert invite["gateways"][0]["invite_parameters"] == INVITE_PARAMETERS
        headers = {"in": {"X-A": "1"}, "out": {}, "X-B": "2"}
        sip_headers = await create(client, path, with_gateway(custom_sip_headers=headers))  # 23
        assert sip_headers["gateways"][0]["custom_sip_headers"] == headers
        media = {"audio": {"codecs": ["PCMA"]}}
        sent_media = await create(client, path, {"name": "x", "gateways": [], "media": media})  # 24
        assert sent_media["media"] == media
        rules = await create(client, path, {"name": "x", "gateways": [], "rules": ["^\\+?1?(\\d{10})$"]})  # 25
        assert rules["rules"] == ["^\\+?1?(\\d{10})$"]


def _finite(value: Any) -> bool:
    """JSON has no NaN or infinity; those bodies are the gateway's business (400 `json.invalid`)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_finite(item) for item in value)
    if isinstance(value, dict):
        return all(_finite(item) for item in value.values())
    return True


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=bodies.filter(_finite), verb=st.sampled_from(["PUT", "POST", "PATCH"]))
def test_any_body_is_stored_or_names_its_fields(system: System, tree: Tree, prepared_resource: str, body: Any,
                                                verb: str) -> None:
    path = local(tree.a) if verb == "PUT" else f"{local(tree.a)}/{prepared_resource}"
    with httpx.Client(base_url=system.base_url, headers={"X-Auth-Token": tree.a_token}, timeout=30) as client:
        reply = client.request(verb, path, json={"data": body})
    if reply.status_code == 400:
        if verb == "PATCH" and isinstance(body, dict):
            return  # the error names fields of the merged doc, checked by the unit properties
        assert_names_fields(body, errors_of(reply))
    elif reply.status_code == 409:  # a client id some earlier example took
        assert verb == "PUT" and isinstance(body, dict) and "id" in body
    else:
        assert reply.status_code == (201 if verb == "PUT" else 200), reply.text


@pytest.fixture
def prepared_resource(system: System, tree: Tree) -> str:
    with httpx.Client(base_url=system.base_url, headers={"X-Auth-Token": tree.a_token}, timeout=30) as client:
        reply = client.put(local(tree.a), json={"data": {"name": "target", "gateways": [{"server": "10.0.0.5"}]}})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["data"]["id"])
