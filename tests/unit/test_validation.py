"""Generic schema validation: defaults, lenient coercion, the error map (resources.md §3.4, §3.6)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from jsonschema import Draft4Validator

from shared.domain import validation
from shared.domain.validation import (
    MAX_DEPTH,
    SchemaError,
    add_error,
    compiles_as_regex,
    describe,
    dotted,
    load_schema,
    merge_errors,
    resolve_refs,
    validate,
    validate_against,
)

# ---------------------------------------------------------------------------------------------------
# Paths and details


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ([], "data"),
        (["name"], "name"),
        (["gateways", 0, "server"], "gateways.0.server"),
        (["numbers", 0], "numbers.0"),
        (["formatters", "a.b", "regex"], "formatters.a%2Eb.regex"),
    ],
)
def test_dotted_path(path: list[str | int], key: str) -> None:
    assert dotted(path) == key


@pytest.mark.parametrize(
    ("code", "value", "target", "details"),
    [
        ("required", None, None, {"message": "Field is required but missing"}),
        (
            "type",
            "abc",
            "integer",
            {"message": "Value did not match type(s): integer", "target": "integer", "value": "abc"},
        ),
        ("minLength", "", 1, {"message": "String must be at least 1 characters", "target": 1, "value": ""}),
        (
            "maxLength",
            "x" * 129,
            128,
            {"message": "String must not be more than 128 characters", "target": 128, "value": "x" * 129},
        ),
        ("minimum", -1, 0, {"message": "Value must be at least 0", "target": 0, "value": -1}),
        ("maximum", 500, 100, {"message": "Value must be at most 100", "target": 100, "value": 500}),
        (
            "enum",
            "bogus",
            ["a", "b"],
            {
                "message": "Value not found in enumerated list of values",
                "target": ["a", "b"],
                "value": "bogus",
            },
        ),
        ("minItems", [], 1, {"message": "The list must have at least 1 items", "target": 1, "value": []}),
        ("uniqueItems", [1, 1], None, {"message": "List of items is not unique", "value": [1, 1]}),
        (
            "pattern",
            "a/b",
            "^x$",
            {"message": "Failed to match pattern '^x$'", "target": "^x$", "value": "a/b"},
        ),
        (
            "additionalProperties",
            {"x": 1},
            None,
            {
                "message": "Strict checking of data is enabled; only include schema-defined properties",
                "value": {"x": 1},
            },
        ),
        ("oneOf", 5, None, {"message": "Value must match exactly one of the allowed forms", "value": 5}),
        ("anyOf", 5, None, {"message": "Value must match at least one of the allowed forms", "value": 5}),
        ("format", "(", None, {"message": "Field is not in the correct format", "value": "("}),
    ],
)
def test_describe_uses_kazoo_wording(code: str, value: Any, target: Any, details: dict[str, Any]) -> None:
    assert describe(code, value, target) == details


def test_add_and_merge_errors_share_paths() -> None:
    first: validation.ErrorMap = {}
    add_error(first, ["a", 0], "type", {"message": "t"})
    add_error(first, ["a", 0], "enum", {"message": "e"})
    second: validation.ErrorMap = {"a.0": {"format": {"message": "f"}}, "b": {"required": {"message": "r"}}}
    assert merge_errors(first, second) == {
        "a.0": {"type": {"message": "t"}, "enum": {"message": "e"}, "format": {"message": "f"}},
        "b": {"required": {"message": "r"}},
    }
    assert first == {"a.0": {"type": {"message": "t"}, "enum": {"message": "e"}}}  # inputs untouched


# ---------------------------------------------------------------------------------------------------
# Schema check: every failure, keyed by path

OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "items"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 4},
        "count": {"type": "integer", "minimum": 0, "maximum": 10},
        "kind": {"type": "string", "enum": ["a", "b"]},
        "tags": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "maxItems": 2,
            "uniqueItems": True,
        },
        "code": {"type": "string", "pattern": "^[0-9]+$"},
        "items": {
            "type": "array",
            "items": {"type": "object", "required": ["server"], "properties": {"server": {"type": "string"}}},
        },
        "strict": {"type": "object", "properties": {"a": {}}, "additionalProperties": False},
        "either": {"oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["auto"]}]},
        "any": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "typed": {"type": ["string", "null"]},
        "regex": {"type": "string", "format": "regex"},
    },
}


def errors_of(doc: Any, schema: dict[str, Any] = OBJECT_SCHEMA) -> validation.ErrorMap:
    return validate_against(doc, schema)[1]


def test_valid_document_has_no_errors() -> None:
    doc = {"name": "ab", "items": [{"server": "s"}], "either": True, "any": "x", "typed": None}
    assert errors_of(doc) == {}


def test_every_failure_is_reported_together() -> None:
    doc = {
        "items": [{"server": "s"}, {}],
        "name": "",
        "count": 11,
        "kind": "c",
        "tags": ["x", "x", "y"],
        "code": "12a",
        "strict": {"a": 1, "b": 2},
    }
    errors = errors_of(doc)
    assert errors == {
        "name": {"minLength": describe("minLength", "", 1)},
        "count": {"maximum": describe("maximum", 11, 10)},
        "kind": {"enum": describe("enum", "c", ["a", "b"])},
        "tags": {
            "uniqueItems": describe("uniqueItems", ["x", "x", "y"]),
            "maxItems": describe("maxItems", ["x", "x", "y"], 2),
        },
        "code": {"pattern": describe("pattern", "12a", "^[0-9]+$")},
        "items.1.server": {"required": {"message": "Field is required but missing"}},
        "strict": {"additionalProperties": describe("additionalProperties", {"a": 1, "b": 2})},
    }
    assert errors["tags"]["maxItems"]["message"] == "The list is more than 2 items"


def test_every_missing_required_property_gets_its_own_key() -> None:
    assert errors_of({}) == {
        "name": {"required": {"message": "Field is required but missing"}},
        "items": {"required": {"message": "Field is required but missing"}},
    }


def test_one_of_and_any_of_failures_are_single_clear_entries() -> None:
    errors = errors_of({"name": "a", "items": [], "either": "maybe", "any": [1]})
    assert errors == {
        "either": {"oneOf": describe("oneOf", "maybe")},
        "any": {"anyOf": describe("anyOf", [1])},
    }


def test_type_lists_are_named_together() -> None:
    errors = errors_of({"name": "a", "items": [], "typed": 5})
    assert errors["typed"]["type"] == {
        "message": "Value did not match type(s): string, null",
        "target": "string, null",
        "value": 5,
    }


@pytest.mark.parametrize("doc", [[1], "text", 5, None, True])
def test_a_non_object_body_fails_under_data(doc: Any) -> None:
    assert errors_of(doc) == {"data": {"type": describe("type", doc, "object")}}


def test_keys_with_dots_are_escaped() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "integer"}}
    assert errors_of({"a.b": "x"}, schema) == {"a%2Eb": {"type": describe("type", "x", "integer")}}


def test_format_regex_is_checked_without_exceptions() -> None:
    assert errors_of({"name": "a", "items": [], "regex": "(["})["regex"] == {"format": describe("format", "([")}
    assert "regex" in errors_of({"name": "a", "items": [], "regex": "(" * 5000 + ")" * 5000})
    assert errors_of({"name": "a", "items": [], "regex": r"^\+?1?(\d{10})$"}) == {}


@pytest.mark.parametrize(
    ("pattern", "ok"),
    [
        (r"^\+1(\d{10})$", True),
        ("(", False),
        ("[z-a]", False),
        ("a{99999999999}", False),
        ("(" * 3000 + ")" * 3000, False),
        ("[[:digit:]]", True),
        (5, True),
    ],
)
def test_compiles_as_regex(pattern: Any, ok: bool) -> None:
    assert compiles_as_regex(pattern) is ok


def test_unknown_keywords_still_render_an_entry() -> None:
    errors = errors_of(5, {"not": {"type": "integer"}})
    assert errors == {"data": {"not": describe("not", 5)}}
    errors = errors_of(7, {"multipleOf": 2})
    assert errors == {"data": {"multipleOf": describe("multipleOf", 7, 2)}}


def test_too_deep_input_is_refused_without_processing() -> None:
    deep: Any = "leaf"
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    _, errors = validate_against({"name": "a", "items": [], "extra": deep}, OBJECT_SCHEMA)
    assert list(errors) == ["data"]
    assert errors["data"]["maxDepth"]["target"] == MAX_DEPTH
    very_deep: Any = {}
    for _ in range(5000):
        very_deep = {"x": very_deep}
    assert "data" in validate_against(very_deep, OBJECT_SCHEMA)[1]


# ---------------------------------------------------------------------------------------------------
# Defaults (§3.4 step 2)

DEFAULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "flags": {"type": "array", "default": []},
        "enabled": {"type": "boolean", "default": True},
        "block": {
            "type": "object",
            "default": {"inner": {}},
            "properties": {"inner": {"type": "object", "default": {"deep": 1}}},
        },
        "gateways": {
            "type": "array",
            "items": {"type": "object", "properties": {"port": {"type": "integer", "default": 5060}}},
        },
        "classes": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"enabled": {"type": "boolean", "default": True}},
            },
        },
        "wrapped": {"allOf": [{"type": "object", "properties": {"x": {"type": "integer", "default": 3}}}]},
    },
}


def test_defaults_fill_absent_properties_at_every_present_object() -> None:
    doc, errors = validate_against(
        {"gateways": [{}, {"port": 1}], "classes": {"a": {}, "b": {"enabled": False}}, "wrapped": {}},
        DEFAULTS_SCHEMA,
    )
    assert errors == {}
    assert doc == {
        "flags": [],
        "enabled": True,
        "block": {"inner": {}},  # an inserted default is used as it is: nothing filled inside it
        "gateways": [{"port": 5060}, {"port": 1}],
        "classes": {"a": {"enabled": True}, "b": {"enabled": False}},
        "wrapped": {"x": 3},
    }


def test_defaults_fill_inside_a_present_object() -> None:
    doc, _ = validate_against({"block": {}}, DEFAULTS_SCHEMA)
    assert doc["block"] == {"inner": {"deep": 1}}


def test_null_is_present_and_gets_no_default() -> None:
    doc, errors = validate_against({"enabled": None}, DEFAULTS_SCHEMA)
    assert doc["enabled"] is None
    assert errors == {"enabled": {"type": describe("type", None, "boolean")}}


def test_no_array_item_is_invented_and_defaults_are_fresh_copies() -> None:
    first, _ = validate_against({}, DEFAULTS_SCHEMA)
    assert "gateways" not in first
    first["flags"].append("mutated")
    second, _ = validate_against({}, DEFAULTS_SCHEMA)
    assert second["flags"] == []
    assert DEFAULTS_SCHEMA["properties"]["flags"]["default"] == []


def test_fill_defaults_can_be_turned_off() -> None:
    doc, _ = validate_against({"gateways": [{}]}, DEFAULTS_SCHEMA, fill_defaults=False)
    assert doc == {"gateways": [{}]}


def test_input_is_never_changed() -> None:
    original = {"gateways": [{}], "count": "5", "block": {}}
    sent = copy.deepcopy(original)
    validate_against(sent, DEFAULTS_SCHEMA)
    validate_against(sent, OBJECT_SCHEMA)
    assert sent == original


# ---------------------------------------------------------------------------------------------------
# Lenient coercion (§3.4 step 3)

COERCION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "int": {"type": "integer"},
        "num": {"type": "number"},
        "bool": {"type": "boolean"},
        "ints": {"type": "array", "items": {"type": "integer"}},
        "either": {"oneOf": [{"type": "integer"}, {"type": "boolean"}]},
        "multi": {"type": ["integer", "string"]},
    },
}


@pytest.mark.parametrize(
    ("field", "sent", "stored"),
    [
        ("int", "50", 50),
        ("int", "50.6", 51),
        ("int", "50.5", 51),
        ("int", "50.4999", 50),
        ("int", "-2.5", -3),
        ("int", 6.5, 7),
        ("int", -6.5, -7),
        ("int", 2.4999999999999996, 2),
        ("int", 5.0, 5),
        ("int", "007", 7),
        ("num", "1.5", 1.5),
        ("num", "-3", -3),
        ("bool", "true", True),
        ("bool", "false", False),
    ],
)
def test_lenient_coercion(field: str, sent: Any, stored: Any) -> None:
    doc, errors = validate_against({field: sent}, COERCION_SCHEMA)
    assert errors == {}
    assert doc[field] == stored
    assert type(doc[field]) is type(stored)


@pytest.mark.parametrize(
    ("field", "sent"),
    [
        ("int", "abc"),
        ("int", "5e3"),
        ("int", " 5"),
        ("int", "5\n"),
        ("int", "٥٠"),
        ("int", "+5"),
        ("int", None),
        ("int", True),
        ("int", [5]),
        ("bool", "yes"),
        ("bool", "True"),
        ("bool", 1),
        ("bool", None),
        ("num", "1e5"),
        ("int", "9" * 5000),
        ("num", "9" * 5000 + ".5"),
    ],
)
def test_values_that_are_not_coerced_fail_type(field: str, sent: Any) -> None:
    doc, errors = validate_against({field: sent}, COERCION_SCHEMA)
    assert doc[field] == sent
    declared = COERCION_SCHEMA["properties"][field]["type"]
    assert errors == {field: {"type": describe("type", sent, declared)}}


def test_coercion_reaches_array_items() -> None:
    doc, errors = validate_against({"ints": ["1", 2.5, "x"]}, COERCION_SCHEMA)
    assert doc["ints"] == [1, 3, "x"]
    assert list(errors) == ["ints.2"]


def test_no_coercion_inside_one_of_or_for_type_lists() -> None:
    doc, errors = validate_against({"either": "5", "multi": 5.5}, COERCION_SCHEMA)
    assert doc == {"either": "5", "multi": 5.5}
    assert set(errors) == {"either", "multi"}


# ---------------------------------------------------------------------------------------------------
# A job body (resources.md §7.1) validates with the same machinery

JOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["numbers", "resource_id"],
    "properties": {
        "numbers": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "resource_id": {"type": "string"},
        "name": {"type": "string", "minLength": 1, "maxLength": 128},
    },
}


@pytest.mark.parametrize(
    ("body", "key", "code"),
    [
        ({"resource_id": "r"}, "numbers", "required"),
        ({"numbers": ["+14155550100"]}, "resource_id", "required"),
        ({"numbers": [], "resource_id": "r"}, "numbers", "minItems"),
        ({"numbers": [5], "resource_id": "r"}, "numbers.0", "type"),
        ({"numbers": ["+1"], "resource_id": 5}, "resource_id", "type"),
    ],
)
def test_job_body_errors(body: dict[str, Any], key: str, code: str) -> None:
    assert code in errors_of(body, JOB_SCHEMA)[key]


# ---------------------------------------------------------------------------------------------------
# Loading schemas


def test_load_schema_inlines_refs_and_is_cached() -> None:
    schema = load_schema("resources")
    assert "$ref" not in json.dumps(schema)
    Draft4Validator.check_schema(schema)
    assert load_schema("resources") is schema
    assert schema["properties"]["gateways"]["items"]["required"] == ["server"]


def test_load_schema_of_a_missing_file() -> None:
    with pytest.raises(SchemaError):
        load_schema("no_such_schema")


def test_validate_uses_the_named_schema() -> None:
    doc, errors = validate({"name": "x", "gateways": []}, "resources")
    assert errors == {}
    assert doc["weight_cost"] == 50


def test_resolve_refs_local_and_across_files() -> None:
    other = {"definitions": {"port": {"type": "integer", "default": 1}}}
    schema = {
        "properties": {
            "a": {"$ref": "#/definitions/a"},
            "b": {"$ref": "other.json#/definitions/port"},
            "c": {"enum": [{"$ref": "#/not/resolved"}]},
            "d": {"$ref": "#/definitions/with~1slash"},
        },
        "definitions": {
            "a": {"$ref": "#/definitions/b"},
            "b": {"type": "string"},
            "with/slash": {"type": "null"},
        },
    }
    resolved = resolve_refs(schema, lambda name: {"other": other}[name])
    assert resolved["properties"] == {
        "a": {"type": "string"},
        "b": {"type": "integer", "default": 1},
        "c": {"enum": [{"$ref": "#/not/resolved"}]},
        "d": {"type": "null"},
    }


def test_resolve_refs_detects_recursion_across_files() -> None:
    files = {
        "a": {"definitions": {"x": {"$ref": "b.json#/definitions/y"}}},
        "b": {"definitions": {"y": {"$ref": "a.json#/definitions/x"}}},
    }
    with pytest.raises(SchemaError):
        resolve_refs({"$ref": "a.json#/definitions/x"}, lambda name: copy.deepcopy(files[name]))


@pytest.mark.parametrize(
    "schema",
    [
        {"properties": {"a": {"$ref": "#/definitions/missing"}}},
        {
            "definitions": {"a": {"items": {"$ref": "#/definitions/a"}}},
            "properties": {"x": {"$ref": "#/definitions/a"}},
        },
        {"properties": {"a": {"$ref": "other.json#"}}},
    ],
)
def test_resolve_refs_refuses_what_it_cannot_inline(schema: dict[str, Any]) -> None:
    with pytest.raises(SchemaError):
        resolve_refs(schema)
