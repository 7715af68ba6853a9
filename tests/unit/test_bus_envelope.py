"""The envelope (bus.md §5, §6): default headers, encoding, validation reasons, error replies."""

from __future__ import annotations

import gzip
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.bus import envelope
from shared.bus.envelope import (
    APP_VERSION,
    coerce_booleans,
    decode,
    encode,
    error_body,
    headers,
    new_msg_id,
    node_name,
    order_headers,
    reply_headers,
    server_id,
    validate_headers,
    validate_message,
)
from shared.bus.errors import InvalidJson

DEFAULT_ORDER = ["App-Name", "App-Version", "Event-Category", "Event-Name", "Msg-ID", "Node"]


def test_headers_come_first_in_the_documented_order() -> None:
    body = headers("selection", "resource", "route_resp")
    assert list(body) == DEFAULT_ORDER
    assert body["App-Version"] == APP_VERSION == "0.1.0"
    assert re.fullmatch(r"[0-9a-f]{32}", body["Msg-ID"])
    assert body["Node"] == node_name("selection")
    assert headers("cli", "number", "lookup_req", msg_id="given")["Msg-ID"] == "given"


def test_names_of_the_process() -> None:
    assert re.fullmatch(rf"gateway@.+-{os.getpid()}", node_name("gateway"))
    sid = server_id("gateway")
    assert sid.startswith(node_name("gateway") + "-")
    assert re.fullmatch(r"[0-9a-f]{8}", sid.rsplit("-", 1)[1])
    assert server_id("gateway") == sid  # chosen once per process
    assert new_msg_id() != new_msg_id()


def test_reply_headers_echo_msg_id_and_copy_ids() -> None:
    request = {"Msg-ID": "m-1", "Server-ID": "gw@h-1-abcd0123", "Request-ID": "req-7", "Call-ID": "c1@pbx",
               "To-DID": "+1"}  # fmt: skip
    reply = reply_headers("selection", request, "resource", "route_resp")
    assert list(reply) == [*DEFAULT_ORDER, "Request-ID", "Call-ID"]
    assert reply["Msg-ID"] == "m-1" and reply["Request-ID"] == "req-7" and reply["Call-ID"] == "c1@pbx"
    assert "Server-ID" not in reply
    fresh = reply_headers("selection", {"Msg-ID": ""}, "resource", "route_resp")
    assert re.fullmatch(r"[0-9a-f]{32}", fresh["Msg-ID"])


def test_order_headers_moves_defaults_first() -> None:
    body = {"To-DID": "+1", "Request-ID": "r", "Server-ID": "s", **headers("cli", "resource", "route_req")}
    assert list(order_headers(body)) == [*DEFAULT_ORDER, "Server-ID", "Request-ID", "To-DID"]


def test_encode_is_compact_utf8_in_key_order() -> None:
    assert encode({"B": "é", "A": [1, None]}) == '{"B":"é","A":[1,null]}'.encode()


def test_decode_plain_and_gzip() -> None:
    raw = encode({"A": 1})
    assert decode(raw, None) == {"A": 1}
    assert decode(gzip.compress(raw), "gzip") == {"A": 1}


@pytest.mark.parametrize(
    ("raw", "content_encoding"),
    [
        (b"not json", None),
        (b"[1, 2]", None),
        (b'"text"', None),
        (b"\xff\xfe", None),
        (b"{}", "gzip"),
        (b"", None),
    ],
)
def test_decode_refuses_what_is_not_a_json_object(raw: bytes, content_encoding: str | None) -> None:
    with pytest.raises(InvalidJson):
        decode(raw, content_encoding)


def test_validate_headers() -> None:
    assert validate_headers(headers("cli", "resource", "route_req")) == {}
    body: dict[str, Any] = {"App-Name": "", "App-Version": 1, "Event-Category": "resource", "Msg-ID": None,
                            "Server-ID": 5}  # fmt: skip
    assert validate_headers(body) == {
        "App-Name": "required",
        "App-Version": "must be a string",
        "Event-Name": "required",
        "Msg-ID": "required",
        "Server-ID": "must be a string",
    }
    # Outside clients need not send Node; any non-empty Msg-ID is accepted.
    outside = {"App-Name": "kazoo", "App-Version": "4.3", "Event-Category": "resource",
               "Event-Name": "route_req", "Msg-ID": "abc", "Request-ID": None}  # fmt: skip
    assert validate_headers(outside) == {}


def test_error_body_has_kazoos_shape() -> None:
    request = {**headers("pbx", "resource", "route_req", msg_id="0c6f3b1d9a2e4f5b8c7d6e5f4a3b2c1d"),
               "Server-ID": "pbx@h-1-00000000", "Call-ID": "c1@pbx"}  # fmt: skip
    body = error_body("selection", request, "invalid_message", "invalid route_req", {"To-DID": "required"})
    assert list(body) == [*DEFAULT_ORDER, "Call-ID", "Error-Code", "Error-Message", "Errors"]
    assert body["Event-Category"] == "error" and body["Event-Name"] == "route_req"
    assert body["Msg-ID"] == "0c6f3b1d9a2e4f5b8c7d6e5f4a3b2c1d"
    assert body["Errors"] == {"To-DID": "required"}


def test_error_body_without_a_usable_request() -> None:
    body = error_body("selection", None, "invalid_json", "body is not JSON")
    assert body["Event-Name"] == "unknown" and "Errors" not in body
    assert error_body("selection", {"Event-Name": 7}, "invalid_message", "x")["Event-Name"] == "unknown"


# --- contract validation against schemas/amqp ---------------------------------------------------

SAMPLE_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "required": ["To-DID", "Number"],
    "properties": {
        "To-DID": {"type": "string"},
        "Number": {"type": "string", "minLength": 1, "maxLength": 64},
        "Resource-Type": {"type": "string", "enum": ["audio", "video", "originate"]},
        "Account-ID": {"type": "string", "pattern": "^[0-9a-f]{32}$",
                       "x-reason": "must be 32 lowercase hex characters"},
        "Flags": {"type": "array", "items": {"type": "string"}},
        "Bypass-E164": {"type": "boolean"},
        "Custom-SIP-Headers": {"type": "object", "properties": {"Secure": {"type": "boolean"}}},
        "Weight": {"type": "integer", "minimum": 1, "maximum": 100},
        "Endpoints": {"type": "array",
                      "items": {"type": "object", "properties": {"Global": {"type": "boolean"}}}},
    },
}  # fmt: skip
VALID = {"To-DID": "+14158867900", "Number": "+14158867900"}


@pytest.fixture
def sample_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    (tmp_path / "sample.json").write_text(json.dumps(SAMPLE_SCHEMA))
    monkeypatch.setattr(envelope, "SCHEMA_DIR", tmp_path)
    envelope.load_schema.cache_clear()
    envelope._validator.cache_clear()
    yield "sample"
    envelope.load_schema.cache_clear()
    envelope._validator.cache_clear()


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({}, {}),
        ({"Unknown-Key": object(), "Application-Name": "kazoo"}, {}),
        ({"To-DID": 5}, {"To-DID": "must be a string"}),
        ({"Number": ""}, {"Number": "must be 1 to 64 characters"}),
        ({"Number": "1" * 65}, {"Number": "must be 1 to 64 characters"}),
        ({"Resource-Type": "fax"}, {"Resource-Type": "must be one of: audio, video, originate"}),
        ({"Account-ID": "4E8A"}, {"Account-ID": "must be 32 lowercase hex characters"}),
        ({"Flags": "a"}, {"Flags": "must be an array"}),
        ({"Flags": ["a", 1]}, {"Flags": "must be an array of strings"}),
        ({"Bypass-E164": "yes"}, {"Bypass-E164": "must be a boolean"}),
        ({"Custom-SIP-Headers": []}, {"Custom-SIP-Headers": "must be an object"}),
        ({"Custom-SIP-Headers": {"Secure": 1}}, {"Custom-SIP-Headers.Secure": "must be a boolean"}),
        ({"Weight": 0}, {"Weight": "must be 1 to 100"}),
        ({"Weight": 1.5}, {"Weight": "must be an integer"}),
        ({"Endpoints": [{"Global": "nope"}]}, {"Endpoints.0.Global": "must be a boolean"}),
    ],
)
def test_validation_reasons(sample_schema: str, fields: dict[str, Any], errors: dict[str, str]) -> None:
    assert validate_message({**VALID, **fields}, sample_schema) == errors


def test_every_missing_key_is_reported(sample_schema: str) -> None:
    assert validate_message({}, sample_schema) == {"To-DID": "required", "Number": "required"}


def test_boolean_strings_are_accepted_in_any_case(sample_schema: str) -> None:
    body = {**VALID, "Bypass-E164": "TRUE", "Custom-SIP-Headers": {"Secure": "false"},
            "Endpoints": [{"Global": "True"}], "To-DID": "true"}  # fmt: skip
    assert validate_message(body, sample_schema) == {}
    coerced = coerce_booleans(body, sample_schema)
    assert coerced["Bypass-E164"] is True
    assert coerced["Custom-SIP-Headers"] == {"Secure": False}
    assert coerced["Endpoints"] == [{"Global": True}]
    assert coerced["To-DID"] == "true"  # a string field keeps its string
    assert body["Bypass-E164"] == "TRUE"  # the input is not modified


API_REQUEST = {
    **headers("gateway", "api", "resources.patch"),
    "Server-ID": "gateway@vm-4242-8ae73e72",
    "Request-ID": "req-77",
    "Method": "PATCH",
    "Path": "/v2/accounts/4e8ab1c2d3e4f5a6b7c8d9e0f1a2b3c4/resources/carrier-a",
    "Path-Params": {"account_id": "4e8ab1c2d3e4f5a6b7c8d9e0f1a2b3c4", "resource_id": "carrier-a"},
    "Query": {},
    "Body": {"data": {"weight_cost": 15}},
    "Auth-Account-ID": "4e8ab1c2d3e4f5a6b7c8d9e0f1a2b3c4",
    "Auth-Superduper-Admin": False,
}


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({}, {}),
        ({"Query": {"tag": ["a", "b"], "q": "x"}, "Body": None, "Auth-Account-ID": None}, {}),
        ({"Auth-Superduper-Admin": "false"}, {}),
        ({"Method": "TRACE"}, {"Method": "must be one of: GET, PUT, POST, PATCH, DELETE, HEAD"}),
        ({"Query": {"tag": ["a", 2]}}, {"Query.tag": "must be an array of strings"}),
        ({"Query": {"tag": 2}}, {"Query.tag": "must be a string or an array of strings"}),
        ({"Auth-Account-ID": "master"}, {"Auth-Account-ID": "must be 32 lowercase hex characters or null"}),
        ({"Path-Params": {"account_id": 1}}, {"Path-Params.account_id": "must be a string"}),
    ],
)
def test_api_request_schema(fields: dict[str, Any], errors: dict[str, str]) -> None:
    assert validate_message({**API_REQUEST, **fields}, "api") == errors


def test_api_request_requires_every_field() -> None:
    required = ["Method", "Path", "Path-Params", "Query", "Body", "Auth-Account-ID", "Auth-Superduper-Admin"]
    bare = {key: value for key, value in API_REQUEST.items() if key not in required}
    assert validate_message(bare, "api") == dict.fromkeys(required, "required")


@pytest.mark.parametrize(
    ("schema", "body", "errors"),
    [
        ("api_resp", {"Status-Code": 200, "Body": {"data": {}}, "Headers": {"Location": "/v2/x"}}, {}),
        ("api_resp", {"Status-Code": "200", "Body": {}}, {"Status-Code": "must be an integer"}),
        ("doc_change", {"ID": "a", "Database": "offnet", "Type": "resource", "Rev": "1-a",
                        "Is-Soft-Deleted": "false"}, {}),
        ("doc_change", {"ID": "a", "Database": "offnet", "Rev": "1-a"}, {"Is-Soft-Deleted": "required"}),
        ("cache_flush", {"Cache": "selection"}, {}),
        ("cache_flush", {"Cache": "dns"}, {"Cache": "must be one of: selection, numbers, all"}),
        ("cache_flush_resp", {"Entries-Dropped": -1}, {"Entries-Dropped": "must be at least 0"}),
    ],
)  # fmt: skip
def test_other_schemas(schema: str, body: dict[str, Any], errors: dict[str, str]) -> None:
    assert validate_message(body, schema) == errors
