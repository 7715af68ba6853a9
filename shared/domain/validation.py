"""Schema validation the way Crossbar does it, for any document type (resources.md §3.4, §3.6).

A schema is a draft-04 JSON file `schemas/<name>.json`. `validate` fills defaults, applies Kazoo's
lenient coercion, runs the schema check collecting every failure, and renders the failures as the
400 "validation error" map: dotted path -> {code: details}, with Kazoo's wording. Document-specific
checks (regexes, ids, peers, ...) belong to the document's own module; they add entries with
`add_error` / `describe` so every error looks the same.
"""

from __future__ import annotations

import copy
import json
import math
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from fractions import Fraction
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"

# A value's location in a document: object keys and array indexes, outermost first.
JsonPath = Sequence[str | int]
ErrorDetails = dict[str, Any]
# dotted path -> code -> details, e.g. {"gateways.0.server": {"required": {"message": "..."}}}
ErrorMap = dict[str, dict[str, ErrorDetails]]

# Deeper input is refused before any processing: it is never a real document, and Python's recursion
# limit would otherwise turn it into an exception somewhere (copying, comparing, serialising).
MAX_DEPTH = 64

# Kazoo's wording per failing keyword; `{target}` is the keyword's value in the schema.
_MESSAGES: dict[str, str] = {
    "required": "Field is required but missing",
    "type": "Value did not match type(s): {target}",
    "minLength": "String must be at least {target} characters",
    "maxLength": "String must not be more than {target} characters",
    "minimum": "Value must be at least {target}",
    "maximum": "Value must be at most {target}",
    "multipleOf": "Value not divisible by {target}",
    "enum": "Value not found in enumerated list of values",
    "minItems": "The list must have at least {target} items",
    "maxItems": "The list is more than {target} items",
    "uniqueItems": "List of items is not unique",
    "minProperties": "The object must have at least {target} keys",
    "maxProperties": "The object must have at most {target} keys",
    "pattern": "Failed to match pattern '{target}'",
    "additionalProperties": "Strict checking of data is enabled; only include schema-defined properties",
    "additionalItems": "Strict checking of data is enabled; only include schema-defined items",
    "dependencies": "Dependencies were not validated",
    "oneOf": "Value must match exactly one of the allowed forms",
    "anyOf": "Value must match at least one of the allowed forms",
    "not": "Value must not match the excluded form",
    "format": "Field is not in the correct format",
    "maxDepth": "Value is nested more than {target} levels deep",
}
# Codes whose details carry the schema's value as `target`.
_TARGETED = frozenset({"type", "minLength", "maxLength", "minimum", "maximum", "multipleOf", "enum",
                       "minItems", "maxItems", "minProperties", "maxProperties", "pattern"})
# Keywords whose values are data, not schemas: `$ref` is not resolved inside them.
_DATA_KEYWORDS = frozenset({"enum", "default", "examples", "const"})

_INTEGER_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


class SchemaError(Exception):
    """A schema file is missing, malformed or refers to something that does not exist."""


# ---------------------------------------------------------------------------------------------------
# Error map helpers


def dotted(path: JsonPath) -> str:
    """The error-map key of a path: keys joined by `.` (a `.` inside a key is `%2E`); the root is `data`."""
    if not path:
        return "data"
    return ".".join(str(part) if isinstance(part, int) else part.replace(".", "%2E") for part in path)


def describe(code: str, value: Any = None, target: Any = None) -> ErrorDetails:
    """The details of a failure of the keyword `code`, as Kazoo renders them."""
    details: ErrorDetails = {"message": _MESSAGES[code].format(target=target)}
    if code in _TARGETED:
        details["target"] = target
    if code != "required":
        details["value"] = value
    return details


def add_error(errors: ErrorMap, path: JsonPath, code: str, details: ErrorDetails) -> None:
    errors.setdefault(dotted(path), {})[code] = details


def merge_errors(*maps: ErrorMap) -> ErrorMap:
    """One map holding every entry of `maps`; codes on a shared path are combined."""
    merged: ErrorMap = {}
    for errors in maps:
        for key, codes in errors.items():
            merged.setdefault(key, {}).update(codes)
    return merged


# ---------------------------------------------------------------------------------------------------
# Schemas


def _pointer(document: Mapping[str, Any], fragment: str, ref: str) -> Any:
    node: Any = document
    for token in [t for t in fragment.split("/") if t]:
        token = token.replace("~1", "/").replace("~0", "~")
        try:
            node = node[int(token)] if isinstance(node, list) else node[token]
        except (KeyError, IndexError, ValueError, TypeError) as exc:
            raise SchemaError(f"unresolvable $ref {ref!r}") from exc
    return node


def resolve_refs(
    schema: Mapping[str, Any], load: Callable[[str], Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """`schema` with every `$ref` replaced by a copy of its target, so walkers need no resolver.

    `#/...` points into the same document; `other.json#/...` into `load("other")`. Siblings of `$ref`
    are ignored (draft-04). Recursive references cannot be inlined and raise `SchemaError`.
    """

    documents: dict[str, Mapping[str, Any]] = {"": schema}  # "" is `schema` itself

    def document(name: str, ref: str) -> Mapping[str, Any]:
        if name not in documents:
            if load is None:
                raise SchemaError(f"no loader for $ref {ref!r}")
            documents[name] = load(name)
        return documents[name]

    def inline(node: Any, doc_name: str, active: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [inline(item, doc_name, active) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            where, _, fragment = ref.partition("#")
            target_name = where.removesuffix(".json") if where else doc_name
            key = f"{target_name}#{fragment}"
            if key in active:
                raise SchemaError(f"recursive $ref {ref!r}")
            target = _pointer(document(target_name, ref), fragment, ref)
            return inline(target, target_name, (*active, key))
        return {k: v if k in _DATA_KEYWORDS else inline(v, doc_name, active) for k, v in node.items()}

    resolved: dict[str, Any] = inline(dict(schema), "", ())
    return resolved


def _read_schema_file(name: str) -> dict[str, Any]:
    path = SCHEMAS_DIR / f"{name}.json"
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaError(f"cannot read schema {path}: {exc}") from exc
    return loaded


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema `schemas/<name>.json` with its `$ref`s inlined and checked against draft-04.

    Cached and shared: callers must not mutate it.
    """
    schema = resolve_refs(_read_schema_file(name), _read_schema_file)
    Draft4Validator.check_schema(schema)
    return schema


def compiles_as_regex(value: object) -> bool:
    """True unless `value` is a string that Python's `re` refuses (or chokes on)."""
    if not isinstance(value, str):
        return True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. FutureWarning "possible nested set": still compiles
            re.compile(value)
    except (re.error, RecursionError, OverflowError, ValueError):
        return False
    return True


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    checker.checkers = dict(Draft4Validator.FORMAT_CHECKER.checkers)
    checker.checks("regex")(compiles_as_regex)  # jsonschema's own lets RecursionError escape
    return checker


_FORMAT_CHECKER = _format_checker()


@cache
def _validator(name: str) -> Draft4Validator:
    return Draft4Validator(load_schema(name), format_checker=_FORMAT_CHECKER)


# ---------------------------------------------------------------------------------------------------
# Input processing: defaults and lenient coercion (resources.md §3.4 steps 2-3)


def _deeper_than(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth >= limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False


def _round_half_away(value: Fraction) -> int:
    magnitude = math.floor(abs(value) + Fraction(1, 2))
    return magnitude if value >= 0 else -magnitude


def _coerced(value: Any, declared: Any) -> Any:
    """Kazoo's non-strict mode: `"50"` -> 50, `50.6` -> 51, `"true"` -> True; anything else unchanged."""
    if value is None or isinstance(value, bool):
        return value
    try:
        if declared == "integer":
            if isinstance(value, float) and math.isfinite(value):
                return _round_half_away(Fraction(value))
            if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
                return _round_half_away(Fraction(value))
        elif declared == "number" and isinstance(value, str) and _INTEGER_TEXT.fullmatch(value):
            number = Fraction(value)
            if number.denominator == 1:
                return int(number)
            if math.isfinite(as_float := float(number)):
                return as_float
        elif declared == "boolean" and value in ("true", "false"):
            return value == "true"
    except (ValueError, OverflowError):  # more digits than Python converts: left to fail `type`
        pass
    return value


def _schemas_for_key(schema: Mapping[str, Any], key: str) -> Iterator[Mapping[str, Any]]:
    """The subschemas that apply to the property `key` of an object validated by `schema`."""
    properties = schema.get("properties") or {}
    matched = key in properties
    if matched:
        yield properties[key]
    for pattern, subschema in (schema.get("patternProperties") or {}).items():
        if re.search(pattern, key):
            matched = True
            yield subschema
    additional = schema.get("additionalProperties")
    if not matched and isinstance(additional, dict):
        yield additional


def _schemas_for_index(schema: Mapping[str, Any], index: int) -> Iterator[Mapping[str, Any]]:
    items = schema.get("items")
    if isinstance(items, dict):
        yield items
    elif isinstance(items, list):
        if index < len(items):
            yield items[index]
        elif isinstance(schema.get("additionalItems"), dict):
            yield schema["additionalItems"]


def _prepared(value: Any, schema: Mapping[str, Any], fill_defaults: bool) -> Any:
    """`value` (a private copy, changed in place) with defaults filled and coercion applied.

    Only locations the schema describes are visited; `oneOf` / `anyOf` / `not` branches never are, as
    it is unknown which branch the value is meant for.
    """
    declared = schema.get("type")
    if isinstance(declared, str):
        value = _coerced(value, declared)
    for part in schema.get("allOf") or ():
        value = _prepared(value, part, fill_defaults)
    if isinstance(value, dict):
        sent = list(value)  # inserted defaults are used as they are: nothing is filled inside them
        if fill_defaults:
            for key, subschema in (schema.get("properties") or {}).items():
                if key not in value and isinstance(subschema, dict) and "default" in subschema:
                    value[key] = copy.deepcopy(subschema["default"])
        for key in sent:
            for subschema in _schemas_for_key(schema, key):
                value[key] = _prepared(value[key], subschema, fill_defaults)
    elif isinstance(value, list):
        for index in range(len(value)):
            for subschema in _schemas_for_index(schema, index):
                value[index] = _prepared(value[index], subschema, fill_defaults)
    return value


# ---------------------------------------------------------------------------------------------------
# Rendering jsonschema's failures


def _type_names(declared: Any) -> str:
    return ", ".join(declared) if isinstance(declared, list) else str(declared)


def _entries(error: ValidationError) -> Iterator[tuple[list[str | int], str, ErrorDetails]]:
    path = list(error.absolute_path)
    code = str(error.validator)
    if code == "required":
        present = error.instance if isinstance(error.instance, dict) else {}
        for name in error.validator_value:
            if name not in present:
                yield [*path, name], code, describe(code)
    elif code == "type":
        yield path, code, describe(code, error.instance, _type_names(error.validator_value))
    elif code in _MESSAGES:
        target = error.validator_value if code in _TARGETED else None
        yield path, code, describe(code, error.instance, target)
    else:  # a keyword without a Kazoo rendering still gets a clear entry
        yield path, code, {"message": "failed to validate", "value": error.instance}


def _run(doc: Any, validator: Draft4Validator, fill_defaults: bool) -> tuple[Any, ErrorMap]:
    if _deeper_than(doc, MAX_DEPTH):
        too_deep = {"message": _MESSAGES["maxDepth"].format(target=MAX_DEPTH), "target": MAX_DEPTH}
        return doc, {dotted([]): {"maxDepth": too_deep}}
    prepared = _prepared(copy.deepcopy(doc), validator.schema, fill_defaults)
    errors: ErrorMap = {}
    for error in validator.iter_errors(prepared):
        for path, code, details in _entries(error):
            add_error(errors, path, code, details)
    return prepared, errors


def validate(doc: Any, schema_name: str, *, fill_defaults: bool = True) -> tuple[Any, ErrorMap]:
    """(`doc` with defaults filled and coerced, every failure) against `schemas/<schema_name>.json`.

    `doc` is never changed. Any JSON value is accepted: a non-object fails the schema's `type` under
    the key `data`. An empty map means valid.
    """
    return _run(doc, _validator(schema_name), fill_defaults)


def validate_against(
    doc: Any, schema: Mapping[str, Any], *, fill_defaults: bool = True
) -> tuple[Any, ErrorMap]:
    """`validate` with a schema given as data (its `$ref`s must already be resolved)."""
    return _run(doc, Draft4Validator(schema, format_checker=_FORMAT_CHECKER), fill_defaults)
